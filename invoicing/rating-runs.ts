import type { Counter } from 'prom-client';
import type { ClickHouseStore } from '../core/clickhouse.js';
import { errorSummary, isolate, storesDown } from '../core/isolate.js';
import type { Logger } from '../core/log.js';
import type { PostgresStore } from '../core/postgres.js';
import type { MeterRepository } from '../metering/meters.js';
import type { Progress } from '../core/progress.js';
import type { UsageQuerier } from '../metering/usage-querier.js';
import { RetrySet } from '../core/retry-set.js';
import { periodAt, type Period } from '../catalog/periods.js';
import { unstorableField } from '../catalog/subscription-dates.js';
import type { RatingPool } from '../rating/pool.js';
import { ratePeriods, writeRated, type PeriodRating, type PeriodWork, type RatingDeps } from './rate-periods.js';
import { floorHour, HOUR_MS } from '../core/time.js';
import { loadSubscriptions, type SubscriptionFacts } from './subscription-facts.js';
import type { RaterMetrics } from './metrics.js';
import { readRaterPosition, saveRaterPosition } from './rater-position.js';
import { RepeatedWarnings } from '../core/repeated-warnings.js';

/** A subscription set aside run after run is logged now and then, not every run (core/repeated-warnings.ts). */
const raterWarnings = new RepeatedWarnings();

/**
 * Keeps the hourly rated usage current.
 *
 * - `runOnce` (incremental): rates again every period touched by hourly rollups written since
 *   the last run (late events included), every period of a subscription changed since then,
 *   and, once per new hour, the open periods of time-weighted (gauge) charges, which grow
 *   without events. Its position is kept in Postgres; it re-reads a margin before it, because
 *   an aggregator run stamps its rows with the time it started.
 * - `rateRange`: rates again every period overlapping [from, to) and writes the hours in it.
 *
 * Rating is idempotent (a period rated twice writes the same rows, the newer version wins), so
 * overlapping or concurrent runs are harmless.
 *
 * One subscription never stops the others: a batch that fails is split until the periods that
 * fail on their own are found (core/isolate.ts); those subscriptions are logged, counted in
 * `tally_loop_item_failures_total{loop="rater"}` and set aside, and the run rates the rest and
 * moves its position on. Holding the position back instead would make every later run redo all
 * usage since the failure (for ever, if the subscription stays bad), so a set-aside subscription
 * keeps its own position in a retry set (core/retry-set.ts): every later run rates it again
 * from there, until one succeeds. A subscription whose dates the stores cannot hold is set aside
 * without being tried. A failure with a store down is not the subscription's: the run fails and
 * its position stays.
 */
export interface RaterDeps {
  /** The rated rows' store. */
  ch: ClickHouseStore;
  /** The metered usage: what changed since the last run, and the quantities to rate. */
  usage: UsageQuerier;
  pg: PostgresStore;
  pool: RatingPool;
  meters: MeterRepository;
  metrics: RaterMetrics;
  clock?: () => number;
  /** Periods rated per batch (default 500: bounds memory, as a batch's hourly series are held at once). */
  batchSize?: number;
  /** Called with each batch's ratings once they are written (usage alerts fire from here). */
  onRated?: (ratings: readonly PeriodRating[]) => Promise<void>;
  logger?: Logger;
  /** `tally_loop_item_failures_total` (core/metrics.ts loopMetrics). */
  itemFailures?: Counter<'loop'>;
}

export interface RateReport {
  periods: number;
  ratings: number;
  /** Subscriptions set aside (logged and counted; the incremental run rates them again next time). */
  setAside: number;
}

/** A subscription's key in the run's maps. */
const keyOf = (sub: { tenantId: string; id: string }) => `${sub.tenantId}\n${sub.id}`;

const MARGIN_MS = 10 * 60_000;
const BATCH_PERIODS = 500;
/** Batches in flight at once (see rate). */
const LANES = 3;

export class Rater {
  private readonly clock: () => number;

  constructor(private readonly d: RaterDeps) {
    this.clock = d.clock ?? Date.now;
  }

  async runOnce(progress?: Progress): Promise<RateReport> {
    const started = this.clock();
    const last = await readRaterPosition(this.d.pg);
    const since = Math.max(0, last - MARGIN_MS);

    // (tenant, customer) → the earliest hour whose rollup changed.
    const changed = new Map((await this.d.usage.customersChangedSince(since)).map((c) => [`${c.tenantId}\n${c.customer}`, c.firstHour]));

    const gaugeMeters = new Set((await this.d.meters.all()).filter((m) => m.aggregation === 'weighted_sum').map((m) => `${m.tenant_id}\n${m.key}`));
    const newHour = floorHour(started) > floorHour(last);
    const retries = new RetrySet(this.d.pg, 'rater');
    const kept = await retries.list();
    const keptFrom = new Map(kept.map((k) => [`${k.tenantId}\n${k.item}`, k.since]));
    const subs = await loadSubscriptions(this.d.pg);
    const work: PeriodWork[] = [];
    // Where each subscription is rated from, kept for those set aside.
    const froms = new Map<string, { sub: SubscriptionFacts; from: number }>();
    const unstorable = new Map<string, unknown>();
    for (const sub of subs) {
      let from = changed.get(`${sub.tenantId}\n${sub.customer}`);
      if (sub.updatedAt.getTime() > since) from = Math.min(from ?? Infinity, sub.startDate.getTime());
      const gauged = newHour && sub.history.some((h) => h.plan.charges.some((c) => gaugeMeters.has(`${sub.tenantId}\n${c.meter}`)));
      if (gauged) from = Math.min(from ?? Infinity, started - HOUR_MS);
      const retry = keptFrom.get(keyOf(sub));
      if (retry !== undefined) from = Math.min(from ?? Infinity, retry);
      if (from === undefined) continue;
      froms.set(keyOf(sub), { sub, from });
      const field = unstorableField(sub);
      if (field !== undefined) {
        unstorable.set(keyOf(sub), new RangeError(`its ${field} is outside what the stores hold`));
        continue;
      }
      for (const period of periodsOverlapping(sub, from, started)) work.push({ sub, period, horizon: started });
    }
    const report = await this.rate(work, { version: BigInt(started) * 1000n }, progress, unstorable);
    const failed = new Set(report.failed.keys());
    await retries.add([...failed].map((key) => ({ tenantId: froms.get(key)!.sub.tenantId, item: froms.get(key)!.sub.id, since: froms.get(key)!.from })));
    await retries.done(kept.filter((k) => !failed.has(`${k.tenantId}\n${k.item}`)));
    await saveRaterPosition(this.d.pg, started);
    return { periods: report.periods, ratings: report.ratings, setAside: report.setAside };
  }

  async rateRange(from: Date, to: Date, progress?: Progress): Promise<RateReport> {
    const now = this.clock();
    const subs = await loadSubscriptions(this.d.pg);
    const work: PeriodWork[] = [];
    const unstorable = new Map<string, unknown>();
    for (const sub of subs) {
      const field = unstorableField(sub);
      if (field !== undefined) unstorable.set(keyOf(sub), new RangeError(`its ${field} is outside what the stores hold`));
      else for (const period of periodsOverlapping(sub, from.getTime(), Math.min(to.getTime(), now))) work.push({ sub, period, horizon: Math.min(now, to.getTime()) });
    }
    const report = await this.rate(work, { version: BigInt(now) * 1000n, from: floorHour(from.getTime()), to: to.getTime() }, progress, unstorable);
    return { periods: report.periods, ratings: report.ratings, setAside: report.setAside };
  }

  /**
   * Rates the work in batches; `failed` starts with the subscriptions set aside before any
   * rating (their dates), and ends with every subscription set aside, keyed by keyOf.
   */
  private async rate(work: PeriodWork[], o: { version: bigint; from?: number; to?: number }, progress: Progress | undefined, failed: Map<string, unknown>): Promise<RateReport & { failed: Map<string, unknown> }> {
    const started = process.hrtime.bigint();
    const deps: RatingDeps = { ch: this.d.ch, usage: this.d.usage, pool: this.d.pool, meter: (t, k) => this.d.meters.get(t, k) };
    for (const [key, error] of failed) this.setAside(key, error);
    let ratings = 0;
    const systemic = storesDown(this.d.ch, this.d.pg);
    // A failed batch is split until the periods that fail alone are found; their subscriptions are set aside.
    const rateIsolated = (batch: PeriodWork[]) =>
      isolate(batch, (items) => this.rateBatch(deps, [...items], o, (n) => (ratings += n)), {
        systemic,
        setAside: (w, error) => {
          const key = keyOf(w.sub);
          if (failed.has(key)) return;
          failed.set(key, error);
          this.setAside(key, error);
        },
      }).then(() => progress?.tick(batch.length));
    progress?.start(work.length, 'rate (periods)');
    // Batches run in LANES lanes, each reading, rating and writing its batch in turn: while
    // one lane waits on the engine, the other rates on the worker threads or builds its insert,
    // and the engine runs one lane's read beside the other's insert.
    const lanes = new Set<Promise<void>>();
    try {
      const size = this.d.batchSize ?? BATCH_PERIODS;
      for (let i = 0; i < work.length; i += size) {
        while (lanes.size >= LANES) await Promise.race(lanes);
        const lane: Promise<void> = rateIsolated(work.slice(i, i + size)).finally(() => lanes.delete(lane));
        lanes.add(lane);
        // Awaited in the loop or after it; until then a failure must not go unhandled.
        lane.catch(() => undefined);
      }
      await Promise.all(lanes);
      this.d.metrics.runs.inc({ outcome: 'ok' });
    } catch (e) {
      // Batches still in flight finish (or fail) before the run reports its failure.
      await Promise.allSettled(lanes);
      this.d.metrics.runs.inc({ outcome: 'error' });
      throw e;
    } finally {
      progress?.stop();
      this.d.metrics.runDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
    return { periods: work.length, ratings, setAside: failed.size, failed };
  }

  /** Reads and rates a batch, writes its rated rows, then tells onRated (usage alerts) and counts it. */
  private async rateBatch(deps: RatingDeps, batch: PeriodWork[], o: { version: bigint; from?: number; to?: number }, count: (n: number) => void): Promise<void> {
    let n = 0;
    const rated = await ratePeriods(deps, batch, { onRated: (r) => (n += r) });
    await writeRated(this.d.ch, rated, o.version, o.from, o.to);
    await this.d.onRated?.(rated);
    // Counted once the batch is done: a batch that fails is rated again in parts.
    count(n);
    this.d.metrics.ratings.inc(n);
    this.d.metrics.periods.inc(batch.length);
  }

  private setAside(key: string, error: unknown): void {
    const [tenant, subscription] = key.split('\n');
    this.d.itemFailures?.inc({ loop: 'rater' });
    const { log, quiet } = raterWarnings.take(key, error);
    if (log) this.d.logger?.warn({ tenant, subscription, ...errorSummary(error), ...(quiet > 0 ? { failures_not_logged: quiet } : {}) }, 'rating a subscription failed; it is set aside and rated again on the next run');
  }
}

/** The billing periods of a subscription that overlap [from, to) while it was live. */
export function periodsOverlapping(sub: SubscriptionFacts, from: number, to: number): Period[] {
  const end = Math.min(to, sub.canceledAt?.getTime() ?? Infinity);
  const start = Math.max(from, sub.startDate.getTime());
  if (end <= start) return [];
  const out: Period[] = [];
  let p = periodAt(sub.startDate, sub.interval, new Date(start));
  while (p.start.getTime() < end) {
    out.push(p);
    p = periodAt(sub.startDate, sub.interval, p.end);
  }
  return out;
}
