-- The aggregator's backfills: per run and tenant, every copy of an event that is not its first
-- accepted copy (copy order as in event_ids_v1: acceptance time, then the content hash). Taken
-- once from event_ids_v1 when a run first backfills one of the tenant's meters and read by
-- each of that run's backfills, so each meter's pass over the raw events drops these copies
-- with a probe of one small set, instead of finding every id's first copy again. Rows of a run
-- are read only by that run; they expire after a day.
CREATE TABLE IF NOT EXISTS {db}.later_copies_v1
(
  run          String,
  tenant_id    LowCardinality(String),
  id           String,
  ingested_at  DateTime64(6, 'UTC'),
  hash         UInt64,
  created_at   DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
ORDER BY (run, tenant_id, id)
TTL created_at + INTERVAL 1 DAY;
