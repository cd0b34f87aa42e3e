-- Rated usage: for each subscription, meter, plan segment and hour, the cumulative quantity of
-- the segment at the end of that hour and the amount the hour adds. A segment is the part of a
-- billing period under one plan version (a period without plan changes is one segment), and
-- its hourly amounts sum exactly to the amount of its quantity, because each is the difference
-- of two rated (6-decimal) amounts. Rows exist for the hours that had usage (and, for gauges,
-- every completed hour); re-rating writes a new version of the hours it covers, the newest wins.
CREATE TABLE IF NOT EXISTS {db}.rated_usage_v1
(
  tenant_id        LowCardinality(String),
  subscription_id  String,
  meter            LowCardinality(String),
  segment_start    DateTime64(3, 'UTC'),
  period_start     DateTime64(3, 'UTC'),
  customer         String,
  plan_code        LowCardinality(String),
  plan_version     UInt32,
  hour             DateTime('UTC'),
  quantity         Decimal(38, 6),
  amount           Decimal(38, 6),
  version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, subscription_id, meter, segment_start, hour);
