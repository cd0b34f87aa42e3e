-- Coupons: a percentage or a fixed amount (in one currency) off an invoice's charges, for one
-- period (`once`), N periods (`repeating`) or every period (`forever`), from the period a
-- subscription redeems it in; optionally limited in redemptions, redeemable until a date, and
-- restricted to plans.
CREATE TABLE IF NOT EXISTS coupons (
  tenant_id         text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  code              text NOT NULL,
  name              text NOT NULL,
  percent_off       numeric(7, 4) CHECK (percent_off > 0 AND percent_off <= 100),
  amount_off        numeric(38, 6) CHECK (amount_off > 0),
  currency          char(3),
  duration          text NOT NULL CHECK (duration IN ('once', 'repeating', 'forever')),
  duration_periods  integer CHECK (duration_periods >= 1),
  max_redemptions   integer CHECK (max_redemptions >= 1),
  redeem_by         timestamptz,
  plans             text[],
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, code),
  CHECK ((percent_off IS NULL) <> (amount_off IS NULL)),
  CHECK ((amount_off IS NULL) = (currency IS NULL)),
  CHECK ((duration = 'repeating') = (duration_periods IS NOT NULL))
);

CREATE TABLE IF NOT EXISTS coupon_redemptions (
  tenant_id        text NOT NULL,
  subscription_id  text NOT NULL,
  coupon_code      text NOT NULL,
  redeemed_at      timestamptz NOT NULL DEFAULT now(),
  actor            text NOT NULL,
  PRIMARY KEY (tenant_id, subscription_id, coupon_code),
  FOREIGN KEY (tenant_id, coupon_code) REFERENCES coupons (tenant_id, code),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
);
