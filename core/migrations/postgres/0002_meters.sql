-- Meters: how a tenant's raw events become usage. `backfilled_through` is set by the
-- aggregator once every event that arrived before the meter existed has been counted.
CREATE TABLE IF NOT EXISTS meters (
  tenant_id           text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key                 text NOT NULL,
  name                text NOT NULL,
  aggregation         text NOT NULL CHECK (aggregation IN ('sum', 'count', 'max', 'min', 'unique_count', 'latest', 'weighted_sum')),
  value_property      text,
  unit                text,
  group_by            text[] NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  backfilled_through  timestamptz,
  PRIMARY KEY (tenant_id, key)
);
