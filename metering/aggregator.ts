import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { engineMemory, type ClickHouseStore } from '../core/clickhouse.js';
import type { MemoryBound } from '../core/config/kinds.js';
import { errorSummary, storesDown } from '../core/isolate.js';
import type { PostgresStore } from '../core/postgres.js';
import type { Logger } from '../core/log.js';
import type { MeterRecord, MeterRepository } from './meters.js';
import type { Progress } from '../core/progress.js';
import { RetrySet, type RetryItem } from '../core/retry-set.js';
import { RECORD_ITEM, readRecordedThrough, readWatermark } from './aggregator-state.js';
import { recordLaterCopies } from './later-copies.js';
import { recomputeHours, type StatementLimits } from './rollup.js';
import { affectedMeters, CLOCK_ALLOWANCE_MS, hoursOf, visibleRows, windowTenants } from './run-window.js';
import { chTime } from './sql.js';
import { RepeatedWarnings } from '../core/repeated-warnings.js';

/** A meter set aside run after run is logged now and then, not every run (core/repeated-warnings.ts). */
const aggregatorWarnings = new RepeatedWarnings();

/**
 * The aggregator turns raw events into hourly usage. Each run:
 *  1. takes the lease (one run at a time across every process);
 *  2. finds the (tenant, meter, hour)s that received events since the watermark, by when each
 *     row became visible in the store (`visible_at`, the insert's own time), not when it was
 *     accepted: ingest acknowledges once an event is in its node's log, and the shipper may
 *     insert it seconds or (after a ClickHouse outage) hours later. It re-reads a margin
 *     before the watermark, because `visible_at` is stamped when an insert starts and the
 *     insert commits a little later, so rows can appear slightly "in the past";
 *  3. records the later copies among the rows made visible since then (later-copies.ts), so
 *     that recomputes leave out just their hours' recorded copies; a tenant whose record
 *     fails is kept in the retry set with its meters, which wait for it;
 *  4. recomputes those hours whole from the raw events made visible by its upper bound,
 *     leaving the recorded later copies out (late events simply land in their own hour and it
 *     is recomputed);
 *  5. backfills meters defined after their events arrived, each in one pass over its raw
 *     events;
 *  6. counts the window's rows again: one that committed while the run worked (stamped
 *     before the upper bound) may have been read without its later copies recorded, so the
 *     window is then recorded and recomputed once more, and if it grew again meanwhile the
 *     watermark stays where it was;
 *  7. only then moves the watermark.
 * A run killed at any point leaves the watermark where it was; the next run redoes the same
 * hours and writes the same rows.
 *
 * One tenant's meter never stops the others: a (tenant, meter) whose recompute or backfill
 * fails while both stores answer is logged, counted in
 * `tally_loop_item_failures_total{loop="aggregator"}` and skipped, and the run goes on. The
 * watermark still moves (holding it back would make every later run redo every tenant's
 * hours since the failure); what the skipped meter still needs is kept in a retry set
 * (core/retry-set.ts) as the instant its events must be read from again, and each later run
 * recomputes the hours of its events made visible since then, until one succeeds. Until then
 * the meter's usage is complete only up to that instant (`readMeterWatermark`, which the usage
 * API's `complete`, period close and the entitlement checks go by), and
 * `tally_aggregator_set_aside_lag_seconds` shows how far behind it is. A skipped
 * backfill is simply not marked done, so the next run backfills the meter again. A failure
 * with a store down fails the run and leaves the watermark where it was.
 */
export interface AggregatorOptions {
  ch: ClickHouseStore;
  pg: PostgresStore;
  meters: MeterRepository;
  logger: Logger;
  metrics: AggregatorMetrics;
  /** How far before the watermark each run re-reads (covers inserts still committing). */
  overlapMs: number;
  /** Events newer than now minus this are left for the next run. */
  settleMs: number;
  leaseSeconds: number;
  clock?: () => number;
  /** `tally_loop_item_failures_total` (core/metrics.ts loopMetrics). */
  itemFailures?: Counter<'loop'>;
  /**
   * What one recompute or record statement may hold: a size, or a share of the engine's own
   * bound (as the engine reports it); default half of it. A meter whose statement needs more
   * is set aside like any failing meter, and the rest of the engine's memory stays for ingest
   * and the other tenants.
   */
  queryMemory?: MemoryBound;
}

export interface RunReport {
  ran: boolean;
  watermark: Date;
  hoursRecomputed: number;
  metersBackfilled: number;
  /** (tenant, meter)s skipped by this run and kept for the next; absent when none. */
  setAside?: number;
}

export interface AggregatorMetrics {
  runs: Counter<'outcome'>;
  runDuration: Histogram;
  hours: Counter;
  backfillHoursLeft: Gauge;
  recounts: Counter<'outcome'>;
}

export function aggregatorMetrics(registry: Registry): AggregatorMetrics {
  const metrics: AggregatorMetrics = {
    runs: new Counter({ name: 'tally_aggregator_runs_total', help: 'Aggregator runs, by outcome (ok, busy, error).', labelNames: ['outcome'] as const, registers: [registry] }),
    runDuration: new Histogram({
      name: 'tally_aggregator_run_duration_seconds',
      help: 'Duration of aggregator runs that did work.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    hours: new Counter({ name: 'tally_aggregator_rollups_recomputed_total', help: 'Hourly rollups, one per (tenant, meter, hour), recomputed.', registers: [registry] }),
    backfillHoursLeft: new Gauge({ name: 'tally_aggregator_backfill_rollups_remaining', help: 'Hourly rollups a running backfill still has to recompute.', registers: [registry] }),
    recounts: new Counter({
      name: 'tally_aggregator_window_recounts_total',
      help: "Runs whose window gained rows while they worked (inserts committing late), by outcome: its record and recomputes done again (redone), or the window left to the next run (held).",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
  // Both outcomes exported from the start (at 0), so that their rates read from the first scrape.
  for (const outcome of ['redone', 'held']) metrics.recounts.inc({ outcome }, 0);
  return metrics;
}

const CHUNK_HOURS = 200;
const BACKFILL_PAUSE_MS = 30_000;
const BACKFILL_PAUSE_MAX_MS = 15 * 60_000;

export class Aggregator {
  private readonly owner = randomUUID();
  private readonly clock: () => number;
  private limits: StatementLimits | undefined;
  /** Meters whose backfill failed, by tenant and key: failures in a row, and when to try again. */
  private readonly backfillPauses = new Map<string, { failures: number; until: number }>();

  constructor(private readonly o: AggregatorOptions) {
    this.clock = o.clock ?? Date.now;
  }

  watermark(): Promise<Date> {
    return readWatermark(this.o.pg);
  }

  async runOnce(progress?: Progress): Promise<RunReport> {
    const started = process.hrtime.bigint();
    const watermark = await this.acquire();
    if (watermark === undefined) {
      this.o.metrics.runs.inc({ outcome: 'busy' });
      return { ran: false, watermark: await this.watermark(), hoursRecomputed: 0, metersBackfilled: 0 };
    }
    try {
      const now = this.clock();
      const upper = new Date(now - this.o.settleMs);
      const from = new Date(watermark.getTime() - this.o.overlapMs);
      const version = BigInt(now) * 1000n;
      const limits = await this.statementLimits();
      const meters = await this.o.meters.all();
      const byKey = new Map(meters.map((m) => [`${m.tenant_id}\n${m.key}`, m]));

      const systemic = storesDown(this.o.ch, this.o.pg);
      const retries = new RetrySet(this.o.pg, 'aggregator');
      const kept = await retries.list();
      const keptKeys = new Set(kept.map((k) => `${k.tenantId}\n${k.item}`));
      const failed: RetryItem[] = [];
      /** Runs one meter's work; a failure not caused by a store being down sets the meter aside. */
      const guarded = async (tenantId: string, meterKey: string, since: number, work: () => Promise<void>): Promise<boolean> => {
        try {
          await work();
          return true;
        } catch (e) {
          if (await systemic()) throw e;
          failed.push({ tenantId, item: meterKey, since });
          this.o.itemFailures?.inc({ loop: 'aggregator' });
          const { log, quiet } = aggregatorWarnings.take(`${tenantId}\n${meterKey}`, e);
          if (log) this.o.logger.warn({ tenant: tenantId, meter: meterKey, ...errorSummary(e), ...(quiet > 0 ? { failures_not_logged: quiet } : {}) }, 'aggregating a meter failed; it is set aside and done again on the next run');
          return false;
        }
      };

      // The later copies of the rows made visible since the record's last run (the whole
      // history when it has none yet), before any recompute reads the record.
      const recordedThrough = await readRecordedThrough(this.o.pg);
      const recordFrom = recordedThrough.getTime() < from.getTime() ? recordedThrough : from;
      const visibleBefore = await visibleRows(this.o.ch, recordFrom, upper);
      const unrecorded = await this.recordLaterCopies(kept, recordFrom, upper, limits, systemic, failed, progress);
      /**
       * A meter of a tenant whose later copies are not recorded waits with them. From its own
       * instant: its rollups before that are right (they were made with the record, or before
       * it by a lookup of their own); the record keeps its own instant.
       */
      const waitsForRecord = (tenantId: string, meterKey: string, since: number): boolean => {
        if (!unrecorded.has(tenantId)) return false;
        failed.push({ tenantId, item: meterKey, since });
        return true;
      };

      let hoursRecomputed = 0;
      const recompute = async (meter: MeterRecord, hours: readonly string[], v = version) => {
        await this.renew();
        for (let i = 0; i < hours.length; i += CHUNK_HOURS) await recomputeHours(this.o.ch, meter, { hours: hours.slice(i, i + CHUNK_HOURS), visibleThrough: chTime(upper) }, v, limits);
        hoursRecomputed += hours.length;
      };
      // Meters set aside by earlier runs: every hour of their events ingested since they failed.
      for (const k of kept) {
        const meter = byKey.get(`${k.tenantId}\n${k.item}`);
        if (meter === undefined || meter.backfilled_through === null) continue; // gone, or its backfill below covers it
        if (waitsForRecord(k.tenantId, k.item, k.since)) continue;
        await guarded(k.tenantId, k.item, k.since, async () => recompute(meter, await hoursOf(this.o.ch, meter, new Date(k.since), upper)));
      }
      // Only hours of meters already backfilled are recomputed here (the backfills below cover
      // the others whole), so without such meters there is nothing to look for: a new store's
      // first run would otherwise look up every event's copies for nothing.
      const affected = meters.some((m) => m.backfilled_through !== null) ? await affectedMeters(this.o.ch, from, upper) : [];
      for (const a of affected) {
        const meter = byKey.get(`${a.tenant_id}\n${a.meter}`);
        if (meter === undefined || meter.backfilled_through === null) continue; // no meter yet, or its backfill below covers it
        if (keptKeys.has(`${a.tenant_id}\n${a.meter}`)) continue; // done above, from further back
        if (waitsForRecord(a.tenant_id, a.meter, from.getTime())) continue;
        await guarded(a.tenant_id, a.meter, from.getTime(), () => recompute(meter, a.hours));
      }

      let metersBackfilled = 0;
      for (const meter of meters.filter((m) => m.backfilled_through === null && !unrecorded.has(m.tenant_id))) {
        // A failed backfill is not marked done: a later run backfills the meter again, once its
        // pause is over (`backfillDue`): a whole meter's pass that fails (beyond the memory
        // bound, say) is not worth repeating every few seconds.
        const key = `${meter.tenant_id}\n${meter.key}`;
        if (!this.backfillDue(key, now)) continue;
        const done = await guarded(meter.tenant_id, meter.key, from.getTime(), async () => {
          hoursRecomputed += await this.backfill(meter, upper, version, limits, progress);
          metersBackfilled++;
        });
        this.backfillOutcome(key, done, now);
      }

      // `visible_at` is stamped when an insert starts, and the insert commits a little later: a
      // row of the window that committed after the record was taken may have been read by a
      // recompute or backfill above without its later copies recorded (counted beside its first
      // copy). Rows are only added, so an unchanged count of the window's rows means every row
      // read was there when the record was taken. Otherwise the window is recorded again and its
      // hours recomputed once more; if it grew again meanwhile, the watermarks stay where they
      // were and the next run does the window again.
      const counted = await visibleRows(this.o.ch, recordFrom, upper);
      let settled = counted === visibleBefore;
      if (!settled) {
        const again = await this.recordLaterCopies([], recordFrom, upper, limits, systemic, failed, undefined, unrecorded);
        // Meters as they are now (this run's backfills done), rows under a newer version than
        // the ones written above.
        const current = new Map((await this.o.meters.all()).map((m) => [`${m.tenant_id}\n${m.key}`, m]));
        const setAside = new Set(failed.map((f) => `${f.tenantId}\n${f.item}`));
        for (const a of await affectedMeters(this.o.ch, recordFrom, upper)) {
          const meter = current.get(`${a.tenant_id}\n${a.meter}`);
          if (meter === undefined || meter.backfilled_through === null || again.has(a.tenant_id) || setAside.has(`${a.tenant_id}\n${a.meter}`)) continue;
          await guarded(a.tenant_id, a.meter, from.getTime(), () => recompute(meter, a.hours, version + 1n));
        }
        settled = (await visibleRows(this.o.ch, recordFrom, upper)) === counted;
        this.o.metrics.recounts.inc({ outcome: settled ? 'redone' : 'held' });
        this.o.logger.info({ settled }, 'rows of the window committed while the run worked; the window was recorded and recomputed again');
      }

      await retries.add(failed.filter((f) => byKey.get(`${f.tenantId}\n${f.item}`)?.backfilled_through !== null));
      const failedKeys = new Set(failed.map((f) => `${f.tenantId}\n${f.item}`));
      await retries.done(kept.filter((k) => !failedKeys.has(`${k.tenantId}\n${k.item}`)));
      if (settled) await this.o.pg.query("UPDATE aggregator_state SET watermark = $1, updated_at = now() WHERE name = 'later_copies'", [upper]);
      await this.release(settled ? upper : undefined);
      this.o.metrics.hours.inc(hoursRecomputed);
      this.o.metrics.runs.inc({ outcome: 'ok' });
      this.o.metrics.runDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      const setAside = failed.filter((f) => f.item !== RECORD_ITEM).length;
      return { ran: true, watermark: settled ? upper : watermark, hoursRecomputed, metersBackfilled, ...(setAside > 0 ? { setAside } : {}) };
    } catch (e) {
      this.o.metrics.runs.inc({ outcome: 'error' });
      await this.release(undefined).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Every hour that has events of this meter, recomputed in one pass over the meter's raw
   * events (an aggregation in the raw table's order, a few hundred thousand to a million
   * events a second), reported as one step of progress.
   */
  private async backfill(meter: MeterRecord, upper: Date, version: bigint, limits: StatementLimits, progress?: Progress): Promise<number> {
    const rs = await this.o.ch.client.query({
      query: `SELECT uniqExact(toStartOfHour(timestamp)) AS hours FROM ${this.o.ch.table('raw_events_v1')} WHERE tenant_id = {t:String} AND meter = {m:String}`,
      query_params: { t: meter.tenant_id, m: meter.key },
      format: 'JSONEachRow',
    });
    const hours = Number((await rs.json<{ hours: string }>())[0]?.hours ?? 0);
    progress?.start(hours, `backfill ${meter.key} (hours)`);
    this.o.metrics.backfillHoursLeft.set(hours);
    if (hours > 0) await this.renewingWhile(() => recomputeHours(this.o.ch, meter, { all: true, visibleThrough: chTime(upper) }, version, limits));
    progress?.tick(hours);
    this.o.metrics.backfillHoursLeft.set(0);
    progress?.stop();
    await this.o.meters.markBackfilled(meter.tenant_id, meter.key, upper);
    this.o.logger.info({ tenant: meter.tenant_id, meter: meter.key, hours }, 'meter backfilled');
    return hours;
  }

  /**
   * Records the later copies of the rows made visible in (from, upper] (later-copies.ts), and
   * for tenants an earlier run could not record, from the instant they wait from. Done for all
   * tenants in one pass; when that fails with the stores up, one tenant's rows may be the cause
   * (more than a statement may hold), so each tenant is recorded alone and those that fail are
   * kept in the retry set, their meters waiting with them. Returns those tenants, each with
   * the instant its record waits from.
   */
  private async recordLaterCopies(
    kept: readonly RetryItem[],
    from: Date,
    upper: Date,
    limits: StatementLimits,
    systemic: () => Promise<boolean>,
    failed: RetryItem[],
    progress?: Progress,
    unrecorded = new Map<string, number>(),
  ): Promise<Map<string, number>> {
    const record = async (tenantId: string | undefined, since: Date): Promise<boolean> => {
      try {
        await recordLaterCopies(this.o.ch, tenantId, { from: since.getTime() <= 0 ? undefined : since, upper, clockAllowanceMs: CLOCK_ALLOWANCE_MS }, limits);
        return true;
      } catch (e) {
        if ((await systemic()) || tenantId === undefined) throw e;
        if (!unrecorded.has(tenantId)) failed.push({ tenantId, item: RECORD_ITEM, since: since.getTime() });
        unrecorded.set(tenantId, Math.min(since.getTime(), unrecorded.get(tenantId) ?? Infinity));
        this.o.itemFailures?.inc({ loop: 'aggregator' });
        this.o.logger.warn({ tenant: tenantId, ...errorSummary(e) }, "recording a tenant's later copies failed; its meters wait and it is done again on the next run");
        return false;
      }
    };
    // A tenant kept from an earlier run is recorded from where it failed; it covers this
    // window too, so a failure is kept once, from that instant.
    for (const k of kept.filter((k) => k.item === RECORD_ITEM)) await this.renewingWhile(() => record(k.tenantId, new Date(k.since)));
    // The whole history (a store's first run after an upgrade brought the record) can take a
    // while on a large store: one step of progress, as a backfill's.
    const whole = from.getTime() <= 0;
    if (whole) progress?.start(1, 'record later copies (whole history)');
    try {
      await this.renewingWhile(() => record(undefined, from));
      if (whole) progress?.tick(1);
    } catch (e) {
      if (await systemic()) throw e;
      for (const tenantId of await windowTenants(this.o.ch, from, upper)) {
        if (!unrecorded.has(tenantId)) await this.renewingWhile(() => record(tenantId, from));
      }
    } finally {
      if (whole) progress?.stop();
    }
    return unrecorded;
  }

  /** Whether a meter's backfill may run now: not while the pause after its last failure lasts. */
  private backfillDue(key: string, now: number): boolean {
    return (this.backfillPauses.get(key)?.until ?? 0) <= now;
  }

  /** A failed backfill pauses 30 s, doubling with each failure in a row up to 15 minutes. */
  private backfillOutcome(key: string, done: boolean, now: number): void {
    if (done) {
      this.backfillPauses.delete(key);
      return;
    }
    const failures = (this.backfillPauses.get(key)?.failures ?? 0) + 1;
    this.backfillPauses.set(key, { failures, until: now + Math.min(BACKFILL_PAUSE_MAX_MS, BACKFILL_PAUSE_MS * 2 ** (failures - 1)) });
  }

  /** The bound of one statement, from `queryMemory` and the engine's own bound (read once). */
  private async statementLimits(): Promise<StatementLimits> {
    if (this.limits !== undefined) return this.limits;
    const bound = this.o.queryMemory ?? { percent: 50 };
    // A server that will not say (a user without access to its settings) leaves the statements
    // to its own limits, and is asked again on the next run.
    const engine = await Promise.all([engineMemory(this.o.ch), ratioSettingsKnown(this.o.ch)]).catch(() => null);
    if (engine === null) return { maxMemoryBytes: 'bytes' in bound ? bound.bytes : undefined, ratioSettings: false };
    const [{ limitBytes: engineBytes }, ratioSettings] = engine;
    const maxMemoryBytes = 'bytes' in bound ? bound.bytes : engineBytes === undefined ? undefined : Math.floor((engineBytes * bound.percent) / 100);
    return (this.limits = { maxMemoryBytes, ratioSettings });
  }

  /** Takes the lease; the stored watermark, or undefined when another run holds it. */
  private async acquire(): Promise<Date | undefined> {
    const { rows } = await this.o.pg.query<{ watermark: Date }>(
      `UPDATE aggregator_state SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
       WHERE name = 'hourly' AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $1) RETURNING watermark`,
      [this.owner, this.o.leaseSeconds],
    );
    return rows[0]?.watermark;
  }

  /**
   * Runs `work` while renewing the lease every third of it: a backfill is one query over all of
   * a meter's events, which can outlast the lease. A renewal that fails is left to the next
   * one (and to the release, which only moves the watermark while this run owns the lease).
   */
  private async renewingWhile<T>(work: () => Promise<T>): Promise<T> {
    await this.renew();
    const timer = setInterval(() => void this.renew().catch(() => undefined), Math.max(100, (this.o.leaseSeconds * 1000) / 3));
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  private async renew(): Promise<void> {
    await this.o.pg.query(
      "UPDATE aggregator_state SET lease_until = now() + make_interval(secs => $2) WHERE name = 'hourly' AND lease_owner = $1",
      [this.owner, this.o.leaseSeconds],
    );
  }

  private async release(watermark: Date | undefined): Promise<void> {
    await this.o.pg.query(
      `UPDATE aggregator_state SET lease_owner = NULL, lease_until = NULL, watermark = COALESCE($2, watermark), updated_at = now()
       WHERE name = 'hourly' AND lease_owner = $1`,
      [this.owner, watermark ?? null],
    );
  }
}

/** Whether the engine has the spill-ratio settings (see StatementLimits). */
async function ratioSettingsKnown(ch: ClickHouseStore): Promise<boolean> {
  const rs = await ch.client.query({
    query: "SELECT count() AS n FROM system.settings WHERE name IN ('max_bytes_ratio_before_external_group_by', 'max_bytes_ratio_before_external_sort')",
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string | number }>())[0]?.n ?? 0) === 2;
}
