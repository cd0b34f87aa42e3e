-- The aggregator no longer writes the later copies of a run's window to rows of their own
-- (migration 0008): it probes them as a set while recording the raw rows they belong to
-- (later_copy_keys_v1, migration 0012). The table's rows only lived for a run. An aggregator
-- of an earlier version still writes it: stop those before migrating (README, Running at scale).
DROP TABLE IF EXISTS {db}.later_copies_v1;
