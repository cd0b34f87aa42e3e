import type { ClickHouseStore } from '../core/clickhouse.js';
import type { Meter, MeterRecord } from './meters.js';
import { COPY_ORDER, EPOCH_KEY, groupsExpr, numberExpr, uniqueExpr } from './sql.js';

/**
 * The first accepted copy of every event matching `where` (SQL over the raw table's columns,
 * with `{t:String}` the tenant), as rows of customer, group values, hour, the event's number,
 * its unique-count text, timestamp and ordering key. Both the rollup and the rater's partial
 * hours read events through this one definition of "first copy".
 */
export function firstCopies(ch: ClickHouseStore, meter: Pick<Meter, 'value_property'>, where: string, groups: number): string {
  const raw = ch.table('raw_events_v1');
  const hasVp = meter.value_property !== null;
  return `
      SELECT customer, ${groupsExpr(groups)} AS groups, toStartOfHour(timestamp) AS hour,
        ${numberExpr(hasVp)} AS num, ${uniqueExpr(hasVp)} AS u, timestamp AS ts, toUnixTimestamp64Milli(timestamp) AS ts_ms,
        tuple(timestamp, ingested_at, cityHash64(customer, meter, ifNull(toString(value), ''), toString(timestamp), properties)) AS key
      FROM ${raw}
      WHERE ${where}
        AND (id, ${COPY_ORDER}) IN (
          SELECT id, min(ord) FROM ${ch.table('event_ids_v1')}
          WHERE tenant_id = {t:String} AND id IN (SELECT id FROM ${raw} WHERE ${where})
          GROUP BY id)`;
}

/** Query parameters `firstCopies` needs for a meter (its key, value property and group names). */
export function eventParams(meter: Pick<Meter, 'key' | 'value_property' | 'group_by'>): Record<string, unknown> {
  const params: Record<string, unknown> = { m: meter.key };
  if (meter.value_property !== null) params.vp = meter.value_property;
  meter.group_by.forEach((g, i) => (params[`g${i}`] = g));
  return params;
}

/**
 * One hour's rollup columns from first-copy events (`num`, `u`, `key`, `ts`, and `next_ms`
 * for gauges). unique_count states only for unique_count meters: they are the costly column.
 */
export function hourlyColumns(isUnique: boolean): string {
  return `count() AS events,
      sum(ifNull(num, toDecimal128(0, 6))) AS sum_value,
      max(num) AS max_value,
      min(num) AS min_value,
      argMax(num, key) AS latest_value,
      maxIf(key, isNotNull(num)) AS latest_key,
      uniqExactStateIf(u, ${isUnique ? "u != ''" : '0'}) AS uniq_state`;
}

/**
 * Recomputes whole hours of one tenant's meter from the raw events, counting each event's
 * first accepted copy only, and writes them as a new version of those hours' rows. Rows of
 * those hours that the recompute no longer produces are overwritten with empty ones, so the
 * newest version of an hour is always exactly what the raw events say. Running it twice, or
 * after a crash half-way, gives the same rows.
 */
export async function recomputeHours(ch: ClickHouseStore, meter: MeterRecord, hours: readonly string[], version: bigint): Promise<void> {
  if (hours.length === 0) return;
  const hourly = ch.table('usage_hourly_v1');
  const params: Record<string, unknown> = { ...eventParams(meter), t: meter.tenant_id, hours, version: version.toString() };

  const inHours = 'tenant_id = {t:String} AND meter = {m:String} AND toStartOfHour(timestamp) IN {hours:Array(DateTime)}';
  const fresh = `
    SELECT customer, groups, hour,
      ${hourlyColumns(meter.aggregation === 'unique_count')},
      minIf(ts, isNotNull(num)) AS gauge_first,
      sumIf(num * (next_ms - ts_ms), isNotNull(num)) AS gauge_integral
    FROM (
      SELECT *,
        -- The gauge holds each number until the next numbered event of the hour, the last one to the end of the hour.
        leadInFrame(ts_ms, 1, toInt64(toUnixTimestamp(hour)) * 1000 + 3600000)
          OVER (PARTITION BY customer, groups, hour, isNull(num) ORDER BY key ASC ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
      FROM (${firstCopies(ch, meter, inHours, meter.group_by.length)})
    )
    GROUP BY customer, groups, hour`;

  await ch.client.command({
    query: `
      INSERT INTO ${hourly} (tenant_id, meter, customer, groups, hour, events, sum_value, max_value, min_value, latest_value, latest_key, uniq_state, gauge_first, gauge_integral, version)
      SELECT {t:String}, {m:String}, customer, groups, hour, events, sum_value, max_value, min_value, latest_value, latest_key, uniq_state, gauge_first, gauge_integral, {version:UInt64}
      FROM (${fresh})
      UNION ALL
      SELECT tenant_id, meter, customer, groups, hour, toUInt64(0), toDecimal128(0, 6),
        CAST(NULL AS Nullable(Decimal(38, 6))), CAST(NULL AS Nullable(Decimal(38, 6))), CAST(NULL AS Nullable(Decimal(38, 6))),
        ${EPOCH_KEY}, arrayReduce('uniqExactState', CAST([] AS Array(String))), toDateTime64(0, 3, 'UTC'), toDecimal128(0, 6), {version:UInt64}
      FROM ${hourly} FINAL
      WHERE tenant_id = {t:String} AND meter = {m:String} AND hour IN {hours:Array(DateTime)} AND events > 0
        AND (customer, groups, hour) NOT IN (SELECT customer, groups, hour FROM (${fresh}))`,
    query_params: params,
  });
}
