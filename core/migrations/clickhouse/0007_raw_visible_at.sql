-- When each row became visible in the store. Ingest appends accepted events to its event log and
-- a shipper inserts them later, normally within a second, after a ClickHouse outage minutes or
-- hours later; the shipper sets this to the insert's own time (now64 at the insert), so the
-- aggregator, which reads what became visible since its last run, never misses a row accepted
-- long ago and shipped late. Rows inserted before this column existed read as their acceptance
-- time, which is when they became visible then (ingest inserted before it acknowledged).
ALTER TABLE {db}.raw_events_v1 ADD COLUMN IF NOT EXISTS visible_at DateTime64(6, 'UTC') DEFAULT ingested_at;

ALTER TABLE {db}.raw_events_v1 ADD INDEX IF NOT EXISTS visible_at_minmax visible_at TYPE minmax GRANULARITY 1;

-- A shipper that crashed between its insert and its bookkeeping inserts the same segment again
-- with the same insert_deduplication_token; the table drops the repeat. (Replicated tables
-- deduplicate by default; a plain MergeTree only within this window of recent inserts.)
ALTER TABLE {db}.raw_events_v1 MODIFY SETTING non_replicated_deduplication_window = 10000;
