import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { stat, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import type { IngestLog } from './event-log.js';
import type { SealedSegment } from './log-recovery.js';
import type { EventLogMetrics } from './metrics.js';
import { rowEnds } from './rowbinary.js';
import type { SegmentSink } from './sink.js';

export interface ShipperOptions {
  log: IngestLog;
  sink: SegmentSink;
  metrics: EventLogMetrics;
  logger: Logger;
  /** Where rows the store refuses are kept, with the reason. */
  refusedDir: string;
  /** First wait after a failed insert; it doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
}

/**
 * Checks the search for refused rows may run inside one bad append (one request's rows); rows
 * still undecided then are set aside with them, so only that request pays.
 */
const CHECK_BUDGET = 48;

/**
 * Moves sealed log segments into the event store, oldest first, one insert per segment. A
 * segment is deleted only after its insert is confirmed; the insert carries a token made of
 * the node and the segment, so a crash between the insert and the deletion inserts nothing
 * twice when the segment ships again after the restart.
 *
 * While the store is down the shipper retries with backoff (ingest keeps accepting into the
 * log up to its bound). When the store refuses a segment for its content (validation at
 * ingest makes that very unlikely: the rows are binary in the table's own types), the rows it
 * refuses are found by parsing parts of the segment without storing them, written to
 * `refusedDir` with the reason, counted (`tally_eventlog_rows_refused_total`), and the rest
 * ships: one bad row never stalls the log.
 */
export class Shipper {
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private stopped = false;
  private downSince: number | undefined;
  private readonly progress = new Set<() => void>();

  constructor(private readonly o: ShipperOptions) {
    o.metrics.storeUp.set(1);
  }

  start(): void {
    this.o.log.onSealed = () => this.poke();
    this.running ??= this.loop();
  }

  /** True while inserts fail (readiness reports the node degraded: it still accepts). */
  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /**
   * Seals the open segment and waits until everything acknowledged before the call is in the
   * store; false if that takes longer than `timeoutMs`.
   */
  async drain(timeoutMs = 60_000): Promise<boolean> {
    await this.o.log.sealNow();
    this.poke(); // out of a backoff wait: the store may be back
    const target = this.o.log.sealedSegments.at(-1)?.seq;
    if (target === undefined) return true;
    const done = () => (this.o.log.sealedSegments[0]?.seq ?? Infinity) > target;
    if (done()) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.progress.delete(check);
        resolve(false);
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.progress.delete(check);
        resolve(true);
      };
      this.progress.add(check);
    });
  }

  /** Stops after the insert in flight (if any); what is left ships on the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    await this.running;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async loop(): Promise<void> {
    let wait = this.o.retryMs ?? 250;
    while (!this.stopped) {
      const segment = this.o.log.sealedSegments[0];
      if (segment === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      try {
        await this.ship(segment);
        this.o.log.shipped(segment);
        wait = this.o.retryMs ?? 250;
        if (this.downSince !== undefined) {
          this.o.logger.info({ downSeconds: (Date.now() - this.downSince) / 1000 }, 'event log: the event store takes inserts again');
          this.downSince = undefined;
          this.o.metrics.storeUp.set(1);
        }
        for (const check of [...this.progress]) check();
      } catch (e) {
        this.o.metrics.shipErrors.inc();
        if (this.downSince === undefined) {
          this.downSince = Date.now();
          this.o.metrics.storeUp.set(0);
          this.o.logger.error({ segment: segment.seq, err: e instanceof Error ? e.message : String(e) }, 'event log: shipping to the event store failed; retrying (ingest keeps accepting up to TALLY_EVENTLOG_MAX_PENDING_BYTES)');
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, wait).unref();
        });
        this.wake = undefined;
        wait = Math.min(wait * 2, this.o.maxRetryMs ?? 5_000);
      }
    }
  }

  private async ship(segment: SealedSegment): Promise<void> {
    const started = process.hrtime.bigint();
    // A write that failed after the last acknowledged one may have left bytes behind.
    if ((await stat(segment.rowsPath)).size > segment.bytes) await truncate(segment.rowsPath, segment.bytes);
    const token = `${this.o.log.nodeId}:${segment.seq}:${segment.id}`;
    let outcome = 'ok';
    try {
      await this.o.sink.insert(segment.rowsPath, token);
    } catch (e) {
      const reason = this.o.sink.refusal(e);
      if (reason === undefined) throw e;
      await this.setAsideRefused(segment, token, reason, e);
      outcome = 'refused';
    }
    // Rows first: frames without rows are what recovery takes for a shipped segment. (Not on
    // the event loop: freeing a large file's blocks takes milliseconds.)
    await unlink(segment.rowsPath);
    await unlink(segment.framesPath);
    const m = this.o.metrics;
    m.shipDuration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    m.shippedRows.inc(segment.rows);
    m.shippedBytes.inc(segment.bytes);
    m.shipLag.observe(Math.max(0, (Date.now() - segment.firstAppendAt) / 1000));
  }

  /**
   * The store refused the segment for its content: finds the rows it refuses (parsing parts,
   * storing nothing), keeps them in `refusedDir`, and inserts the rest under a token of its own.
   * Run again after a crash it finds the same rows and inserts the same rest, which the token
   * then drops.
   */
  private async setAsideRefused(segment: SealedSegment, token: string, reason: string, cause: unknown): Promise<void> {
    const data = readFileSync(segment.rowsPath);
    const scratch = `${segment.rowsPath.slice(0, -'.rows'.length)}.check.rows`;
    let lastReason = reason;
    // Scratch files are parsed or inserted at once and rebuilt after a crash: no sync needed.
    const parses = async (start: number, end: number): Promise<boolean> => {
      writeFileSync(scratch, data.subarray(start, end));
      const r = await this.o.sink.check(scratch);
      if (r !== undefined) lastReason = r;
      return r === undefined;
    };
    /**
     * The ranges of `units` the store refuses, by halving; with a budget, the units still
     * undecided when it runs out are refused with them.
     */
    const refusedOf = async (units: readonly [number, number][], budget: number): Promise<Set<number>> => {
      const refused = new Set<number>();
      const search = async (lo: number, hi: number, knownBad: boolean): Promise<boolean> => {
        if (!knownBad) {
          if (budget === 0) {
            for (let i = lo; i < hi; i++) refused.add(i);
            return false;
          }
          budget--;
          if (await parses(units[lo]![0], units[hi - 1]![1])) return true;
        }
        if (hi - lo === 1) {
          refused.add(lo);
          return false;
        }
        const mid = (lo + hi) >> 1;
        const headClean = await search(lo, mid, false);
        await search(mid, hi, headClean);
        return false;
      };
      await search(0, units.length, true);
      return refused;
    };
    // First the appends (one request each), with no budget: a request without a bad row
    // always ships. Then the rows of each bad append, within a budget only that request pays.
    const appends: [number, number][] = [];
    let at = 0;
    for (const a of segment.appends) appends.push([at, (at += a.bytes)]);
    const keep: Buffer[] = [];
    const drop: Buffer[] = [];
    let unit = 'row';
    try {
      if (await parses(0, data.length)) throw cause; // every row parses: not the rows, so an outage
      const badAppends = await refusedOf(appends, Number.POSITIVE_INFINITY);
      for (let i = 0; i < appends.length; i++) {
        const [start, end] = appends[i]!;
        if (!badAppends.has(i)) {
          keep.push(data.subarray(start, end));
          continue;
        }
        const ends = rowEnds(data.subarray(start, end));
        if (ends === undefined) {
          unit = 'append';
          drop.push(data.subarray(start, end));
          continue;
        }
        const rows = ends.map((e, j): [number, number] => [start + (j === 0 ? 0 : ends[j - 1]!), start + e]);
        const badRows = await refusedOf(rows, CHECK_BUDGET);
        rows.forEach(([rs, re], j) => (badRows.has(j) ? drop : keep).push(data.subarray(rs, re)));
      }
      mkdirSync(this.o.refusedDir, { recursive: true });
      const base = path.join(this.o.refusedDir, `${this.o.log.nodeId}-${String(segment.seq).padStart(12, '0')}-${segment.id}`);
      writeDurably(`${base}.rows`, Buffer.concat(drop));
      writeDurably(`${base}.json`, Buffer.from(JSON.stringify({ reason: lastReason, units: drop.length, unit, segment: segment.seq })));
      this.o.metrics.rowsRefused.inc({ reason: lastReason }, drop.length);
      this.o.logger.error({ segment: segment.seq, refused: drop.length, reason: lastReason, keptIn: `${base}.rows` }, 'event log: the event store refused rows of a segment; they are set aside and the rest ships');
      if (keep.length > 0) {
        writeFileSync(scratch, Buffer.concat(keep));
        await this.o.sink.insert(scratch, `${token}:without-refused`);
      }
    } finally {
      try {
        unlinkSync(scratch);
      } catch {
        // not written
      }
    }
  }
}

function writeDurably(file: string, bytes: Buffer): void {
  const fd = openSync(file, 'w');
  try {
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
