-- Staging for rated usage writes: the rater sends one row per rated series (arrays of hours,
-- quantities and amounts), then one INSERT ... SELECT ... ARRAY JOIN moves them into
-- rated_usage_v1 and the batch is deleted. Parsing one row of arrays per series is several
-- times cheaper for the engine than one row per hour. A batch left behind by a crash expires.
CREATE TABLE IF NOT EXISTS {db}.rated_staging_v1
(
  batch            String,
  tenant_id        String,
  subscription_id  String,
  meter            String,
  segment_start    DateTime64(3, 'UTC'),
  period_start     DateTime64(3, 'UTC'),
  customer         String,
  plan_code        String,
  plan_version     UInt32,
  hours            Array(UInt32),
  quantities       Array(Decimal(38, 6)),
  amounts          Array(Decimal(38, 6)),
  version          UInt64,
  created_at       DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
ORDER BY batch
TTL created_at + INTERVAL 1 DAY;
