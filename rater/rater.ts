import type { ClickHouseStore } from '../core/clickhouse.js';
import type { PostgresStore } from '../core/postgres.js';
import type { MeterRepository } from '../aggregator/meters.js';
import type { Progress } from '../aggregator/aggregator.js';
import { periodAt, type Period } from '../catalog/periods.js';
import type { RatingPool } from './pool.js';
import { ratePeriods, writeRated, type PeriodRating, type PeriodWork, type RatingDeps } from './rating.js';
import { floorHour, HOUR_MS } from './segments.js';
import { loadSubscriptions, type SubscriptionFacts } from './source.js';
import type { RaterMetrics } from './metrics.js';

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
 */
export interface RaterDeps {
  ch: ClickHouseStore;
  pg: PostgresStore;
  pool: RatingPool;
  meters: MeterRepository;
  metrics: RaterMetrics;
  clock?: () => number;
  /** Periods rated per batch (default 500: bounds memory, as a batch's hourly series are held at once). */
  batchSize?: number;
  /** Called with each batch's ratings once they are written (usage alerts fire from here). */
  onRated?: (ratings: readonly PeriodRating[]) => Promise<void>;
}

export interface RateReport {
  periods: number;
  ratings: number;
}

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
    const { rows } = await this.d.pg.query<{ watermark: Date }>("SELECT watermark FROM aggregator_state WHERE name = 'rater'");
    const last = rows[0]?.watermark.getTime() ?? 0;
    const since = Math.max(0, last - MARGIN_MS);

    // (tenant, customer) → the earliest hour whose rollup changed.
    const rs = await this.d.ch.client.query({
      query: `SELECT tenant_id, customer, toUnixTimestamp(min(hour)) AS h FROM ${this.d.ch.table('usage_hourly_v1')}
              WHERE version > {v:UInt64} GROUP BY tenant_id, customer`,
      query_params: { v: (BigInt(since) * 1000n).toString() },
      format: 'JSONEachRow',
    });
    const changed = new Map<string, number>();
    for (const r of await rs.json<{ tenant_id: string; customer: string; h: number | string }>()) changed.set(`${r.tenant_id}\n${r.customer}`, Number(r.h) * 1000);

    const gaugeMeters = new Set((await this.d.meters.all()).filter((m) => m.aggregation === 'weighted_sum').map((m) => `${m.tenant_id}\n${m.key}`));
    const newHour = floorHour(started) > floorHour(last);
    const subs = await loadSubscriptions(this.d.pg);
    const work: PeriodWork[] = [];
    for (const sub of subs) {
      let from = changed.get(`${sub.tenantId}\n${sub.customer}`);
      if (sub.updatedAt.getTime() > since) from = Math.min(from ?? Infinity, sub.startDate.getTime());
      const gauged = newHour && sub.history.some((h) => h.plan.charges.some((c) => gaugeMeters.has(`${sub.tenantId}\n${c.meter}`)));
      if (gauged) from = Math.min(from ?? Infinity, started - HOUR_MS);
      if (from === undefined) continue;
      for (const period of periodsOverlapping(sub, from, started)) work.push({ sub, period, horizon: started });
    }
    const report = await this.rate(work, { version: BigInt(started) * 1000n }, progress);
    await this.d.pg.query("UPDATE aggregator_state SET watermark = $1, updated_at = now() WHERE name = 'rater'", [new Date(started)]);
    return report;
  }

  async rateRange(from: Date, to: Date, progress?: Progress): Promise<RateReport> {
    const now = this.clock();
    const subs = await loadSubscriptions(this.d.pg);
    const work: PeriodWork[] = [];
    for (const sub of subs) for (const period of periodsOverlapping(sub, from.getTime(), Math.min(to.getTime(), now))) work.push({ sub, period, horizon: Math.min(now, to.getTime()) });
    return this.rate(work, { version: BigInt(now) * 1000n, from: floorHour(from.getTime()), to: to.getTime() }, progress);
  }

  private async rate(work: PeriodWork[], o: { version: bigint; from?: number; to?: number }, progress?: Progress): Promise<RateReport> {
    const started = process.hrtime.bigint();
    const deps: RatingDeps = { ch: this.d.ch, pool: this.d.pool, meter: (t, k) => this.d.meters.get(t, k) };
    let ratings = 0;
    progress?.start(work.length, 'rate (periods)');
    // Batches run in LANES lanes, each reading, rating and writing its batch in turn: while
    // one lane waits on the engine, the other rates on the worker threads or builds its insert,
    // and the engine runs one lane's read beside the other's insert.
    const lanes = new Set<Promise<void>>();
    try {
      const size = this.d.batchSize ?? BATCH_PERIODS;
      for (let i = 0; i < work.length; i += size) {
        while (lanes.size >= LANES) await Promise.race(lanes);
        const lane: Promise<void> = this.rateBatch(deps, work.slice(i, i + size), o, progress, (n) => (ratings += n)).finally(() => lanes.delete(lane));
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
    return { periods: work.length, ratings };
  }

  /** Reads and rates a batch, writes its rated rows, then tells onRated (usage alerts) and counts it. */
  private async rateBatch(deps: RatingDeps, batch: PeriodWork[], o: { version: bigint; from?: number; to?: number }, progress: Progress | undefined, count: (n: number) => void): Promise<void> {
    const rated = await ratePeriods(deps, batch, {
      onRated: (n) => {
        count(n);
        this.d.metrics.ratings.inc(n);
      },
    });
    await writeRated(this.d.ch, rated, o.version, o.from, o.to);
    await this.d.onRated?.(rated);
    progress?.tick(batch.length);
    this.d.metrics.periods.inc(batch.length);
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
