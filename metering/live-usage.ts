import type { ClickHouseStore } from '../core/clickhouse.js';
import { ceilHour, clickhouseTime, floorHour } from '../core/time.js';
import type { MeterRecord } from './meters.js';
import { eventParams, firstCopies } from './rollup.js';

/** Aggregations whose usage over a range is the sum of its hours' (what a limit can count). */
export type AdditiveAggregation = 'sum' | 'count';

const ROLLUP: Record<AdditiveAggregation, string> = { sum: 'sum(sum_value)', count: 'toDecimal128(sum(events), 6)' };
const RAW: Record<AdditiveAggregation, string> = { sum: 'sum(ifNull(num, toDecimal128(0, 6)))', count: 'toDecimal128(count(), 6)' };

export function isAdditive(aggregation: string): aggregation is AdditiveAggregation {
  return aggregation === 'sum' || aggregation === 'count';
}

/**
 * One customer's usage of a sum or count meter over [from, to) (epoch ms), counting events as
 * soon as they are in the raw table, not only once the aggregator has rolled them up.
 *
 * An hour is read from its rollup only when none of its raw rows became visible after
 * `settledThrough` (the aggregator's watermark less its overlap: the rollup of such an hour
 * holds every one of its events). Every other hour (one with rows the aggregator may not have
 * counted yet, and the parts of hours where the range starts or ends inside one) is aggregated
 * from the first copies of its raw events, as the rollup itself would be. No hour is read from
 * both, so nothing counts twice, resent copies of an event included. A meter not backfilled
 * yet has no rollups to trust: all of it is read from the raw events.
 */
export async function liveTotal(ch: ClickHouseStore, meter: MeterRecord, customer: string, from: number, to: number, settledThrough: number): Promise<string> {
  if (!isAdditive(meter.aggregation)) throw new Error(`live usage adds hours up; ${meter.aggregation} meters do not add up`);
  if (to <= from) return '0';
  const raw = ch.table('raw_events_v1');
  const params: Record<string, unknown> = { ...eventParams(meter), t: meter.tenant_id, c: customer, from: clickhouseTime(from), to: clickhouseTime(to) };
  const inRange = 'tenant_id = {t:String} AND meter = {m:String} AND customer = {c:String} AND timestamp >= {from:DateTime64(3, \'UTC\')} AND timestamp < {to:DateTime64(3, \'UTC\')}';

  const wholeFrom = ceilHour(from);
  const wholeTo = floorHour(to);
  const rollups = meter.backfilled_through !== null && wholeFrom < wholeTo;
  let parts: string;
  if (!rollups) {
    parts = `SELECT ${RAW[meter.aggregation]} AS v FROM (${firstCopies(ch, meter, inRange, 0)})`;
  } else {
    const dirty = await ch.client.query({
      query: `SELECT arrayMap(h -> toUInt32(h), groupUniqArray(toUnixTimestamp(toStartOfHour(timestamp)))) AS hours FROM ${raw}
              WHERE ${inRange} AND visible_at > {s:DateTime64(6, 'UTC')}`,
      query_params: { ...params, s: `${clickhouseTime(settledThrough)}000` },
      format: 'JSONEachRow',
    });
    const hours = new Set(((await dirty.json<{ hours: (number | string)[] }>())[0]?.hours ?? []).map(Number));
    if (from < wholeFrom) hours.add(floorHour(from) / 1000);
    if (wholeTo < to) hours.add(wholeTo / 1000);
    params.rh = [...hours];
    params.hf = wholeFrom / 1000;
    params.ht = wholeTo / 1000;
    parts = `
      SELECT ${ROLLUP[meter.aggregation]} AS v FROM ${ch.table('usage_hourly_v1')} FINAL
      WHERE tenant_id = {t:String} AND meter = {m:String} AND customer = {c:String} AND events > 0
        AND hour >= toDateTime({hf:UInt32}, 'UTC') AND hour < toDateTime({ht:UInt32}, 'UTC')
        AND NOT has({rh:Array(UInt32)}, toUInt32(toUnixTimestamp(hour)))
      UNION ALL
      SELECT ${RAW[meter.aggregation]} AS v FROM (${firstCopies(ch, meter, `${inRange} AND has({rh:Array(UInt32)}, toUInt32(toUnixTimestamp(toStartOfHour(timestamp))))`, 0)})`;
  }
  const rs = await ch.client.query({ query: `SELECT toString(sum(v)) AS total FROM (${parts})`, query_params: params, format: 'JSONEachRow' });
  return (await rs.json<{ total: string }>())[0]?.total ?? '0';
}
