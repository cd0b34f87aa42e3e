-- Commitments on a subscription, for the periods from the one it was made in until its end: a
-- minimum spend per period (charges below it are topped up) and a committed-use discount (a
-- percentage off every invoice it covers, before coupons).
CREATE TABLE IF NOT EXISTS subscription_commitments (
  tenant_id         text NOT NULL,
  subscription_id   text NOT NULL,
  minimum_spend     numeric(38, 6) CHECK (minimum_spend > 0),
  discount_percent  numeric(7, 4) CHECK (discount_percent > 0 AND discount_percent <= 100),
  starts_at         timestamptz NOT NULL,
  ends_at           timestamptz NOT NULL CHECK (ends_at > starts_at),
  actor             text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subscription_id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
  CHECK (minimum_spend IS NOT NULL OR discount_percent IS NOT NULL)
);
