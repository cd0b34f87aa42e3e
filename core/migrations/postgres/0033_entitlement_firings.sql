-- Entitlement window events (alerts/entitlement-events.ts): entitlement.limit_reached when a
-- metered feature's usage reaches its limit in a window, entitlement.reset when a new window
-- begins. One row per customer, feature, kind and window: the primary key makes a second
-- firing (another node, a restart, the next refresh) a no-op, so each is sent once per window.
CREATE TABLE IF NOT EXISTS entitlement_firings (
  tenant_id     text NOT NULL,
  customer_id   text NOT NULL,
  feature       text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('limit_reached', 'reset')),
  window_start  timestamptz NOT NULL,
  window_end    timestamptz NOT NULL,
  fired_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, customer_id, feature, kind, window_start)
);

-- Pruning reads by window end.
CREATE INDEX IF NOT EXISTS entitlement_firings_window_end ON entitlement_firings (window_end);
