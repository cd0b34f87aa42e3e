import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { TallyError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { EventLogMetrics } from './metrics.js';
import { nodeLogIo, type LogIo } from './log-io.js';
import { FRAME_BYTES, frameRecord } from './segment.js';
import { recoverLog, segmentPath, type SealedSegment } from './log-recovery.js';

export interface IngestLogOptions {
  dir: string;
  /** A segment is sealed (and handed to the shipper) once its rows take this many bytes... */
  segmentBytes: number;
  /** ...or this long after its first append. */
  sealMs: number;
  /** Bytes accepted and not shipped yet beyond which appends are refused with 429. */
  maxPendingBytes: number;
  retryAfterSeconds: number;
  metrics: EventLogMetrics;
  logger: Logger;
  io?: LogIo;
  clock?: () => number;
}

interface OpenSegment extends SealedSegment {
  dataFd: number;
  framesFd: number;
  framesBytes: number;
  timer: NodeJS.Timeout | undefined;
}

interface Append {
  data: Buffer;
  rows: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}


/**
 * This node's log of accepted events, in its data dir: the rows of each request are appended
 * to the open segment and a request is acknowledged once they are on disk. Group commit: one
 * write and one fdatasync per file cover every request that arrived while the previous one
 * ran, so a thousand concurrent single-event requests cost a few syncs, not a thousand.
 *
 * A write or sync that fails rejects its whole group (503, nothing of it acknowledged), cuts
 * the segment back to what was acknowledged and seals it; the next group starts a new segment,
 * and until one succeeds the log reports itself failing (readiness). A crash leaves at most a
 * torn tail of unacknowledged appends, which `open` detects by the frame checksums and cuts.
 */
export class IngestLog {
  readonly nodeId: string;
  private readonly io: LogIo;
  private readonly clock: () => number;
  private queue: Append[] = [];
  private queuedBytes = 0;
  private writing = false;
  private current: OpenSegment | undefined;
  private readonly sealed: SealedSegment[] = [];
  /** Bytes of `sealed`, kept as they come and go (read on every append). */
  private sealedBytes = 0;
  private lastSeq: number;
  private sealWaiters: (() => void)[] = [];
  private closed = false;
  private failingSince: number | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  /** Called with each segment as it is sealed. */
  onSealed: (segment: SealedSegment) => void = () => undefined;

  private constructor(
    private readonly o: IngestLogOptions,
    nodeId: string,
    recovered: SealedSegment[],
    lastSeq: number,
  ) {
    this.nodeId = nodeId;
    this.io = o.io ?? nodeLogIo;
    this.clock = o.clock ?? Date.now;
    for (const segment of recovered) this.addSealed(segment);
    this.lastSeq = lastSeq;
    o.metrics.up.set(1);
    o.metrics.oldestUnshippedSeconds = () => this.oldestUnshippedSeconds();
    this.report();
  }

  /** Opens the log in `dir`, cutting any torn tail; unshipped segments come back sealed. */
  static open(o: IngestLogOptions): IngestLog {
    const { nodeId, recovered, lastSeq } = recoverLog(o.dir, o.metrics, o.logger);
    return new IngestLog(o, nodeId, recovered, lastSeq);
  }

  /** Bytes accepted (or being written) and not shipped yet. */
  get pendingBytes(): number {
    return this.queuedBytes + (this.current?.bytes ?? 0) + this.sealedBytes;
  }

  /** Segments not shipped yet, the open one included. */
  get pendingSegments(): number {
    return this.sealed.length + (this.current === undefined ? 0 : 1);
  }

  /** Whether the last write or sync failed (until one succeeds again). */
  get failing(): boolean {
    return this.failingSince !== undefined;
  }

  /** Sealed segments in order, oldest first (the shipper takes them from here). */
  get sealedSegments(): readonly SealedSegment[] {
    return this.sealed;
  }

  /** Age in seconds of the oldest event not shipped yet (0 when none). */
  oldestUnshippedSeconds(): number {
    const first = this.sealed[0]?.firstAppendAt ?? this.current?.firstAppendAt;
    // 0: a segment opened for a group whose write has not finished yet (no event in it is acknowledged).
    return first === undefined || first === 0 ? 0 : Math.max(0, (this.clock() - first) / 1000);
  }

  /**
   * Appends one request's rows; resolves once they are on disk. Throws 429 when the unshipped
   * bytes would pass the bound, 503 when the log is closing; rejects with 503 when the write
   * or the sync fails (nothing of the request is acknowledged then).
   */
  append(data: Buffer, rows: number): Promise<void> {
    // Built only for a refusal: appends that go through are the hot path.
    const retry = () => ({ 'Retry-After': String(this.o.retryAfterSeconds) });
    if (this.closed) throw new TallyError('TALLY_ERR_SHUTTING_DOWN', 'ingest is shutting down; retry on another node', { headers: retry() });
    const pending = this.pendingBytes;
    if (pending > 0 && pending + data.length > this.o.maxPendingBytes) {
      throw new TallyError(
        'TALLY_ERR_INGEST_OVERLOADED',
        `the event log holds ${pending} bytes not shipped to the event store yet (TALLY_EVENTLOG_MAX_PENDING_BYTES); nothing from this request was accepted, retry later`,
        { headers: retry() },
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, rows, resolve, reject });
      this.queuedBytes += data.length;
      void this.run();
    });
  }

  /** Seals the open segment now (if it has rows); resolves once it is sealed. */
  sealNow(): Promise<void> {
    return new Promise((resolve) => {
      this.sealWaiters.push(resolve);
      void this.run();
    });
  }

  /** Takes no more appends, writes what is queued and seals the open segment. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    await this.sealNow();
  }

  /** The shipper has inserted and deleted this segment. */
  shipped(segment: SealedSegment): void {
    const i = this.sealed.indexOf(segment);
    if (i >= 0) {
      this.sealed.splice(i, 1);
      this.sealedBytes -= segment.bytes;
    }
    this.report();
  }

  /** The one writer: groups, seals, and nothing else touches the open segment. */
  private async run(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      for (;;) {
        if (this.queue.length > 0) {
          const group = this.queue;
          this.queue = [];
          await this.writeGroup(group);
        } else if (this.sealWaiters.length > 0) {
          const waiters = this.sealWaiters;
          this.sealWaiters = [];
          await this.seal();
          for (const w of waiters) w();
        } else break;
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeGroup(group: Append[]): Promise<void> {
    const bytes = group.reduce((n, a) => n + a.data.length, 0);
    const rows = group.reduce((n, a) => n + a.rows, 0);
    const started = process.hrtime.bigint();
    let segment: OpenSegment | undefined;
    try {
      segment = this.current ?? (await this.openSegment());
      const datas = group.map((a) => a.data);
      const frames = group.map((a) => frameRecord(a.data, a.rows));
      await Promise.all([this.io.write(segment.dataFd, datas, segment.bytes), this.io.write(segment.framesFd, frames, segment.framesBytes)]);
      await Promise.all([this.io.datasync(segment.dataFd), this.io.datasync(segment.framesFd)]);
    } catch (e) {
      this.queuedBytes -= bytes;
      this.o.metrics.writeErrors.inc();
      if (this.failingSince === undefined) this.o.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'event log: a write or sync failed; its requests were refused (503) and the segment is sealed at what was acknowledged');
      this.failingSince ??= this.clock();
      this.o.metrics.up.set(0);
      this.scheduleProbe();
      const err = new TallyError('TALLY_ERR_EVENT_LOG_UNAVAILABLE', "this node could not write the request to its event log's disk; nothing from it was accepted, retry (another node may take it)", {
        cause: e,
        headers: { 'Retry-After': String(this.o.retryAfterSeconds) },
      });
      for (const a of group) a.reject(err);
      // What the failed write left in the files is unknown: cut back to the acknowledged bytes.
      if (segment !== undefined) await this.seal(true);
      this.report();
      return;
    }
    this.o.metrics.syncDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.o.metrics.groupAppends.observe(group.length);
    if (segment.appends.length === 0) {
      segment.firstAppendAt = this.clock();
      segment.timer = setTimeout(() => void this.sealNow(), this.o.sealMs);
      segment.timer.unref();
    }
    for (const a of group) segment.appends.push({ rows: a.rows, bytes: a.data.length });
    segment.bytes += bytes;
    segment.rows += rows;
    segment.framesBytes += FRAME_BYTES * group.length;
    this.queuedBytes -= bytes;
    this.recovered();
    for (const a of group) a.resolve();
    if (segment.bytes >= this.o.segmentBytes) await this.seal();
    this.report();
  }

  private recovered(): void {
    if (this.failingSince === undefined) return;
    this.failingSince = undefined;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.o.metrics.up.set(1);
    this.o.logger.info('event log: writes succeed again');
  }

  /**
   * While failing, a small write and sync every second tells when the disk works again, so
   * a node that readiness took out of rotation (and so gets no requests) comes back.
   */
  private scheduleProbe(): void {
    if (this.probeTimer !== undefined || this.closed) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe().then(
        () => this.recovered(),
        () => this.scheduleProbe(),
      );
    }, 1000);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    const file = path.join(this.o.dir, 'probe.tmp');
    await unlink(file).catch(() => undefined); // one left by an earlier probe
    const fd = await this.io.create(file);
    try {
      await this.io.write(fd, [Buffer.from('probe')], 0);
      await this.io.datasync(fd);
    } finally {
      await this.io.close(fd).catch(() => undefined);
      await unlink(file);
    }
  }

  private async openSegment(): Promise<OpenSegment> {
    const seq = ++this.lastSeq;
    const id = randomBytes(8).toString('hex');
    const rowsPath = segmentPath(this.o.dir, seq, id, 'rows');
    const framesPath = segmentPath(this.o.dir, seq, id, 'frames');
    const dataFd = await this.io.create(rowsPath);
    let framesFd: number;
    try {
      framesFd = await this.io.create(framesPath);
      await this.io.syncDir(this.o.dir);
    } catch (e) {
      await this.io.close(dataFd).catch(() => undefined);
      throw e;
    }
    this.current = { seq, id, rowsPath, framesPath, bytes: 0, rows: 0, appends: [], firstAppendAt: 0, dataFd, framesFd, framesBytes: 0, timer: undefined };
    return this.current;
  }

  /** Closes the open segment and hands it to the shipper (or deletes it when it holds nothing). */
  private async seal(afterFailure = false): Promise<void> {
    const segment = this.current;
    if (segment === undefined) return;
    this.current = undefined;
    clearTimeout(segment.timer);
    if (afterFailure) {
      // Best effort: the shipper cuts the rows file to the acknowledged length again before it ships.
      await this.io.truncate(segment.dataFd, segment.bytes).catch(() => undefined);
      await this.io.truncate(segment.framesFd, segment.framesBytes).catch(() => undefined);
    }
    await this.io.close(segment.dataFd).catch(() => undefined);
    await this.io.close(segment.framesFd).catch(() => undefined);
    if (segment.appends.length === 0) {
      // An empty leftover is dropped when the log is next opened.
      await Promise.all([unlink(segment.rowsPath), unlink(segment.framesPath)]).catch(() => undefined);
      return;
    }
    const { seq, id, rowsPath, framesPath, bytes, rows, appends, firstAppendAt } = segment;
    const done: SealedSegment = { seq, id, rowsPath, framesPath, bytes, rows, appends, firstAppendAt };
    this.addSealed(done);
    this.report();
    this.onSealed(done);
  }

  private addSealed(segment: SealedSegment): void {
    this.sealed.push(segment);
    this.sealedBytes += segment.bytes;
  }

  private report(): void {
    this.o.metrics.pendingBytes.set(this.pendingBytes);
    this.o.metrics.pendingSegments.set(this.pendingSegments);
  }
}
