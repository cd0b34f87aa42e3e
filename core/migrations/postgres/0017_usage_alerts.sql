-- Usage alerts. A subscription's thresholds: percentages of each charge's included quantity
-- (75, 90 and 100 when it has set none) and amounts of spend, per charge or over all its
-- charges (meter ''). Each threshold fires once per period: the primary key of alert_firings
-- makes a second firing — another rating run, a concurrent one, a restart — a no-op.
CREATE TABLE IF NOT EXISTS alert_settings (
  tenant_id          text NOT NULL,
  subscription_id    text NOT NULL,
  included_percents  numeric(7, 4)[] NOT NULL,
  spend              jsonb NOT NULL DEFAULT '[]',
  actor              text NOT NULL,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subscription_id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
);

CREATE TABLE IF NOT EXISTS alert_firings (
  tenant_id        text NOT NULL,
  subscription_id  text NOT NULL,
  period_start     timestamptz NOT NULL,
  meter            text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('included_percent', 'spend')),
  threshold        numeric(38, 6) NOT NULL,
  quantity         numeric(38, 6) NOT NULL,
  amount           numeric(38, 6) NOT NULL,
  fired_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subscription_id, period_start, meter, kind, threshold)
);
