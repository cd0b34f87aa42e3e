-- Exact dedup for the aggregator: every copy's (tenant, id, copy order), sorted by id so the
-- first copy of a set of ids is found by its primary key (min of the order). Kept by a plain
-- materialized view on inserts into the raw table: no aggregation on the insert path, which
-- ingest pays for. The backfill below copies what the raw table held before the view existed;
-- run twice, it only adds duplicate rows, which min() ignores.
CREATE TABLE IF NOT EXISTS {db}.event_ids_v1
(
  tenant_id  LowCardinality(String),
  id         String,
  ord        Tuple(DateTime64(6, 'UTC'), UInt64)
)
ENGINE = MergeTree
ORDER BY (tenant_id, id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_ids_mv_v1 TO {db}.event_ids_v1 AS
SELECT tenant_id, id, tuple(ingested_at, cityHash64(customer, meter, ifNull(toString(value), ''), toString(timestamp), properties)) AS ord
FROM {db}.raw_events_v1;

INSERT INTO {db}.event_ids_v1
SELECT tenant_id, id, tuple(ingested_at, cityHash64(customer, meter, ifNull(toString(value), ''), toString(timestamp), properties))
FROM {db}.raw_events_v1;

-- Lets each aggregator run read only the parts written since its watermark.
ALTER TABLE {db}.raw_events_v1 ADD INDEX IF NOT EXISTS ingested_at_minmax ingested_at TYPE minmax GRANULARITY 1;

-- Hourly usage per (tenant, meter, customer, group values, hour), recomputed whole from the
-- deduplicated raw events whenever that hour receives events; the newest version of a row
-- wins. Every column composes exactly into longer windows: sums and counts add, min/max take
-- the min/max, latest takes the value with the greatest (timestamp, ingested_at, hash), and
-- distinct values merge as uniqExact states (a sum of hourly distinct counts would be wrong).
-- For time-weighted gauges, `gauge_first` is the hour's first numbered event and
-- `gauge_integral` the exact integral of the gauge from it to the end of the hour, in
-- value x milliseconds; the value before it is carried from an earlier hour when queried.
CREATE TABLE IF NOT EXISTS {db}.usage_hourly_v1
(
  tenant_id        LowCardinality(String),
  meter            LowCardinality(String),
  customer         String,
  groups           Array(String),
  hour             DateTime('UTC'),
  events           UInt64,
  sum_value        Decimal(38, 6),
  max_value        Nullable(Decimal(38, 6)),
  min_value        Nullable(Decimal(38, 6)),
  latest_value     Nullable(Decimal(38, 6)),
  latest_key       Tuple(DateTime64(3, 'UTC'), DateTime64(6, 'UTC'), UInt64),
  uniq_state       AggregateFunction(uniqExact, String),
  gauge_first      DateTime64(3, 'UTC'),
  gauge_integral   Decimal(38, 6),
  version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, meter, customer, groups, hour);
