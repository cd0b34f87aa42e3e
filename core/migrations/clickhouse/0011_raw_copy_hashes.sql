-- Each raw row's id hash and content hash, kept at insert time. Every backfill and recompute tells
-- a first copy from a later one by (id hash, acceptance time, content hash) and orders latest
-- values by the content hash; computed per row on every read, the content hash (text of the
-- value and timestamp, hashed with the properties) was most of the cost of leaving later copies
-- out (0.9 of 2.4 s for one meter's 3.7 M events). The expression is the one event_ids_v1's
-- view computes (migration 0003), so both sides of the comparison agree; parts written before
-- this migration compute the columns from it when read, until their next merge writes them.
ALTER TABLE {db}.raw_events_v1 ADD COLUMN IF NOT EXISTS id_hash UInt64 MATERIALIZED cityHash64(id);

ALTER TABLE {db}.raw_events_v1 ADD COLUMN IF NOT EXISTS copy_hash UInt64 MATERIALIZED cityHash64(customer, meter, ifNull(toString(value), ''), toString(timestamp), properties);
