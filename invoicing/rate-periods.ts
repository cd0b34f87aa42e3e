import { TallyError } from '../core/errors.js';
import type { ClickHouseStore } from '../core/clickhouse.js';
import type { Meter } from '../metering/meters.js';
import type { UsageQuerier } from '../metering/usage-querier.js';
import type { Charge } from '../catalog/plans.js';
import type { Period } from '../catalog/periods.js';
import type { RatingPool } from '../rating/pool.js';
import { readSeries, type SeriesRequest } from './quantities.js';
import { clickhouseTime } from '../core/time.js';
import type { Series } from '../rating/series.js';
import { liveWindow, segmentsOf, type Segment } from '../rating/segments.js';
import type { PlanVersion, SubscriptionFacts } from './subscription-facts.js';

/**
 * Rates billing periods of subscriptions: splits each period into plan segments, reads every
 * charge's cumulative hourly quantities, rates them on the worker pool (one task per card,
 * many series each), and, when asked, writes the hourly rated rows. Rows are written for every
 * hour that changed a quantity; each row's amount is what that hour adds, so the rows of a
 * segment sum exactly to the amount of its final quantity.
 */
export interface PeriodWork {
  sub: SubscriptionFacts;
  period: Period;
  /** Usage hours before this instant count (epoch ms); the period's end when closing. */
  horizon: number;
}

export interface ChargeRating {
  meter: string;
  charge: Charge;
  /** The segment's final quantity and amount (6 places). */
  quantity: string;
  amount: string;
  series: Series;
  /** What each hour of the series adds, joined by ','. */
  added: string;
}

export interface SegmentRating {
  segment: Segment<PlanVersion>;
  charges: ChargeRating[];
}

export interface PeriodRating {
  work: PeriodWork;
  window: { start: Date; end: Date; final: boolean } | undefined;
  segments: SegmentRating[];
}

export interface RateOptions {
  /** Write the hourly rated rows with this version (newer wins); undefined: rate only. */
  writeVersion?: bigint | undefined;
  onRated?: (ratings: number) => void;
}

export interface RatingDeps {
  /** The rated rows' store (rated_usage_v1 and its input table). */
  ch: ClickHouseStore;
  /** The metered usage (metering's hourly rollups). */
  usage: UsageQuerier;
  pool: RatingPool;
  /** Looks a meter up; close passes a preloaded map, as it rates inside a transaction. */
  meter: (tenantId: string, key: string) => Promise<Meter | undefined>;
}

interface Job {
  period: number;
  segment: number;
  charge: Charge;
  card: string;
  request: SeriesRequest;
}

export async function ratePeriods(deps: RatingDeps, work: readonly PeriodWork[], opts: RateOptions = {}): Promise<PeriodRating[]> {
  const results: PeriodRating[] = work.map((w) => {
    const window = liveWindow(w.period, w.sub.startDate, w.sub.canceledAt);
    const segments = window === undefined ? [] : segmentsOf(window, w.sub.history).map((segment) => ({ segment, charges: [] as ChargeRating[] }));
    return { work: w, window, segments };
  });

  // Every charge of every segment, grouped by (tenant, meter) for reading.
  const byMeter = new Map<string, { tenantId: string; meter: string; jobs: Job[] }>();
  results.forEach((r, p) => {
    r.segments.forEach((s, i) => {
      const end = Math.min(s.segment.end.getTime(), r.work.horizon);
      for (const charge of s.segment.plan.charges) {
        const key = `${r.work.sub.tenantId}\n${charge.meter}`;
        let group = byMeter.get(key);
        if (group === undefined) byMeter.set(key, (group = { tenantId: r.work.sub.tenantId, meter: charge.meter, jobs: [] }));
        group.jobs.push({
          period: p,
          segment: i,
          charge,
          card: `${r.work.sub.tenantId}\n${s.segment.plan.code}\n${s.segment.plan.version}\n${charge.meter}`,
          request: { customer: r.work.sub.customer, subscription: r.work.sub.id, segmentStart: s.segment.start, start: s.segment.start.getTime(), end: Math.max(s.segment.start.getTime(), end) },
        });
      }
    });
  });

  const rated: { job: Job; series: Series }[] = [];
  for (const group of byMeter.values()) {
    const meter = await deps.meter(group.tenantId, group.meter);
    if (meter === undefined) throw new Error(`meter ${group.meter} of tenant ${group.tenantId} is missing`);
    const series = await readSeries(deps, group.tenantId, meter, group.jobs.map((j) => j.request));
    group.jobs.forEach((job, i) => rated.push({ job, series: series[i]! }));
  }

  // One worker task per card.
  const byCard = new Map<string, { job: Job; series: Series }[]>();
  for (const r of rated) {
    const list = byCard.get(r.job.card) ?? [];
    list.push(r);
    byCard.set(r.job.card, list);
  }
  await Promise.all(
    [...byCard.values()].map(async (list) => {
      const { added, total } = await deps.pool.rateJoined(
        list[0]!.job.charge,
        list.map((r) => r.series.quantitiesText),
        list.map((r) => r.series.count),
      );
      list.forEach(({ job, series }, i) => {
        storable(job.charge.meter, series.last, total[i]!);
        results[job.period]!.segments[job.segment]!.charges.push({
          meter: job.charge.meter,
          charge: job.charge,
          quantity: series.last,
          amount: total[i]!,
          series,
          added: added[i]!,
        });
      });
      opts.onRated?.(list.reduce((n, r) => n + r.series.count, 0));
    }),
  );
  // Charges in the plan's order, whatever order the tasks finished in.
  for (const r of results) for (const s of r.segments) s.charges.sort((a, b) => s.segment.plan.charges.indexOf(a.charge) - s.segment.plan.charges.indexOf(b.charge));

  if (opts.writeVersion !== undefined) await writeRated(deps.ch, results, opts.writeVersion);
  return results;
}

/**
 * Rated quantities and amounts are kept as Decimal(38, 6), below 10^32. A price is below 10^12
 * and an event's value below 10^20, but a period's usage is a sum of events, so an absurd one
 * (10^23 units at the highest price) could rate past that: it is refused by name, for the
 * subscription it belongs to (the rater sets it aside, counts and alerts; the upcoming invoice
 * answers 409), rather than failing in the store with the engine's message.
 */
function storable(meter: string, quantity: string, amount: string): void {
  const digits = (d: string) => (d.startsWith('-') ? d.slice(1) : d).split('.')[0]!.length;
  if (digits(quantity) <= 32 && digits(amount) <= 32) return;
  const shown = (d: string) => (d.length > 48 ? `${d.slice(0, 48)}…` : d);
  throw new TallyError(
    'TALLY_ERR_AMOUNT_OUT_OF_RANGE',
    `the usage of ${meter} in the period (${shown(quantity)}) rates to ${shown(amount)}, beyond what invoices hold (amounts and quantities below 10^32)`,
    { field: 'meter' },
  );
}

/** Values (hours x series) per insert. */
const WRITE_BATCH = 1_000_000;

/**
 * Writes the rated rows of hours in [from, to) (epoch ms): one row of arrays per series into
 * rated_input_v1, which its materialized view spreads into rated_usage_v1 (see its migration).
 */
export async function writeRated(ch: ClickHouseStore, results: readonly PeriodRating[], version: bigint, from = -Infinity, to = Infinity): Promise<void> {
  const v = version.toString();
  let lines: string[] = [];
  let size = 0;
  const flush = async () => {
    if (lines.length === 0) return;
    // Quantities and amounts go as JSON number tokens: the engine reads a Decimal from the
    // token's digits exactly (no float on the way), and parses them faster than strings.
    await ch.client.command({
      query: `INSERT INTO ${ch.table('rated_input_v1')} (tenant_id, subscription_id, meter, segment_start, period_start, customer, plan_code, plan_version, hours, quantities, amounts, version)
              FORMAT JSONCompactEachRow\n${lines.join('\n')}`,
    });
    lines = [];
    size = 0;
  };
  for (const r of results) {
    const sub = r.work.sub;
    const periodStart = clickhouseTime(r.work.period.start.getTime());
    for (const s of r.segments) {
      const segStart = clickhouseTime(s.segment.start.getTime());
      for (const c of s.charges) {
        const rows = inRange(c, from, to);
        if (rows === undefined) continue;
        const head = JSON.stringify([sub.tenantId, sub.id, c.meter, segStart, periodStart, sub.customer, s.segment.plan.code, s.segment.plan.version]).slice(0, -1);
        lines.push(`${head},[${integers(rows.hours)}],[${decimals(rows.quantities)}],[${decimals(rows.added)}],${v}]`);
        size += rows.count;
        if (size >= WRITE_BATCH) await flush();
      }
    }
  }
  await flush();
}

/** A charge's hours in [from, to), as joined text: the whole series when it lies inside. */
function inRange(c: ChargeRating, from: number, to: number): { count: number; hours: string; quantities: string; added: string } | undefined {
  const span = c.series.span;
  if (span === undefined || span.last < from || span.first >= to) return undefined;
  if (span.first >= from && span.last < to) return { count: c.series.count, hours: c.series.hoursText, quantities: c.series.quantitiesText, added: c.added };
  // The series' hours ascend: keep the run of them inside [from, to).
  const { hours, quantities } = c.series;
  const added = c.added.split(',');
  let a = 0;
  while (a < hours.length && hours[a]! < from) a++;
  let b = a;
  while (b < hours.length && hours[b]! < to) b++;
  if (a === b) return undefined;
  return { count: b - a, hours: hours.slice(a, b).map((h) => h / 1000).join(','), quantities: quantities.slice(a, b).join(','), added: added.slice(a, b).join(',') };
}

const INTEGERS = /^\d+(,\d+)*$/;
const DECIMALS = /^-?\d+(\.\d+)?(,-?\d+(\.\d+)?)*$/;

/** Epoch seconds joined by ','; anything else is refused rather than sent. */
function integers(joined: string): string {
  if (!INTEGERS.test(joined)) throw new Error(`not integers joined by ',': ${JSON.stringify(joined.slice(0, 80))}`);
  return joined;
}

/** Decimal strings joined by ',', sent as JSON number tokens; anything else is refused rather than sent. */
function decimals(joined: string): string {
  if (!DECIMALS.test(joined)) throw new Error(`not decimals joined by ',': ${JSON.stringify(joined.slice(0, 80))}`);
  return joined;
}
