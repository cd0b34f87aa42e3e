-- Where each copy of an event counts, by event id: its meter and hour. A copy made visible late
-- (a node's log shipped after an outage) can have been accepted before a copy already counted,
-- and so become the first copy; when the two differ in hour or meter (an event sent again with
-- another timestamp, or without one, either side of an hour), the hour that counted the other
-- copy must be recomputed too. The aggregator finds those hours here, by the ids of the events
-- it sees arriving, instead of searching the raw events, which are not sorted by id. A table of
-- its own rather than columns of event_ids_v1, whose migration (0003) must stay re-runnable as
-- written. Copies written before this migration are not in it.
CREATE TABLE IF NOT EXISTS {db}.event_hours_v1
(
  tenant_id  LowCardinality(String),
  id         String,
  meter      LowCardinality(String),
  hour       DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY (tenant_id, id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_hours_mv_v1 TO {db}.event_hours_v1 AS
SELECT tenant_id, id, meter, toStartOfHour(timestamp) AS hour
FROM {db}.raw_events_v1;

-- A segment the shipper inserts again (its first insert's answer was lost, or the process died
-- before its bookkeeping) is dropped by the raw table under its token, but the tables its views
-- feed recorded it again: a second record of an event's only copy made it look like a later copy
-- of itself, and the event was not counted. They keep the same window of insert tokens as the
-- raw table (migration 0007), so the repeat is dropped there too.
ALTER TABLE {db}.event_ids_v1 MODIFY SETTING non_replicated_deduplication_window = 10000;
