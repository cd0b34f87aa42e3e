import type { PostgresStore } from '../core/postgres.js';
import { emit } from '../webhooks/events.js';

/** A window event as the entitlement checks hand it over (entitlements/window-events.ts). */
export interface EntitlementWindowEvent {
  kind: 'limit_reached' | 'reset';
  customer: string;
  feature: string;
  meter: string;
  window: { start: string; end: string };
  limit: string;
  usage: string;
  hard: boolean;
}

/**
 * Records window events once each (the 0033 migration's primary key) and emits
 * `entitlement.limit_reached` / `entitlement.reset` for the new ones, in one transaction: an
 * event exists exactly when its firing does, whichever node found it first.
 */
export async function recordEntitlementEvents(pg: PostgresStore, tenantId: string, events: readonly EntitlementWindowEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  return pg.transaction(async (tx) => {
    const { rows } = await tx.query<{ customer_id: string; feature: string; kind: string; window_start: Date }>(
      `INSERT INTO entitlement_firings (tenant_id, customer_id, feature, kind, window_start, window_end)
       SELECT $1, c, f, k, s, e FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[]) AS x(c, f, k, s, e)
       ON CONFLICT DO NOTHING
       RETURNING customer_id, feature, kind, window_start`,
      [tenantId, events.map((e) => e.customer), events.map((e) => e.feature), events.map((e) => e.kind), events.map((e) => e.window.start), events.map((e) => e.window.end)],
    );
    const fresh = new Set(rows.map((r) => `${r.customer_id}\n${r.feature}\n${r.kind}\n${r.window_start.getTime()}`));
    const keyOf = (e: EntitlementWindowEvent) => `${e.customer}\n${e.feature}\n${e.kind}\n${Date.parse(e.window.start)}`;
    return emit(
      tx,
      events
        .filter((e) => fresh.has(keyOf(e)))
        .map((e) => ({
          tenantId,
          type: e.kind === 'reset' ? ('entitlement.reset' as const) : ('entitlement.limit_reached' as const),
          // Customer ids and feature keys may hold ':': the parts are kept apart as JSON.
          key: `entitlement.${e.kind}:${JSON.stringify([e.customer, e.feature, e.window.start])}`,
          data: { customer: e.customer, feature: e.feature, meter: e.meter, window: e.window, limit: e.limit, usage: e.usage, hard: e.hard },
        })),
    );
  });
}

/** Deletes the firings of windows that ended before `now - retentionMs`. */
export async function pruneEntitlementFirings(pg: PostgresStore, now: number, retentionMs: number): Promise<number> {
  const r = await pg.query('DELETE FROM entitlement_firings WHERE window_end < $1', [new Date(now - retentionMs)]);
  return r.rowCount ?? 0;
}
