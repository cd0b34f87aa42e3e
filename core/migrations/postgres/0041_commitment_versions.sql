-- A commitment set again replaces it from the start of the period it is set in, and no earlier:
-- each setting is kept as a version starting there, and the one before ends where it starts, so
-- a period that has ended but is not closed yet is billed with the commitment that covered it.
ALTER TABLE subscription_commitments DROP CONSTRAINT IF EXISTS subscription_commitments_pkey;
CREATE UNIQUE INDEX IF NOT EXISTS subscription_commitments_version_idx ON subscription_commitments (tenant_id, subscription_id, starts_at);
