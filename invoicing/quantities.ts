import type { ClickHouseStore } from '../core/clickhouse.js';
import type { Meter } from '../metering/meters.js';
import type { UsageQuerier } from '../metering/usage-querier.js';
import { ceilHour, floorHour } from '../core/time.js';
import { Series } from '../rating/series.js';

/**
 * Reads what the rater rates: for each requested segment (a customer's usage of one meter over
 * a range of whole hours), the cumulative quantity of the segment at the end of every hour
 * that changed it. The usage comes from metering (UsageQuerier.cumulativeHourly: the hourly
 * rollups, and the raw events for parts of hours).
 *
 * Hours rated earlier for the segment that no longer have usage — an event's first copy moved,
 * or the segment now ends earlier (a plan change or cancellation inside it) — are read from the
 * rated rows too and kept, with nothing added (the quantity of the hour before, or 0), so
 * re-rating overwrites them instead of leaving a stale amount behind. Both reads of a batch are
 * one query each, run side by side.
 */
export interface SeriesRequest {
  customer: string;
  subscription: string;
  segmentStart: Date;
  /** The usage to read: events with timestamps in [start, end), epoch milliseconds. */
  start: number;
  end: number;
}

export interface SeriesDeps {
  ch: ClickHouseStore;
  usage: UsageQuerier;
}

/** Segments per read: bounds the size of the queries' parameters. */
const BATCH = 4_000;

export async function readSeries(deps: SeriesDeps, tenantId: string, meter: Meter, requests: readonly SeriesRequest[]): Promise<Series[]> {
  const out: Series[] = [];
  for (let i = 0; i < requests.length; i += BATCH) {
    const batch = requests.slice(i, i + BATCH);
    // Rated hours kept from: the segment's first hour; for a gauge, the hours after its end
    // (every completed hour inside it has a value of its own once the gauge has one).
    const from = batch.map((r) => (meter.aggregation === 'weighted_sum' ? ceilHour(r.end) : floorHour(r.start)));
    const [usage, rated] = await Promise.all([deps.usage.cumulativeHourly(tenantId, meter, batch), ratedHours(deps.ch, tenantId, meter.key, batch, from)]);
    usage.forEach((series, k) => out.push(withRatedHours(series, rated[k])));
  }
  return out;
}

/**
 * Per segment, the hours at or after `from[i]` (epoch ms) that its rated rows hold, as epoch
 * seconds ascending joined by ',' (undefined: none). One small query for the batch: the hours
 * of its subscriptions' segments, each segment's cut at its instant here. Read without FINAL:
 * the versions of a row share its key, hour included, so the set of hours is the same, and the
 * engine does not merge the parts of a table being written as it is read.
 */
async function ratedHours(ch: ClickHouseStore, tenantId: string, meter: string, requests: readonly SeriesRequest[], from: readonly number[]): Promise<(string | undefined)[]> {
  const subs = [...new Set(requests.map((r) => r.subscription))];
  const rs = await ch.client.query({
    query: `SELECT indexOf({subs:Array(String)}, subscription_id) AS sub, toUnixTimestamp64Milli(segment_start) AS seg_start,
                   arrayStringConcat(arraySort(groupUniqArray(toUnixTimestamp(hour))), ',') AS hs
            FROM ${ch.table('rated_usage_v1')}
            WHERE tenant_id = {t:String} AND meter = {m:String} AND subscription_id IN {subs:Array(String)} AND hour >= toDateTime({minH:UInt32}, 'UTC')
            GROUP BY subscription_id, segment_start`,
    query_params: { t: tenantId, m: meter, subs, minH: Math.min(...from) / 1000 },
    format: 'TabSeparated',
  });
  // By the subscription's place in `subs` (1-based, as the engine counts) and the segment's start.
  const held = new Map<string, string>();
  for (const line of (await rs.text()).split('\n')) {
    if (line === '') continue;
    const [sub, segStart, hs] = line.split('\t') as [string, string, string];
    held.set(`${sub}\n${segStart}`, hs);
  }
  const place = new Map(subs.map((s, i) => [s, i + 1]));
  return requests.map((r, i) => {
    const hs = held.get(`${place.get(r.subscription)}\n${r.segmentStart.getTime()}`);
    return hs === undefined ? undefined : atOrAfter(hs, from[i]! / 1000);
  });
}

/** The hours (epoch seconds, ascending, joined by ',') at or after `from`; undefined when none. */
function atOrAfter(hours: string, from: number): string | undefined {
  const comma = hours.indexOf(',');
  if (Number(comma < 0 ? hours : hours.slice(0, comma)) >= from) return hours;
  const kept = hours.split(',').filter((h) => Number(h) >= from);
  return kept.length === 0 ? undefined : kept.join(',');
}

/** The usage series with the rated hours it lacks, each holding the quantity of the hour before it (0 before the first). */
export function withRatedHours(usage: Series, rated: string | undefined): Series {
  if (rated === undefined || rated === '') return usage;
  // Usually the rated hours are the usage's hours, or the first of them (usage grew since).
  const text = usage.hoursText;
  if (text === rated || (text.startsWith(rated) && text[rated.length] === ',')) return usage;
  const hours = usage.hours;
  const quantities = usage.quantities;
  const outHours: number[] = [];
  const outQuantities: string[] = [];
  let i = 0;
  let last = '0';
  let added = 0;
  for (const h of rated.split(',').map((s) => Number(s) * 1000)) {
    while (i < hours.length && hours[i]! <= h) {
      outHours.push(hours[i]!);
      outQuantities.push((last = quantities[i]!));
      i++;
    }
    if (outHours[outHours.length - 1] === h) continue;
    outHours.push(h);
    outQuantities.push(last);
    added++;
  }
  if (added === 0) return usage;
  for (; i < hours.length; i++) {
    outHours.push(hours[i]!);
    outQuantities.push(quantities[i]!);
  }
  return Series.of(outHours, outQuantities);
}
