-- Taxes: rates by country and, optionally, region (a state or province, e.g. CA in the US); a
-- regional rate wins over its country's. The customer's region picks it; tax-exempt customers
-- pay none.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS region text;

CREATE TABLE IF NOT EXISTS tax_rates (
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id          text NOT NULL,
  country     char(2) NOT NULL,
  region      text NOT NULL DEFAULT '',
  percent     numeric(7, 4) NOT NULL CHECK (percent > 0 AND percent <= 100),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, country, region)
);
