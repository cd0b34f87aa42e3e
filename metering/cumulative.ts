import type { ClickHouseStore } from '../core/clickhouse.js';
import { Dec } from '../core/money.js';
import { ceilHour, clickhouseTime, floorHour, HOUR_MS } from '../core/time.js';
import { Series } from '../rating/series.js';
import type { Meter } from './meters.js';
import { eventParams, firstCopies, hourlyColumns } from './rollup.js';
import { gaugeHours, queryGauge } from './usage.js';

/**
 * A customer's usage of one meter over [start, end) (epoch milliseconds), read as the cumulative
 * quantity at the end of every hour that changed it (see UsageQuerier.cumulativeHourly).
 */
export interface UsageRange {
  customer: string;
  start: number;
  end: number;
}

/** Ranges per query: bounds the size of the query's parameters. */
const BATCH = 4_000;

/**
 * Per range, the cumulative quantity at the end of every hour that changed it, from the hourly
 * rollups. Cumulative values compose exactly per aggregation (sums add, max/min keep the
 * extreme, latest the newest value, unique_count merges its distinct-value states), all inside
 * ClickHouse, where the states live.
 *
 * Whole hours come from the rollups; where a range starts or ends inside an hour, that part of
 * the hour is aggregated from the first copies of the raw events in exactly that range (see
 * usageRanges).
 */
export async function cumulativeHourly(ch: ClickHouseStore, tenantId: string, meter: Meter, ranges: readonly UsageRange[]): Promise<Series[]> {
  const out: Series[] = [];
  for (let i = 0; i < ranges.length; i += BATCH) {
    const batch = ranges.slice(i, i + BATCH);
    out.push(...(meter.aggregation === 'weighted_sum' ? await gaugeSeries(ch, tenantId, meter, batch) : await rollupSeries(ch, tenantId, meter, batch)));
  }
  return out;
}

/** Per aggregation: the hour's value over every group, and its running value over the range. */
const MERGE: Record<Exclude<Meter['aggregation'], 'weighted_sum'>, { hourly: string; running: string }> = {
  sum: { hourly: 'sum(sum_value)', running: 'toString(sum(x) OVER w)' },
  count: { hourly: 'sum(events)', running: 'toString(sum(x) OVER w)' },
  max: { hourly: 'max(max_value)', running: "toString(ifNull(max(x) OVER w, toDecimal128(0, 6)))" },
  min: { hourly: 'min(min_value)', running: "toString(ifNull(min(x) OVER w, toDecimal128(0, 6)))" },
  latest: { hourly: 'argMax(latest_value, latest_key)', running: "toString(ifNull(argMax(x, k) OVER w, toDecimal128(0, 6)))" },
  unique_count: { hourly: 'groupUniqArrayArray(uniq_values)', running: 'toString(uniqExactArray(x) OVER w)' },
};

async function rollupSeries(ch: ClickHouseStore, tenantId: string, meter: Meter, requests: readonly UsageRange[]): Promise<Series[]> {
  const merge = MERGE[meter.aggregation as keyof typeof MERGE];
  const ranges = requests.map((r) => usageRanges(r.start, r.end));
  const clips = ranges.flatMap((g, seg) => g.clips.map((c) => ({ seg, customer: requests[seg]!.customer, ...c })));
  const minHour = floorHour(Math.min(...requests.map((r) => r.start))) / 1000;
  const maxHour = ceilHour(Math.max(...requests.map((r) => r.end))) / 1000;
  const partial =
    clips.length === 0
      ? ''
      : `
          UNION ALL
          SELECT seg, hour, events, sum_value, max_value, min_value, latest_value, latest_key, uniq_values FROM (
            SELECT clips.seg AS seg, e.hour AS hour, ${hourlyColumns(meter.aggregation === 'unique_count')}
            FROM (
              SELECT tupleElement(c, 1) AS seg, tupleElement(c, 2) AS customer, tupleElement(c, 3) AS c_from, tupleElement(c, 4) AS c_to
              FROM (SELECT arrayJoin(arrayZip({cSeg:Array(UInt32)}, {cCust:Array(String)}, {cFrom:Array(DateTime64(3, 'UTC'))}, {cTo:Array(DateTime64(3, 'UTC'))})) AS c)
            ) AS clips
            INNER JOIN (${firstCopies(ch, meter, PARTIAL_EVENTS, 0)}) AS e ON e.customer = clips.customer
            WHERE e.ts >= clips.c_from AND e.ts < clips.c_to
            GROUP BY seg, hour)`;
  const rs = await ch.client.query({
    query: `
      WITH segs AS (
        SELECT tupleElement(s, 1) AS seg, tupleElement(s, 2) AS customer,
               toDateTime(tupleElement(s, 3), 'UTC') AS h_from, toDateTime(tupleElement(s, 4), 'UTC') AS h_to
        FROM (SELECT arrayJoin(arrayZip({seg:Array(UInt32)}, {cust:Array(String)}, {hf:Array(UInt32)}, {ht:Array(UInt32)})) AS s)
      )
      SELECT seg, count() AS n, arrayStringConcat(arraySort(groupArray(h)), ',') AS hs,
             arrayStringConcat(arraySort((x, y) -> y, groupArray(q), groupArray(h)), ',') AS qs
      FROM (
      SELECT seg, toUnixTimestamp(hour) AS h, ${merge.running} AS q
      FROM (
        SELECT seg, hour, ${merge.hourly} AS x, max(latest_key) AS k
        FROM (
          SELECT segs.seg AS seg, u.hour AS hour, u.events AS events, u.sum_value AS sum_value, u.max_value AS max_value, u.min_value AS min_value,
                 u.latest_value AS latest_value, u.latest_key AS latest_key, u.uniq_values AS uniq_values
          FROM segs INNER JOIN (
            SELECT customer, hour, events, sum_value, max_value, min_value, latest_value, latest_key, uniq_values
            FROM ${ch.table('usage_hourly_v1')} FINAL
            WHERE tenant_id = {t:String} AND meter = {m:String} AND customer IN {custs:Array(String)}
              AND hour >= toDateTime({minH:UInt32}, 'UTC') AND hour < toDateTime({maxH:UInt32}, 'UTC') AND events > 0
          ) AS u ON u.customer = segs.customer
          WHERE u.hour >= segs.h_from AND u.hour < segs.h_to${partial}
        )
        GROUP BY seg, hour
      )
      WINDOW w AS (PARTITION BY seg ORDER BY hour ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
      )
      GROUP BY seg`,
    query_params: {
      ...eventParams(meter),
      t: tenantId,
      seg: requests.map((_, i) => i),
      cust: requests.map((r) => r.customer),
      hf: ranges.map((g) => g.hours.from / 1000),
      ht: ranges.map((g) => g.hours.to / 1000),
      custs: [...new Set(requests.map((r) => r.customer))],
      minH: minHour,
      maxH: maxHour,
      cSeg: clips.map((c) => c.seg),
      cCust: clips.map((c) => c.customer),
      cFrom: clips.map((c) => clickhouseTime(c.from)),
      cTo: clips.map((c) => clickhouseTime(c.to)),
      pCusts: [...new Set(clips.map((c) => c.customer))],
      pHours: [...new Set(clips.map((c) => floorHour(c.from) / 1000))],
    },
    // Tab-separated, each series' values joined by ',': one string per series instead of
    // hundreds (the values are digits, '.', '-' and ',', which the format never escapes).
    format: 'TabSeparated',
  });
  const series: Series[] = requests.map(() => Series.EMPTY);
  for (const line of (await rs.text()).split('\n')) {
    if (line === '') continue;
    const [seg, n, hs, qs] = line.split('\t') as [string, string, string, string];
    series[Number(seg)] = new Series(Number(n), hs, qs);
  }
  return series;
}

/** The raw events of the parts of hours a batch reads (customers and hours as parameters). */
const PARTIAL_EVENTS = 'tenant_id = {t:String} AND meter = {m:String} AND customer IN {pCusts:Array(String)} AND toStartOfHour(timestamp) IN {pHours:Array(DateTime)}';

/**
 * weighted_sum: the gauge integral of the range's hours (value x milliseconds, exact) — whole
 * hours from the rollups, parts of hours from the raw events — accumulated, each cumulative
 * value turned into value x hours rounded half-even to 6 places, so the range's quantity is
 * rounded once, as the usage API reports the same range. Only completed hours of whole-hour
 * ranges count, as in the usage API; a part of an hour counts up to its end.
 */
async function gaugeSeries(ch: ClickHouseStore, tenantId: string, meter: Meter, requests: readonly UsageRange[]): Promise<Series[]> {
  const out: Series[] = [];
  for (const r of requests) {
    const ranges = usageRanges(r.start, r.end);
    const pieces: { hour: number; valueMs: string }[] = [];
    const hours = Math.max(0, (ranges.hours.to - ranges.hours.from) / HOUR_MS);
    if (hours > 0) {
      const { rows } = await queryGauge(
        ch,
        { tenantId, meter, customer: r.customer, from: new Date(ranges.hours.from), to: new Date(ranges.hours.to), window: 'hour', tz: 'UTC', groupBy: [], limit: hours + 1, offset: 0 },
        { raw: true },
      );
      for (const row of rows) pieces.push({ hour: Date.parse(row.window_start), valueMs: row.value });
    }
    for (const c of ranges.clips) pieces.push({ hour: floorHour(c.from), valueMs: await gaugeClip(ch, tenantId, meter, r.customer, c.from, c.to) });
    pieces.sort((a, b) => a.hour - b.hour);
    let total = new Dec(0);
    const quantities: string[] = [];
    for (const p of pieces) {
      total = total.plus(p.valueMs);
      quantities.push(gaugeHours(total.toFixed()));
    }
    out.push(Series.of(pieces.map((p) => p.hour), quantities));
  }
  return out;
}

/**
 * The gauge integral over [from, to), inside one hour, in value x milliseconds: per group of
 * values, the number in force at `from` (the hour's earlier events, or else the latest value
 * of an earlier hour), then each event's number until the next.
 */
async function gaugeClip(ch: ClickHouseStore, tenantId: string, meter: Meter, customer: string, from: number, to: number): Promise<string> {
  const hour = floorHour(from);
  const params = { ...eventParams(meter), t: tenantId, c: customer, h: hour / 1000, to: clickhouseTime(to) };
  const before = await ch.client.query({
    query: `SELECT groups, toString(argMax(latest_value, hour)) AS v FROM ${ch.table('usage_hourly_v1')} FINAL
            WHERE tenant_id = {t:String} AND meter = {m:String} AND customer = {c:String} AND hour < toDateTime({h:UInt32}, 'UTC')
              AND events > 0 AND isNotNull(latest_value)
            GROUP BY groups`,
    query_params: params,
    format: 'JSONEachRow',
  });
  const events = await ch.client.query({
    query: `SELECT groups, ts_ms, toString(num) AS v FROM (${firstCopies(ch, meter, 'tenant_id = {t:String} AND meter = {m:String} AND customer = {c:String} AND toStartOfHour(timestamp) = toDateTime({h:UInt32}, \'UTC\') AND timestamp < {to:DateTime64(3, \'UTC\')}', meter.group_by.length)})
            WHERE isNotNull(num) ORDER BY key`,
    query_params: params,
    format: 'JSONEachRow',
  });
  const value = new Map<string, Dec>();
  const at = new Map<string, number>();
  let integral = new Dec(0);
  for (const b of await before.json<{ groups: string[]; v: string }>()) value.set(JSON.stringify(b.groups), new Dec(b.v));
  for (const e of await events.json<{ groups: string[]; ts_ms: number | string; v: string }>()) {
    const g = JSON.stringify(e.groups);
    const ts = Number(e.ts_ms);
    if (ts >= from) integral = integral.plus((value.get(g) ?? new Dec(0)).times(ts - Math.max(from, at.get(g) ?? from)));
    value.set(g, new Dec(e.v));
    at.set(g, Math.max(ts, from));
  }
  for (const [g, v] of value) integral = integral.plus(v.times(to - (at.get(g) ?? from)));
  return integral.toFixed();
}

/**
 * How the usage of [start, end) is read: the whole hours inside it come from the hourly
 * rollups; the pieces of at most two hours at its ends (when it does not start or end on the
 * hour) are aggregated from the raw events of exactly those instants.
 */
export interface UsageRanges {
  /** Whole hours [from, to), epoch ms; from ≥ to when there are none. */
  hours: { from: number; to: number };
  /** Parts of hours, each inside one hour. */
  clips: { from: number; to: number }[];
}

export function usageRanges(start: number, end: number): UsageRanges {
  if (end <= start) return { hours: { from: start, to: start }, clips: [] };
  const from = ceilHour(start);
  const to = floorHour(end);
  if (from > to) return { hours: { from, to: from }, clips: [{ from: start, to: end }] }; // within one hour
  const clips: { from: number; to: number }[] = [];
  if (start < from) clips.push({ from: start, to: from });
  if (to < end) clips.push({ from: to, to: end });
  return { hours: { from, to }, clips };
}
