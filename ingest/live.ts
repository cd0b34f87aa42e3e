import type { EventRow, RawEvent, Rejection } from './event.js';

/** One event as the live view shows it: what was sent and what became of it. */
export interface LiveEvent {
  received_at: string;
  id: string | null;
  meter: string | null;
  customer: string | null;
  /** RFC 3339, as accepted; for a rejected event the text it sent, if a string. */
  timestamp: string | null;
  result: 'accepted' | 'duplicate' | 'rejected';
  code: string | null;
  message: string | null;
}

export interface LiveSecond {
  at: string;
  accepted: number;
  duplicates: number;
  rejected: number;
}

/** A tenant's last minute of ingest on this node. */
export interface LiveView {
  node: string;
  window_seconds: number;
  per_second: LiveSecond[];
  totals: { accepted: number; duplicates: number; rejected: number };
  rejected_by_code: Record<string, number>;
  recent: LiveEvent[];
}

/** Per event of a request, in its order: its row, accepted or a resend, or its rejection. */
/**
 * What became of an event: its row when accepted (no wrapper: one object fewer per event on the
 * ingest path), its row under `duplicate` when it was a resend, or its rejection.
 */
export type Outcome = EventRow | { duplicate: EventRow } | Rejection;

export const LIVE_WINDOW_SECONDS = 60;
/** Events kept per tenant for the list of the last events. */
export const LIVE_RECENT = 100;
/**
 * Tenants kept, the most recently active: bounds the memory at about 25 MB (100 events of a few
 * hundred bytes each per tenant) however many tenants send. A tenant left out shows an empty view
 * until it sends again.
 */
export const LIVE_TENANTS = 1_000;
/** Longest text kept of a field of a rejected event: it is shown, not stored. */
const MAX_TEXT = 200;

interface Second {
  /** Epoch second this slot counts, or -1. */
  at: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  byCode: Map<string, number> | undefined;
}

/**
 * A recent accepted or resent event as kept: its fields, with the times as numbers. They are
 * written out as text when the view is asked for, not on the ingest path.
 */
interface KeptEvent {
  receivedMs: number;
  id: string;
  meter: string;
  customer: string;
  timestampMs: number;
  duplicate: boolean;
}

interface TenantFeed {
  seconds: Second[];
  /** Rejected events are kept as shown (their texts cut and copied when they arrive). */
  recent: (KeptEvent | LiveEvent | undefined)[];
  /** Where the next recent event goes (a ring). */
  next: number;
}

/**
 * What the console's live view shows: per tenant, this node's counts per second over the last
 * minute and its last events with their results. Kept in memory, per node, and cheap on the
 * ingest path: a request adds to one slot's counters and builds entries only for its last
 * {@link LIVE_RECENT} events (the ones the list can show).
 */
export class LiveFeed {
  private readonly tenants = new Map<string, TenantFeed>();

  constructor(
    readonly node: string,
    private readonly clock: () => number = Date.now,
    private readonly maxTenants = LIVE_TENANTS,
  ) {}

  /** Records a request's outcomes (one per event sent, in order), received at `receivedMs`. */
  record(tenantId: string, receivedMs: number, raws: readonly RawEvent[], outcomes: readonly Outcome[]): void {
    const feed = this.feed(tenantId);
    const slot = this.slot(feed, Math.floor(receivedMs / 1000));
    const from = Math.max(0, outcomes.length - LIVE_RECENT);
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]!;
      if ('index' in o) {
        slot.rejected++;
        slot.byCode ??= new Map();
        slot.byCode.set(o.code, (slot.byCode.get(o.code) ?? 0) + 1);
      } else if ('duplicate' in o) slot.duplicates++;
      else slot.accepted++;
      if (i >= from) {
        feed.recent[feed.next] = kept(receivedMs, raws[i], o);
        feed.next = (feed.next + 1) % LIVE_RECENT;
      }
    }
  }

  view(tenantId: string): LiveView {
    const nowSecond = Math.floor(this.clock() / 1000);
    const feed = this.tenants.get(tenantId);
    const perSecond: LiveSecond[] = [];
    const totals = { accepted: 0, duplicates: 0, rejected: 0 };
    const byCode: Record<string, number> = {};
    for (let at = nowSecond - LIVE_WINDOW_SECONDS + 1; at <= nowSecond; at++) {
      const s = feed?.seconds[at % LIVE_WINDOW_SECONDS];
      const live = s !== undefined && s.at === at;
      const second = { at: new Date(at * 1000).toISOString(), accepted: live ? s.accepted : 0, duplicates: live ? s.duplicates : 0, rejected: live ? s.rejected : 0 };
      perSecond.push(second);
      totals.accepted += second.accepted;
      totals.duplicates += second.duplicates;
      totals.rejected += second.rejected;
      if (live) for (const [code, n] of s.byCode ?? []) byCode[code] = (byCode[code] ?? 0) + n;
    }
    const recent: LiveEvent[] = [];
    if (feed !== undefined) {
      for (let k = 1; k <= LIVE_RECENT; k++) {
        const e = feed.recent[(feed.next - k + LIVE_RECENT) % LIVE_RECENT];
        if (e === undefined) break;
        recent.push('receivedMs' in e ? shown(e) : e);
      }
    }
    return { node: this.node, window_seconds: LIVE_WINDOW_SECONDS, per_second: perSecond, totals, rejected_by_code: byCode, recent };
  }

  /** The tenant's feed, made the most recently used (a Map keeps insertion order: the first is the least recent). */
  private feed(tenantId: string): TenantFeed {
    let feed = this.tenants.get(tenantId);
    if (feed === undefined) {
      feed = { seconds: Array.from({ length: LIVE_WINDOW_SECONDS }, () => ({ at: -1, accepted: 0, duplicates: 0, rejected: 0, byCode: undefined })), recent: new Array<LiveEvent | undefined>(LIVE_RECENT), next: 0 };
      if (this.tenants.size >= this.maxTenants) this.tenants.delete(this.tenants.keys().next().value!);
    } else this.tenants.delete(tenantId);
    this.tenants.set(tenantId, feed);
    return feed;
  }

  private slot(feed: TenantFeed, second: number): Second {
    const s = feed.seconds[second % LIVE_WINDOW_SECONDS]!;
    if (s.at !== second) {
      s.at = second;
      s.accepted = 0;
      s.duplicates = 0;
      s.rejected = 0;
      s.byCode = undefined;
    }
    return s;
  }
}

function kept(receivedMs: number, raw: RawEvent | undefined, o: Outcome): KeptEvent | LiveEvent {
  if ('index' in o) {
    const sent = sentFields(raw);
    return { received_at: new Date(receivedMs).toISOString(), ...sent, id: o.id === undefined ? sent.id : text(o.id), result: 'rejected', code: o.code, message: text(o.message) };
  }
  const duplicate = 'duplicate' in o;
  const row = duplicate ? o.duplicate : o;
  return { receivedMs, id: row.id, meter: row.meter, customer: row.customer, timestampMs: row.timestamp, duplicate };
}

function shown(e: KeptEvent): LiveEvent {
  return {
    received_at: new Date(e.receivedMs).toISOString(),
    id: e.id,
    meter: e.meter,
    customer: e.customer,
    timestamp: new Date(e.timestampMs).toISOString(),
    result: e.duplicate ? 'duplicate' : 'accepted',
    code: null,
    message: null,
  };
}

/** The identifying fields of an event as sent, whatever its format; only strings, cut short. */
function sentFields(raw: RawEvent | undefined): Pick<LiveEvent, 'id' | 'meter' | 'customer' | 'timestamp'> {
  const data = raw !== undefined && raw.kind !== 'malformed' && typeof raw.data === 'object' && raw.data !== null ? (raw.data as Record<string, unknown>) : {};
  const cloud = raw?.kind === 'cloudevent';
  return {
    id: text(data.id),
    meter: text(cloud ? data.type : data.meter),
    customer: text(cloud ? data.subject : data.customer),
    timestamp: text(cloud ? data.time : data.timestamp),
  };
}

/**
 * A string of a rejected event as kept: at most MAX_TEXT characters, copied. A slice of a string
 * can keep the whole original alive in V8 (a 4 MB key for a 200-character view), so the kept
 * text is made anew from bytes.
 */
const text = (v: unknown): string | null => (typeof v === 'string' ? Buffer.from(v.slice(0, MAX_TEXT), 'utf16le').toString('utf16le') : null);
