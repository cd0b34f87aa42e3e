-- What a closed period's commitment was held against: its minimum spend, and the charges it was
-- compared with (base fee, prorations, usage and meter minimums, later adjustments of that
-- period's usage added). When late usage changes the period's charges, the difference its own
-- minimum spend makes is billed with the adjustment, so a period's spend stays its own.
CREATE TABLE IF NOT EXISTS billed_commitments (
  tenant_id        text NOT NULL,
  subscription_id  text NOT NULL,
  period_start     timestamptz NOT NULL,
  minimum_spend    numeric(38, 6) NOT NULL,
  charges          numeric(38, 6) NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subscription_id, period_start)
);
