-- Raw usage events exactly as accepted. `value` is NULL when the event carried none (count
-- meters, CloudEvents whose value is read from `properties` by the meter's value_property).
-- Ordered for the aggregator's reads: one tenant's meter, per customer, by time.
CREATE TABLE IF NOT EXISTS {db}.raw_events_v1
(
  tenant_id    LowCardinality(String),
  id           String,
  customer     String,
  meter        LowCardinality(String),
  value        Nullable(Decimal(38, 6)),
  timestamp    DateTime64(3, 'UTC'),
  properties   String,
  ingested_at  DateTime64(6, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, meter, customer, timestamp, id);
