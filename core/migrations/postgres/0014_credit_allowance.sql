-- Credit allowances: a plan may grant its subscriptions an amount of credit every period
-- (`credit_allowance`, in the plan's currency). Each period's allowance is a grant of its own,
-- tied to the subscription and the period, used only by that period's invoice (after the
-- customer's purchased credits) and expiring with it: what the invoice leaves is written off
-- by an `expire` entry, so the ledger still balances.
ALTER TABLE plans ADD COLUMN IF NOT EXISTS credit_allowance numeric(38, 6) NOT NULL DEFAULT 0 CHECK (credit_allowance >= 0);
ALTER TABLE credit_grants ADD COLUMN IF NOT EXISTS subscription_id text;
ALTER TABLE credit_grants ADD COLUMN IF NOT EXISTS period_start timestamptz;
ALTER TABLE credit_grants ADD COLUMN IF NOT EXISTS expires_at timestamptz;
ALTER TABLE credit_grants DROP CONSTRAINT IF EXISTS credit_grants_source_check,
  ADD CONSTRAINT credit_grants_source_check CHECK (source IN ('purchase', 'invoice_credit', 'allowance'));
ALTER TABLE credit_grants DROP CONSTRAINT IF EXISTS credit_grants_allowance_check,
  ADD CONSTRAINT credit_grants_allowance_check CHECK ((source = 'allowance') = (subscription_id IS NOT NULL AND period_start IS NOT NULL AND expires_at IS NOT NULL));
-- One allowance per subscription and period, however many close runs allocate it.
CREATE UNIQUE INDEX IF NOT EXISTS credit_grants_allowance_idx ON credit_grants (tenant_id, subscription_id, period_start) WHERE source = 'allowance';
ALTER TABLE credit_entries DROP CONSTRAINT IF EXISTS credit_entries_kind_check,
  ADD CONSTRAINT credit_entries_kind_check CHECK (kind IN ('consume', 'expire'));
