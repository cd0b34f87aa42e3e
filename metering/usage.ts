import { Dec } from '../core/money.js';
import type { ClickHouseStore } from '../core/clickhouse.js';
import type { Meter } from './meters.js';
import { chTime, valueExpr } from './sql.js';

/**
 * Usage over [from, to) from the hourly rollups, cut into hour, day or month windows in a
 * time zone (day and month boundaries follow the zone's calendar, DST included), per
 * customer and optionally per group property. Windows are clipped to [from, to).
 */
export type UsageWindow = 'hour' | 'day' | 'month' | 'none';

export interface UsageQuery {
  tenantId: string;
  meter: Meter;
  customer: string | undefined;
  from: Date;
  to: Date;
  window: UsageWindow;
  tz: string;
  groupBy: string[];
  limit: number;
  offset: number;
}

export interface UsageRow {
  window_start: string;
  window_end: string;
  customer: string;
  value: string;
  groups?: Record<string, string>;
}

const ISO = "formatDateTime(toTimeZone(%s, 'UTC'), '%Y-%m-%dT%H:%i:%SZ')";
const iso = (expr: string) => ISO.replace('%s', expr);

function windowBounds(window: UsageWindow, hour = 'hour'): { start: string; end: string } {
  const local = `toTimeZone(${hour}, {tz:String})`;
  switch (window) {
    case 'hour':
      return { start: hour, end: `${hour} + INTERVAL 1 HOUR` };
    case 'day':
      return { start: `toStartOfDay(${local})`, end: `toStartOfDay(${local}) + INTERVAL 1 DAY` };
    case 'month':
      return { start: `toDateTime(toStartOfMonth(${local}), {tz:String})`, end: `toDateTime(toStartOfMonth(${local}), {tz:String}) + INTERVAL 1 MONTH` };
    case 'none':
      return { start: "toDateTime({from:DateTime64(6, 'UTC')}, 'UTC')", end: "toDateTime({to:DateTime64(6, 'UTC')}, 'UTC')" };
  }
}

/** GROUP BY / ORDER BY / LIMIT of a windowed usage query, per window, customer and group. */
function windowedTail(groupNames: readonly string[]): string {
  const groups = groupNames.length > 0 ? `, ${groupNames.join(', ')}` : '';
  return `
      GROUP BY ws, we, customer${groups}
      ORDER BY ws, customer${groups}
      LIMIT {limit:UInt32} OFFSET {offset:UInt64}`;
}

function baseParams(q: UsageQuery): Record<string, unknown> {
  return { t: q.tenantId, m: q.meter.key, tz: q.tz, from: chTime(q.from), to: chTime(q.to), c: q.customer ?? '', limit: q.limit + 1, offset: q.offset };
}

interface RawUsageRow {
  window_start: string;
  window_end: string;
  customer: string;
  group_values: string[];
  value: string;
}

/** The page of rows (one extra was fetched to know whether more follow). */
function toPage(raw: RawUsageRow[], q: UsageQuery, value: (v: string) => string = (v) => v): { rows: UsageRow[]; hasMore: boolean } {
  const rows = raw.slice(0, q.limit).map((r) => {
    const row: UsageRow = { window_start: r.window_start, window_end: r.window_end, customer: r.customer, value: value(r.value) };
    if (q.groupBy.length > 0) row.groups = Object.fromEntries(q.groupBy.map((g, i) => [g, r.group_values[i] ?? '']));
    return row;
  });
  return { rows, hasMore: raw.length > q.limit };
}

export async function queryUsage(ch: ClickHouseStore, q: UsageQuery): Promise<{ rows: UsageRow[]; hasMore: boolean }> {
  if (q.meter.aggregation === 'weighted_sum') return queryGauge(ch, q);
  const { start, end } = windowBounds(q.window);
  const groupCols = q.groupBy.map((g, i) => `groups[${q.meter.group_by.indexOf(g) + 1}] AS g${i}`);
  const groupNames = q.groupBy.map((_, i) => `g${i}`);
  const rs = await ch.client.query({
    query: `
      SELECT
        ${iso(`greatest(ws, toDateTime({from:DateTime64(6, 'UTC')}, 'UTC'))`)} AS window_start,
        ${iso(`least(we, toDateTime({to:DateTime64(6, 'UTC')}, 'UTC'))`)} AS window_end,
        customer,
        ${groupNames.length > 0 ? `[${groupNames.join(', ')}]` : 'CAST([] AS Array(String))'} AS group_values,
        ${valueExpr(q.meter.aggregation)} AS value
      FROM (
        SELECT *, ${start} AS ws, ${end} AS we${groupCols.length > 0 ? `, ${groupCols.join(', ')}` : ''}
        FROM ${ch.table('usage_hourly_v1')} FINAL
        WHERE tenant_id = {t:String} AND meter = {m:String}
          AND hour >= toDateTime({from:DateTime64(6, 'UTC')}, 'UTC') AND hour < toDateTime({to:DateTime64(6, 'UTC')}, 'UTC')
          AND events > 0 ${q.customer === undefined ? '' : 'AND customer = {c:String}'}
      )
${windowedTail(groupNames)}`,
    query_params: baseParams(q),
    format: 'JSONEachRow',
  });
  return toPage(await rs.json<RawUsageRow>(), q);
}

const MS_PER_HOUR = 3_600_000;

/**
 * weighted_sum: the integral of a gauge over time, in value x hours (GB held for a day is 24
 * GB-hours). Each number holds from its event until the next event of the same customer and
 * group values, carried across hours and windows; before a series' first event it is 0. Only
 * hours that have ended count (the current one is still open). Exact until the last step,
 * where value x milliseconds is divided by 3,600,000 and rounded half-even to 6 decimals.
 *
 * Every completed hour of [from, to) of every series is placed on a grid; an hour with events
 * adds its own integral plus the previous number up to its first event, an hour without adds
 * the previous number for the whole hour (an ASOF join finds it, however old). With `raw`,
 * values stay in exact value x milliseconds (the rater accumulates them before rounding).
 */
export async function queryGauge(ch: ClickHouseStore, q: UsageQuery, opts: { raw?: boolean } = {}): Promise<{ rows: UsageRow[]; hasMore: boolean }> {
  const gridEnd = Math.min(q.to.getTime(), Math.floor(Date.now() / MS_PER_HOUR) * MS_PER_HOUR);
  if (gridEnd <= q.from.getTime()) return { rows: [], hasMore: false };
  const { start, end } = windowBounds(q.window, 'g_hour');
  const groupCols = q.groupBy.map((g, i) => `grid.groups[${q.meter.group_by.indexOf(g) + 1}] AS g${i}`);
  const groupNames = q.groupBy.map((_, i) => `g${i}`);
  const hourly = ch.table('usage_hourly_v1');
  const series = `
    SELECT customer, groups, hour, toUnixTimestamp64Milli(gauge_first) AS first_ms, gauge_integral, latest_value,
      lagInFrame(latest_value, 1, CAST(NULL AS Nullable(Decimal(38, 6)))) OVER (PARTITION BY customer, groups ORDER BY hour ASC ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev_value
    FROM ${hourly} FINAL
    WHERE tenant_id = {t:String} AND meter = {m:String} AND hour < toDateTime({gridEnd:UInt32}, 'UTC')
      AND events > 0 AND isNotNull(latest_value) ${q.customer === undefined ? '' : 'AND customer = {c:String}'}`;
  const rs = await ch.client.query({
    query: `
      SELECT
        ${iso(`greatest(ws, toDateTime({from:DateTime64(6, 'UTC')}, 'UTC'))`)} AS window_start,
        ${iso(`least(we, toDateTime({gridEnd:UInt32}, 'UTC'))`)} AS window_end,
        customer,
        ${groupNames.length > 0 ? `[${groupNames.join(', ')}]` : 'CAST([] AS Array(String))'} AS group_values,
        toString(sum(contribution)) AS value
      FROM (
        SELECT grid.customer AS customer, grid.g_hour AS g_hour, ${start} AS ws, ${end} AS we${groupCols.length > 0 ? `, ${groupCols.join(', ')}` : ''},
          multiIf(
            s.hour = grid.g_hour, s.gauge_integral + ifNull(s.prev_value, toDecimal128(0, 6)) * (s.first_ms - toInt64(toUnixTimestamp(grid.g_hour)) * 1000),
            s.hour > toDateTime(0, 'UTC'), ifNull(s.latest_value, toDecimal128(0, 6)) * ${MS_PER_HOUR},
            toDecimal128(0, 6)) AS contribution
        FROM (
          SELECT customer, groups, toDateTime(arrayJoin(range(toUInt32({fromS:UInt32}), toUInt32({gridEnd:UInt32}), 3600)), 'UTC') AS g_hour
          FROM (SELECT DISTINCT customer, groups FROM (${series}))
        ) AS grid
        ASOF LEFT JOIN (${series}) AS s ON grid.customer = s.customer AND grid.groups = s.groups AND grid.g_hour >= s.hour
      )
${windowedTail(groupNames)}`,
    query_params: { ...baseParams(q), fromS: q.from.getTime() / 1000, gridEnd: gridEnd / 1000 },
    format: 'JSONEachRow',
  });
  return toPage(await rs.json<RawUsageRow>(), q, opts.raw === true ? undefined : gaugeHours);
}

// Money decimals compute at 100 significant digits (core/money.ts); value x
// milliseconds reaches ~1e29, far below what that precision holds.

/** value x milliseconds (exact) to value x hours, rounded half-even to 6 decimals. */
export function gaugeHours(valueMs: string): string {
  return new Dec(valueMs).div(MS_PER_HOUR).toDecimalPlaces(6, Dec.ROUND_HALF_EVEN).toFixed();
}

/** Whether raw events of this meter in [from, to) became visible after the watermark (so are not counted yet). */
export async function pendingEvents(ch: ClickHouseStore, tenantId: string, meter: string, from: Date, to: Date, watermark: Date): Promise<boolean> {
  const rs = await ch.client.query({
    query: `SELECT count() AS n FROM ${ch.table('raw_events_v1')}
            WHERE tenant_id = {t:String} AND meter = {m:String}
              AND timestamp >= {from:DateTime64(6, 'UTC')} AND timestamp < {to:DateTime64(6, 'UTC')}
              AND visible_at > {w:DateTime64(6, 'UTC')}`,
    query_params: { t: tenantId, m: meter, from: chTime(from), to: chTime(to), w: chTime(watermark) },
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ n: string }>();
  return row !== undefined && row.n !== '0';
}
