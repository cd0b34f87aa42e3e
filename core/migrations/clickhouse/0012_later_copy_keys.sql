-- Every raw row that is a later copy of its event (a copy after the first accepted one, in the
-- copy order of event_ids_v1), by the (tenant, meter, hour) it would count in. Whether a row is
-- a later copy never changes back: raw rows are only appended and a copy's place in the order
-- is fixed when it is accepted. So the aggregator records each one once, as its runs find them
-- among the rows made visible in their windows (and the copies a late first copy displaces),
-- and a recompute of some hours leaves out only those hours' recorded keys, instead of looking
-- up the copies of every id of the hours again. `key` is the copy key of rollup.ts (the id's
-- 64-bit hash above the content hash XOR the acceptance microsecond). A run first gathers the
-- later copies of its window's ids in its own rows of later_copies_v1 (migration 0008, which
-- backfills used before), then records the raw rows with those keys here. A row may be
-- recorded more than once (runs re-read the end of the previous window); merges keep one.
CREATE TABLE IF NOT EXISTS {db}.later_copy_keys_v1
(
  tenant_id  LowCardinality(String),
  meter      LowCardinality(String),
  hour       DateTime('UTC'),
  key        UInt128
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, meter, hour, key);
