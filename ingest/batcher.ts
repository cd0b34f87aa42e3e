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

interface Batch {
  rows: EventRow[];
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/**
 * Concurrent requests share insert batches. A request's rows join the open batch and its
 * promise settles when that batch is committed (or fails), so a 202 always means committed.
 * A batch is flushed when it reaches `batchRows` or `flushMs` after its first row; at most
 * `concurrency` inserts run at once, and rows arriving meanwhile form the next, larger batch.
 *
 * Memory is bounded: beyond `maxBuffered` uncommitted rows a request is refused with 429.
 * After a failed insert the store is considered down: requests get 503 at once (nothing is
 * buffered) and the writer is probed until it answers, then inserts resume.
 */
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

  /** Adds rows to the open batch; resolves once they are committed. Throws 429/503 when it cannot take them. */
  submit(rows: readonly EventRow[]): Promise<void> {
    const retry = { 'Retry-After': String(this.opts.retryAfterSeconds) };
    if (this.closed) throw new TallyError('TALLY_ERR_SHUTTING_DOWN', 'ingest is shutting down; retry on another node', { headers: retry });
    if (this.downSince !== undefined) {
      throw new TallyError('TALLY_ERR_STORE_UNAVAILABLE', 'the event store is unavailable; nothing from this request was accepted, retry later', { headers: retry });
    }
    if (this.buffered > 0 && this.buffered + rows.length > this.opts.maxBuffered) {
      throw new TallyError('TALLY_ERR_INGEST_OVERLOADED', `the event store is behind (${this.buffered} events waiting to commit); nothing from this request was accepted, retry later`, { headers: retry });
    }
    return new Promise<void>((resolve, reject) => {
      const batch = this.open;
      for (const r of rows) batch.rows.push(r);
      batch.waiters.push({ resolve, reject });
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
    const started = process.hrtime.bigint();
    this.metrics.batchRows.observe(batch.rows.length);
    const done: Promise<void> = this.writer.insert(batch.rows).then(
      () => {
        this.metrics.flushDuration.observe({ outcome: 'ok' }, seconds(started));
        for (const w of batch.waiters) w.resolve();
      },
      (e: unknown) => {
        this.metrics.flushDuration.observe({ outcome: 'error' }, seconds(started));
        this.metrics.storeErrors.inc();
        this.markDown();
        const err = new TallyError('TALLY_ERR_STORE_UNAVAILABLE', 'the event store failed to commit this request; nothing from it was accepted, retry later', {
          cause: e,
          headers: { 'Retry-After': String(this.opts.retryAfterSeconds) },
        });
        for (const w of batch.waiters) w.reject(err);
      },
    );
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

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}
