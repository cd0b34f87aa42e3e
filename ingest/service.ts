import { validateEvent, type EventLimits, type EventRow, type RawEvent, type Rejection } from './event.js';
import type { InsertBatcher } from './batcher.js';
import { RecentIds } from './dedup.js';
import type { IngestMetrics } from './metrics.js';

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

/**
 * Validates a request's events, sets aside the resends it recognises, and commits the rest
 * through the shared batcher. It resolves only after the commit; if the commit fails it
 * throws and nothing of the request counts as accepted. Rows the store refused on their own
 * (the rest went in) are per-event rejections.
 */
export class IngestService {
  private lastMicros = 0;

  constructor(
    private readonly batcher: InsertBatcher,
    private readonly recent: RecentIds,
    private readonly limits: EventLimits,
    private readonly metrics: IngestMetrics,
    private readonly clock: () => number = Date.now,
  ) {}

  async ingest(tenantId: string, raws: readonly RawEvent[]): Promise<IngestResult> {
    const now = this.clock();
    const ctx = { tenantId, limits: this.limits, now, ingestedAt: this.ingestedAt(now) };
    const rejected: Rejection[] = [];
    const fresh: EventRow[] = [];
    const freshKeys: string[] = [];
    /** The request index of each fresh row. */
    const freshIndex: number[] = [];
    const waiting: { row: EventRow; key: string; index: number; outcome: Promise<boolean> }[] = [];
    const seen = new Set<string>();
    let duplicates = 0;

    for (let i = 0; i < raws.length; i++) {
      const v = validateEvent(raws[i]!, i, ctx);
      if (!v.ok) {
        rejected.push(v.rejection);
        continue;
      }
      const key = RecentIds.key(tenantId, v.row.id);
      if (seen.has(key)) {
        duplicates++;
        continue;
      }
      seen.add(key);
      const known = this.recent.get(key);
      if (known === true) duplicates++;
      else if (known !== undefined) waiting.push({ row: v.row, key, index: i, outcome: known });
      else {
        fresh.push(v.row);
        freshKeys.push(key);
        freshIndex.push(i);
      }
    }

    // Resends of copies still being committed: a duplicate only if that copy made it.
    if (waiting.length > 0) {
      const outcomes = await Promise.all(waiting.map((w) => w.outcome));
      outcomes.forEach((committed, i) => {
        if (committed) duplicates++;
        else {
          fresh.push(waiting[i]!.row);
          freshKeys.push(waiting[i]!.key);
          freshIndex.push(waiting[i]!.index);
        }
      });
    }

    let accepted = fresh.length;
    if (fresh.length > 0) {
      const commit = this.batcher.submit(fresh);
      // When the store refused some rows, none of the request's ids is remembered: a resend of
      // a committed one is then written again and counted once where usage is computed.
      this.recent.track(
        freshKeys,
        commit.then((refused) => refused.length === 0, () => false),
      );
      const refused = await commit;
      for (const r of refused) {
        const row = fresh[r.position]!;
        rejected.push({
          index: freshIndex[r.position]!,
          id: row.id,
          code: 'TALLY_ERR_EVENT_REFUSED_BY_STORE',
          message: `the event store refused this event (${r.reason}) and it was not stored; the rest of the request was`,
        });
      }
      if (refused.length > 0) rejected.sort((a, b) => a.index - b.index);
      accepted -= refused.length;
    }

    this.metrics.events.inc({ result: 'accepted', code: '' }, accepted);
    if (duplicates > 0) this.metrics.events.inc({ result: 'duplicate', code: '' }, duplicates);
    for (const r of rejected) this.metrics.events.inc({ result: 'rejected', code: r.code });
    return { accepted, duplicates, rejected };
  }

  /** Acceptance time in microseconds, strictly increasing on this node so copies are ordered. */
  private ingestedAt(nowMs: number): string {
    const micros = Math.max(nowMs * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    const ms = Math.floor(micros / 1000);
    const iso = new Date(ms).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }
}
