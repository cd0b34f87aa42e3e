import { validateEvent, type EventLimits, type EventRow, type RawEvent, type Rejection } from './event.js';
import type { IngestLog } from './event-log.js';
import { RequestIds, type RecentIds } from './dedup.js';
import type { IngestMetrics } from './metrics.js';
import { encodeRows } from './rowbinary.js';
import type { LiveFeed, Outcome } from './live.js';

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

/**
 * Validates a request's events, sets aside the resends it recognises, and appends the rest to
 * this node's event log. It resolves only once they are on disk; if the append fails it
 * throws and nothing of the request counts as accepted.
 */
export class IngestService {
  private lastMicros = 0;

  constructor(
    private readonly log: IngestLog,
    private readonly recent: RecentIds,
    private readonly limits: EventLimits,
    private readonly metrics: IngestMetrics,
    private readonly clock: () => number = Date.now,
    private readonly live?: LiveFeed,
  ) {}

  async ingest(tenantId: string, raws: readonly RawEvent[]): Promise<IngestResult> {
    const now = this.clock();
    const ctx = { tenantId, limits: this.limits, now, ingestedAt: this.ingestedAt(now) };
    const rejected: Rejection[] = [];
    const fresh: EventRow[] = [];
    const freshIds: string[] = [];
    const freshHashes: number[] = [];
    const waiting: { row: EventRow; h: number; outcome: Promise<boolean>; index: number }[] = [];
    // A request of one event cannot repeat an id within itself.
    const seen = raws.length > 1 ? new RequestIds(raws.length) : undefined;
    // What became of each event, for this node's live view.
    const outcomes: Outcome[] = new Array<Outcome>(raws.length);
    let duplicates = 0;

    for (let i = 0; i < raws.length; i++) {
      const v = validateEvent(raws[i]!, i, ctx);
      if (!v.ok) {
        rejected.push(v.rejection);
        outcomes[i] = v.rejection;
        continue;
      }
      const { id } = v.row;
      const h = this.recent.fingerprint(id);
      if (seen !== undefined && !seen.add(id, h)) {
        duplicates++;
        outcomes[i] = { duplicate: v.row };
        continue;
      }
      const known = this.recent.get(tenantId, id, h);
      if (known === true) {
        duplicates++;
        outcomes[i] = { duplicate: v.row };
      } else if (known !== undefined) waiting.push({ row: v.row, h, outcome: known, index: i });
      else {
        fresh.push(v.row);
        freshIds.push(id);
        freshHashes.push(h);
        outcomes[i] = v.row;
      }
    }

    // Resends of copies still being committed: a duplicate only if that copy made it.
    if (waiting.length > 0) {
      const committed = await Promise.all(waiting.map((w) => w.outcome));
      committed.forEach((made, i) => {
        const w = waiting[i]!;
        outcomes[w.index] = made ? { duplicate: w.row } : w.row;
        if (made) duplicates++;
        else {
          fresh.push(w.row);
          freshIds.push(w.row.id);
          freshHashes.push(w.h);
        }
      });
    }

    if (fresh.length > 0) {
      const appended = this.log.append(encodeRows(fresh), fresh.length);
      this.recent.track(
        tenantId,
        freshIds,
        appended.then(() => true, () => false),
        freshHashes,
      );
      await appended;
    }
    const accepted = fresh.length;

    this.metrics.events.inc({ result: 'accepted', code: '' }, accepted);
    if (duplicates > 0) this.metrics.events.inc({ result: 'duplicate', code: '' }, duplicates);
    for (const r of rejected) this.metrics.events.inc({ result: 'rejected', code: r.code });
    this.live?.record(tenantId, now, raws, outcomes);
    return { accepted, duplicates, rejected };
  }

  /** Acceptance time in epoch microseconds, strictly increasing on this node so copies are ordered. */
  private ingestedAt(nowMs: number): number {
    const micros = Math.max(nowMs * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    return micros;
  }
}
