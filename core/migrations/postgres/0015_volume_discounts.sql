-- A tenant's volume discount: a percentage off every invoice of a customer holding at least
-- `min_subscriptions` subscriptions in the invoice's period (the highest tier reached applies).
CREATE TABLE IF NOT EXISTS volume_discount_tiers (
  tenant_id          text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  min_subscriptions  integer NOT NULL CHECK (min_subscriptions >= 1),
  percent_off        numeric(7, 4) NOT NULL CHECK (percent_off > 0 AND percent_off <= 100),
  actor              text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, min_subscriptions)
);
