-- Plans are versioned: a change is a new row with the next version; a subscription keeps the
-- version it was priced on. Money and quantities stay decimal strings inside `charges`.
CREATE TABLE IF NOT EXISTS plans (
  tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  code         text NOT NULL,
  version      integer NOT NULL CHECK (version >= 1),
  name         text NOT NULL,
  currency     char(3) NOT NULL,
  interval     text NOT NULL CHECK (interval IN ('month', 'year')),
  base_fee     numeric(38, 12) NOT NULL CHECK (base_fee >= 0),
  trial_days   integer NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
  charges      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, code, version)
);
