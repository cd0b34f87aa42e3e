-- Through which instant the aggregator has recorded the later copies of the raw rows made visible
-- (ClickHouse migration 0012). From the epoch on a store that had events before that record
-- existed, so the next run records the whole history once.
INSERT INTO aggregator_state (name) VALUES ('later_copies') ON CONFLICT (name) DO NOTHING;
