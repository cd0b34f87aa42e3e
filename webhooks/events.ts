import type { Queryable } from '../core/postgres.js';
import { newId } from '../core/ids.js';

/**
 * Outbound webhook events (see the 0016 migration). `emit` runs inside the transaction of the
 * change that causes an event, so an event exists exactly when its change committed; its
 * dedup key makes a repeat of the change (a rerun, a concurrent worker) emit nothing. The
 * event is fanned out there and then into one delivery per enabled endpoint taking its type.
 */
export const EVENT_TYPES = [
  'usage.threshold_reached',
  'balance.low',
  'balance.depleted',
  'entitlement.limit_reached',
  'entitlement.reset',
  'invoice.created',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.payment_action_required',
  'invoice.overdue',
  'invoice.voided',
  'invoice.marked_uncollectible',
  'credit_note.created',
  'charge.created',
  'subscription.updated',
  'subscription.canceled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  tenantId: string;
  type: EventType;
  /** What makes the event once, e.g. `invoice.created:in_123`. */
  key: string;
  data: unknown;
}

/** Writes the events not written before and their deliveries; returns how many were new. */
export async function emit(q: Queryable, events: readonly NewEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  // Ids sort by time; sorted here too, so that events of one change list in the order given.
  const ids = events.map(() => newId('evt')).sort();
  const { rows } = await q.query<{ tenant_id: string; id: string; type: string }>(
    `INSERT INTO webhook_events (tenant_id, id, type, dedup_key, data)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
     ON CONFLICT (tenant_id, dedup_key) DO NOTHING
     RETURNING tenant_id, id, type`,
    [events.map((e) => e.tenantId), ids, events.map((e) => e.type), events.map((e) => e.key), events.map((e) => JSON.stringify(e.data))],
  );
  if (rows.length === 0) return 0;
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Deliveries are numbered in the events' order: an endpoint is sent its deliveries one at a
  // time by (due time, number), and a join gives its rows in no particular order (a hash join
  // gave them newest first), so the order is asked for.
  await q.query(
    `INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id)
     SELECT e.t, e.i, w.id
       FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS e(t, i, ty, n)
       JOIN webhook_endpoints w ON w.tenant_id = e.t AND NOT w.disabled AND (e.ty = ANY (w.events) OR '*' = ANY (w.events))
      ORDER BY e.n, w.id
     ON CONFLICT DO NOTHING`,
    [rows.map((r) => r.tenant_id), rows.map((r) => r.id), rows.map((r) => r.type)],
  );
  return rows.length;
}

/** The body a receiver gets: the event as stored, in a fixed shape. */
export function eventBody(e: { id: string; type: string; created_at: Date; data: unknown }): string {
  return JSON.stringify({ id: e.id, object: 'event', type: e.type, created: e.created_at.toISOString(), data: e.data });
}
