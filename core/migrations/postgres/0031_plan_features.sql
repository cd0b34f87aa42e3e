-- Entitlements: what a plan version lets its customers use (a list of features, versioned with
-- the plan like its charges), and per customer the overrides of a feature and one-off grants of
-- extra units of a metered feature until they expire.
ALTER TABLE plans ADD COLUMN IF NOT EXISTS features jsonb NOT NULL DEFAULT '[]';

-- One override per (customer, feature): each column given replaces the plan's own (a limit, whether
-- the customer has the feature at all, a static value); NULL keeps the plan's.
CREATE TABLE IF NOT EXISTS entitlement_overrides (
  tenant_id    text NOT NULL,
  customer_id  text NOT NULL,
  feature      text NOT NULL,
  "limit"      numeric(38, 6) CHECK ("limit" >= 0),
  has_access   boolean,
  value        jsonb,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, customer_id, feature),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);

-- Extra units of a metered feature from when they are granted until they expire.
CREATE TABLE IF NOT EXISTS entitlement_grants (
  tenant_id    text NOT NULL,
  id           text NOT NULL,
  customer_id  text NOT NULL,
  feature      text NOT NULL,
  amount       numeric(38, 6) NOT NULL CHECK (amount > 0),
  granted_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL CHECK (expires_at > granted_at),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS entitlement_grants_customer_idx ON entitlement_grants (tenant_id, customer_id, feature, expires_at);
