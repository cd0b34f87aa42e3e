-- The rater's write path into rated_usage_v1: it sends one row per rated series (arrays of
-- hours, quantities and amounts), because the engine parses one row of arrays several times
-- faster than one row per hour, and this materialized view spreads each row into its hours as
-- the insert runs. The Null engine keeps nothing, so there is no staging batch to read back or
-- delete afterwards (that was 0005's staging table, dropped here).
CREATE TABLE IF NOT EXISTS {db}.rated_input_v1
(
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
  version          UInt64
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rated_input_mv_v1 TO {db}.rated_usage_v1 AS
SELECT tenant_id, subscription_id, meter, segment_start, period_start, customer, plan_code, plan_version,
       toDateTime(h, 'UTC') AS hour, q AS quantity, a AS amount, version
FROM {db}.rated_input_v1
ARRAY JOIN hours AS h, quantities AS q, amounts AS a;

DROP TABLE IF EXISTS {db}.rated_staging_v1;
