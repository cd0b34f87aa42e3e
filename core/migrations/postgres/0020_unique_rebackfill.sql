-- ClickHouse migration 0009 replaced the rollups' distinct-value states with the values
-- themselves; the hours of unique_count meters are rebuilt from the raw events by the
-- aggregator's backfill (which recomputes every hour of the meter and empties what it no
-- longer produces). Run again, it only repeats that backfill.
UPDATE meters SET backfilled_through = NULL WHERE aggregation = 'unique_count';
