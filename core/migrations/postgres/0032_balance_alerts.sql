-- Prepaid balance alerts (alerts/balance.ts). A customer's low-balance level, and the firings of
-- balance.low and balance.depleted: one per customer, kind and period (the primary key makes a
-- second firing — another rating run, a concurrent one, a restart — a no-op).
CREATE TABLE IF NOT EXISTS balance_alert_settings (
  tenant_id              text NOT NULL,
  customer_id            text NOT NULL,
  low_balance_threshold  numeric(38, 6) NOT NULL CHECK (low_balance_threshold >= 0),
  actor                  text NOT NULL,
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, customer_id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);

CREATE TABLE IF NOT EXISTS balance_firings (
  tenant_id     text NOT NULL,
  customer_id   text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('low', 'depleted')),
  period_start  timestamptz NOT NULL,
  threshold     numeric(38, 6) NOT NULL,
  balance       numeric(38, 6) NOT NULL,
  fired_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, customer_id, kind, period_start)
);
