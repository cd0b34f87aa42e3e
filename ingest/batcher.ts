import { TallyError } from '../core/errors.js';
import type { EventRow } from './event.js';
import type { IngestMetrics } from './metrics.js';
import type { EventWriter } from './writer.js';

export interface BatcherOptions {
  batchRows: number;
  flushMs: number;
  maxBuffered: number;
  concurrency: number;
  retryAfterSeconds: number;
}

/** A row the store refused, by its position in the rows its request submitted. */
export interface RefusedRow {
  position: number;
  /** The store's error type (e.g. CANNOT_PARSE_ESCAPE_SEQUENCE), never its message: that may quote rows. */
  reason: string;
}

interface Waiter {
  /** Where this request's rows sit in the batch. */
  start: number;
  count: number;
  settled: boolean;
  /** Set once settled: true when all its rows went in. */
  refusedNone?: boolean;
  resolve: (refused: RefusedRow[]) => void;
  reject: (e: unknown) => void;
}

interface Batch {
  rows: EventRow[];
  waiters: Waiter[];
}

/**
 * Inserts one request's rows may cost while its bad rows are searched for; the rows still
 * undecided after that are refused with them (they are that request's own rows, so no one
 * else pays for it).
 */
const ROW_SEARCH_INSERTS = 48;

/** An insert failed for a reason that is not the rows (the store is down): the batch fails whole. */
class StoreOutage extends Error {
  constructor(readonly failure: unknown) {
    super('store outage');
  }
}

export class InsertBatcher {
  private open: Batch = { rows: [], waiters: [] };
  private buffered = 0;
  private inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private flushWanted = false;
  private downSince: number | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly writer: EventWriter,
    private readonly opts: BatcherOptions,
    private readonly metrics: IngestMetrics,
  ) {
    metrics.storeUp.set(1);
  }

  /** True while inserts are failing (readiness reports it). */
  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  get bufferedRows(): number {
    return this.buffered;
  }

  /**
   * Adds rows to the open batch; resolves once they are committed, with the rows the store
   * refused (usually none), which were not written. Throws 429/503 when it cannot take them.
   */
  submit(rows: readonly EventRow[]): Promise<RefusedRow[]> {
    const retry = { 'Retry-After': String(this.opts.retryAfterSeconds) };
    if (this.closed) throw new TallyError('TALLY_ERR_SHUTTING_DOWN', 'ingest is shutting down; retry on another node', { headers: retry });
    if (this.downSince !== undefined) {
      throw new TallyError('TALLY_ERR_STORE_UNAVAILABLE', 'the event store is unavailable; nothing from this request was accepted, retry later', { headers: retry });
    }
    if (this.buffered > 0 && this.buffered + rows.length > this.opts.maxBuffered) {
      throw new TallyError('TALLY_ERR_INGEST_OVERLOADED', `the event store is behind (${this.buffered} events waiting to commit); nothing from this request was accepted, retry later`, { headers: retry });
    }
    return new Promise<RefusedRow[]>((resolve, reject) => {
      const batch = this.open;
      batch.waiters.push({ start: batch.rows.length, count: rows.length, settled: false, resolve, reject });
      for (const r of rows) batch.rows.push(r);
      this.buffered += rows.length;
      this.metrics.buffered.set(this.buffered);
      if (batch.rows.length >= this.opts.batchRows) this.flush();
      else this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.opts.flushMs);
    });
  }

  private flush(): void {
    if (this.open.rows.length === 0) return;
    if (this.inFlight.size >= this.opts.concurrency) {
      this.flushWanted = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.open;
    this.open = { rows: [], waiters: [] };
    this.metrics.batchRows.observe(batch.rows.length);
    const done = this.commit(batch);
    this.inFlight.add(done);
    void done.finally(() => {
      this.inFlight.delete(done);
      this.buffered -= batch.rows.length;
      this.metrics.buffered.set(this.buffered);
      if (this.flushWanted || this.open.rows.length >= this.opts.batchRows || (this.closed && this.open.rows.length > 0)) {
        this.flushWanted = false;
        this.flush();
      }
    });
  }

  private async commit(batch: Batch): Promise<void> {
    const started = process.hrtime.bigint();
    let failure: unknown;
    try {
      await this.writer.insert(batch.rows);
      this.metrics.flushDuration.observe({ outcome: 'ok' }, seconds(started));
      for (const w of batch.waiters) settle(w, []);
      return;
    } catch (e) {
      failure = e;
      this.metrics.storeErrors.inc();
    }
    try {
      if (this.writer.refusal(failure) === undefined) throw new StoreOutage(failure);
      await this.isolateRequests(batch.rows, batch.waiters, true);
      this.metrics.flushDuration.observe({ outcome: 'refused' }, seconds(started));
    } catch (e) {
      this.metrics.flushDuration.observe({ outcome: 'error' }, seconds(started));
      this.markDown();
      const err = new TallyError('TALLY_ERR_STORE_UNAVAILABLE', 'the event store failed to commit this request; nothing from it was accepted, retry later', {
        cause: e instanceof StoreOutage ? e.failure : e,
        headers: { 'Retry-After': String(this.opts.retryAfterSeconds) },
      });
      for (const w of batch.waiters) {
        if (w.settled) continue;
        w.settled = true;
        w.reject(err);
      }
    }
  }

  /**
   * Commits every request of `waiters` (contiguous in `rows`) whose rows the store takes, and
   * finds the refused rows of the others. `knownBad`: this group already failed as a whole.
   */
  private async isolateRequests(rows: readonly EventRow[], waiters: readonly Waiter[], knownBad: boolean): Promise<void> {
    const first = waiters[0]!;
    const last = waiters[waiters.length - 1]!;
    const groupRows = rows.slice(first.start, last.start + last.count);
    if (!knownBad && (await this.tryInsert(groupRows)) === undefined) {
      for (const w of waiters) settle(w, []);
      return;
    }
    if (waiters.length === 1) {
      settle(first, await this.isolateRows(groupRows));
      return;
    }
    const mid = waiters.length >> 1;
    const head = waiters.slice(0, mid);
    await this.isolateRequests(rows, head, false);
    // The group failed; if its first half went in whole, the second half holds the bad row.
    await this.isolateRequests(rows, waiters.slice(mid), head.every((w) => w.settled && w.refusedNone === true));
  }

  /** One request's rows, known to fail together: the positions the store refuses alone. */
  private async isolateRows(rows: readonly EventRow[]): Promise<RefusedRow[]> {
    const refused: RefusedRow[] = [];
    let budget = ROW_SEARCH_INSERTS;
    let lastReason = 'unknown';
    // Returns true when rows [lo, hi) all went in.
    const search = async (lo: number, hi: number, knownBad: boolean): Promise<boolean> => {
      if (!knownBad) {
        if (budget === 0) {
          for (let i = lo; i < hi; i++) refused.push({ position: i, reason: lastReason });
          return false;
        }
        budget--;
        const reason = await this.tryInsert(rows.slice(lo, hi));
        if (reason === undefined) return true;
        lastReason = reason;
      }
      if (hi - lo === 1) {
        refused.push({ position: lo, reason: lastReason });
        return false;
      }
      const mid = (lo + hi) >> 1;
      const headClean = await search(lo, mid, false);
      await search(mid, hi, headClean);
      return false;
    };
    await search(0, rows.length, true);
    return refused;
  }

  /** Undefined when the rows went in; the store's reason when it refused them; throws on an outage. */
  private async tryInsert(rows: readonly EventRow[]): Promise<string | undefined> {
    try {
      await this.writer.insert(rows);
      return undefined;
    } catch (e) {
      const reason = this.writer.refusal(e);
      if (reason === undefined) throw new StoreOutage(e);
      return reason;
    }
  }

  private markDown(): void {
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    this.metrics.storeUp.set(0);
    const probe = () => {
      this.writer.probe().then(
        () => {
          this.downSince = undefined;
          this.probeTimer = undefined;
          this.metrics.storeUp.set(1);
        },
        () => {
          if (!this.closed) this.probeTimer = setTimeout(probe, Math.min(1000, this.opts.retryAfterSeconds * 1000));
        },
      );
    };
    this.probeTimer = setTimeout(probe, Math.min(1000, this.opts.retryAfterSeconds * 1000));
  }

  /** Refuses new rows, commits everything still open, and waits for every insert in flight. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    this.flush();
    while (this.inFlight.size > 0 || this.open.rows.length > 0) {
      if (this.inFlight.size === 0) this.flush();
      await Promise.allSettled([...this.inFlight]);
    }
  }
}

function settle(w: Waiter, refused: RefusedRow[]): void {
  if (w.settled) return;
  w.settled = true;
  w.refusedNone = refused.length === 0;
  w.resolve(refused);
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}
