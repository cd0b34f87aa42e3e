-- One row per (tenant, event id): the first accepted copy. Ingest writes every copy it could
-- not recognise as a resend (after a restart, on another node, or a retry of a request whose
-- 202 was lost); this view is the exact dedup over all of them. Copies are ordered by
-- acceptance time, then by a hash of their content, so the pick is the same on every read and
-- the same one the aggregator makes. (A Nullable value inside the tuple keeps argMin from
-- skipping NULLs.)
CREATE VIEW IF NOT EXISTS {db}.events_v1 AS
SELECT
  tenant_id,
  id,
  tupleElement(first, 1) AS customer,
  tupleElement(first, 2) AS meter,
  tupleElement(first, 3) AS value,
  tupleElement(first, 4) AS timestamp,
  tupleElement(first, 5) AS properties,
  tupleElement(first, 6) AS ingested_at,
  copies
FROM
(
  SELECT
    tenant_id,
    id,
    argMin(
      tuple(customer, meter, value, timestamp, properties, ingested_at),
      tuple(ingested_at, cityHash64(customer, meter, ifNull(toString(value), ''), toString(timestamp), properties))
    ) AS first,
    count() AS copies
  FROM {db}.raw_events_v1
  GROUP BY tenant_id, id
);
