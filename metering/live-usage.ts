import type { ClickHouseStore } from '../core/clickhouse.js';
import { ceilHour, clickhouseTime, floorHour } from '../core/time.js';
import type { MeterRecord } from './meters.js';
import { eventParams, firstCopies } from './rollup.js';

/** Aggregations whose usage over a range is the sum of its hours' (what a limit can count). */
export type AdditiveAggregation = 'sum' | 'count';

const ROLLUP: Record<AdditiveAggregation, string> = { sum: 'sum_value', count: 'toDecimal128(events, 6)' };
const RAW: Record<AdditiveAggregation, string> = { sum: 'ifNull(num, toDecimal128(0, 6))', count: 'toDecimal128(1, 6)' };

export function isAdditive(aggregation: string): aggregation is AdditiveAggregation {
  return aggregation === 'sum' || aggregation === 'count';
}

/** A customer's window [from, to) in epoch ms. */
export interface LiveWindow {
  customer: string;
  from: number;
  to: number;
}

/** Windows per query, and the bytes of parameters one query carries at most (a server takes them in its URL). */
const CHUNK = 2_000;
const CHUNK_BYTES = 200_000;

/**
 * Customers' usage of a sum or count meter over their windows, counting events as soon as they
 * are in the raw table, not only once the aggregator has rolled them up; one decimal string
 * per window, in order. Every window of a chunk is answered by the same two queries.
 *
 * An hour is read from its rollup only when none of the customer's raw rows of that hour became
 * visible after `settledThrough` (the meter's watermark less the aggregator's overlap: the rollup of
 * such an hour holds every one of its events). Every other hour (one with rows the aggregator
 * may not have counted yet, and the hours where a window starts or ends inside one) is
 * aggregated from the first copies of its raw events, as the rollup itself would be. No hour
 * is read from both, so nothing counts twice, resent copies of an event included. A meter not
 * backfilled yet has no rollups to trust: all of it is read from the raw events.
 */
export async function liveTotals(ch: ClickHouseStore, meter: MeterRecord, windows: readonly LiveWindow[], settledThrough: number): Promise<string[]> {
  if (!isAdditive(meter.aggregation)) throw new Error(`live usage adds hours up; ${meter.aggregation} meters do not add up`);
  const out: string[] = [];
  let start = 0;
  while (start < windows.length) {
    // A window costs its customer id (twice: the window and the customer list, URL-encoded
    // up to 3 bytes a byte), its numbers and its edge hours; hours read raw cost ~30 bytes each.
    let end = start;
    let bytes = 0;
    while (end < windows.length && end - start < CHUNK && (end === start || bytes < CHUNK_BYTES)) {
      bytes += 6 * Buffer.byteLength(windows[end]!.customer) + 120;
      end++;
    }
    out.push(...(await chunkTotals(ch, meter, meter.aggregation, windows.slice(start, end), settledThrough)));
    start = end;
  }
  return out;
}

async function chunkTotals(ch: ClickHouseStore, meter: MeterRecord, aggregation: AdditiveAggregation, windows: readonly LiveWindow[], settledThrough: number): Promise<string[]> {
  const live = windows.map((w, i) => ({ ...w, i })).filter((w) => w.to > w.from);
  const totals = windows.map(() => '0');
  if (live.length === 0) return totals;
  const raw = ch.table('raw_events_v1');
  const customers = [...new Set(live.map((w) => w.customer))];
  const minFrom = Math.min(...live.map((w) => w.from));
  const maxTo = Math.max(...live.map((w) => w.to));
  const params: Record<string, unknown> = { ...eventParams(meter), t: meter.tenant_id, cs: customers, from: clickhouseTime(minFrom), to: clickhouseTime(maxTo) };
  const inRange = "tenant_id = {t:String} AND meter = {m:String} AND customer IN {cs:Array(String)} AND timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}";
  const allRaw = meter.backfilled_through === null;

  // Per customer, the hours with rows visible after settledThrough: their rollups may miss some.
  const dirty = new Map<string, number[]>();
  if (!allRaw) {
    const rs = await ch.client.query({
      query: `SELECT customer, arrayMap(h -> toUInt32(h), groupUniqArray(toUnixTimestamp(toStartOfHour(timestamp)))) AS hours FROM ${raw}
              WHERE ${inRange} AND visible_at > {s:DateTime64(6, 'UTC')} GROUP BY customer`,
      query_params: { ...params, s: `${clickhouseTime(settledThrough)}000` },
      format: 'JSONEachRow',
    });
    for (const r of await rs.json<{ customer: string; hours: (number | string)[] }>()) dirty.set(r.customer, r.hours.map((h) => Number(h) * 1000));
  }
  // Per window: the whole hours read from rollups, [hourFrom, hourTo), less the hours read raw.
  const rawHours = live.map((w) => {
    if (allRaw) return [];
    const hours = new Set((dirty.get(w.customer) ?? []).filter((h) => h >= floorHour(w.from) && h < w.to));
    if (w.from < ceilHour(w.from)) hours.add(floorHour(w.from));
    if (floorHour(w.to) < w.to) hours.add(floorHour(w.to));
    return [...hours].map((h) => h / 1000);
  });
  // The (customer, hour) pairs read raw; a customer as its place in `cs`, to keep the parameters short.
  const place = new Map(customers.map((c, k) => [c, k + 1]));
  const pairs = new Set<string>();
  const rc: number[] = [];
  const rh: number[] = [];
  live.forEach((w, k) => {
    for (const h of rawHours[k]!) {
      const key = `${w.customer}\n${h}`;
      if (!pairs.has(key)) {
        pairs.add(key);
        rc.push(place.get(w.customer)!);
        rh.push(h);
      }
    }
  });
  Object.assign(params, {
    wi: live.map((w) => w.i),
    wc: live.map((w) => w.customer),
    wf: live.map((w) => w.from),
    wt: live.map((w) => w.to),
    whf: live.map((w) => (allRaw ? 0 : ceilHour(w.from) / 1000)),
    wht: live.map((w) => (allRaw ? 0 : Math.max(ceilHour(w.from), floorHour(w.to)) / 1000)),
    wr: rawHours,
    rc,
    rh,
    hmin: ceilHour(minFrom) / 1000,
    hmax: floorHour(maxTo) / 1000,
  });
  const hourOf = 'toUInt32(toUnixTimestamp(toStartOfHour(timestamp)))';
  const rawWhere = allRaw ? inRange : `${inRange} AND (customer, ${hourOf}) IN (SELECT arrayElement({cs:Array(String)}, tupleElement(p, 1)), tupleElement(p, 2) FROM (SELECT arrayJoin(arrayZip({rc:Array(UInt32)}, {rh:Array(UInt32)})) AS p))`;
  const rs = await ch.client.query({
    query: `
      WITH w AS (
        SELECT tupleElement(x, 1) AS i, tupleElement(x, 2) AS customer,
               fromUnixTimestamp64Milli(tupleElement(x, 3), 'UTC') AS w_from, fromUnixTimestamp64Milli(tupleElement(x, 4), 'UTC') AS w_to,
               toDateTime(tupleElement(x, 5), 'UTC') AS h_from, toDateTime(tupleElement(x, 6), 'UTC') AS h_to, tupleElement(x, 7) AS raw_hours
        FROM (SELECT arrayJoin(arrayZip({wi:Array(UInt32)}, {wc:Array(String)}, {wf:Array(Int64)}, {wt:Array(Int64)}, {whf:Array(UInt32)}, {wht:Array(UInt32)}, {wr:Array(Array(UInt32))})) AS x)
      )
      SELECT i, toString(sum(v)) AS total FROM (
        SELECT w.i AS i, u.v AS v FROM w INNER JOIN (
          SELECT customer, hour, ${ROLLUP[aggregation]} AS v FROM ${ch.table('usage_hourly_v1')} FINAL
          WHERE tenant_id = {t:String} AND meter = {m:String} AND customer IN {cs:Array(String)} AND events > 0
            AND hour >= toDateTime({hmin:UInt32}, 'UTC') AND hour < toDateTime({hmax:UInt32}, 'UTC')
        ) AS u ON u.customer = w.customer
        WHERE u.hour >= w.h_from AND u.hour < w.h_to AND NOT has(w.raw_hours, toUInt32(toUnixTimestamp(u.hour)))
        UNION ALL
        SELECT w.i AS i, ${RAW[aggregation]} AS v FROM w INNER JOIN (${firstCopies(ch, meter, rawWhere, 0)}) AS e ON e.customer = w.customer
        WHERE e.ts >= w.w_from AND e.ts < w.w_to AND (${allRaw ? 1 : 0} OR has(w.raw_hours, toUInt32(toUnixTimestamp(e.hour))))
      )
      GROUP BY i`,
    query_params: params,
    format: 'JSONEachRow',
  });
  for (const r of await rs.json<{ i: number | string; total: string }>()) totals[Number(r.i)] = r.total;
  return totals;
}
