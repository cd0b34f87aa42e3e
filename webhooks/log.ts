import { TallyError } from '../core/errors.js';
import type { PostgresStore } from '../core/postgres.js';

/**
 * The event and delivery log a tenant reads: every event with each endpoint's delivery
 * (state, attempts, last status) and, for one event, every attempt. A manual redelivery puts
 * an event's deliveries (or one endpoint's, made if the endpoint came later) back in the queue
 * at once, with the retry schedule started again.
 */
export interface DeliveryView {
  id: string;
  endpoint: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  log?: { attempt: number; at: string; status: number | null; error: string | null; duration_ms: number }[];
}

export interface EventView {
  id: string;
  type: string;
  created_at: string;
  data: unknown;
  deliveries: DeliveryView[];
}

interface DeliveryRow {
  id: string;
  event_id: string;
  endpoint_id: string;
  state: DeliveryView['state'];
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: Date;
  delivered_at: Date | null;
}

const deliveryView = (d: DeliveryRow): DeliveryView => ({
  id: d.id,
  endpoint: d.endpoint_id,
  state: d.state,
  attempts: d.attempts,
  last_status: d.last_status,
  last_error: d.last_error,
  next_attempt_at: d.state === 'pending' ? d.next_attempt_at.toISOString() : null,
  delivered_at: d.delivered_at?.toISOString() ?? null,
});

const DELIVERY_COLUMNS = 'id::text AS id, event_id, endpoint_id, state, attempts, last_status, last_error, next_attempt_at, delivered_at';

export class EventLog {
  constructor(private readonly pg: PostgresStore) {}

  /** The tenant's deliveries still being tried and those that gave up. */
  async deliveryStats(tenantId: string): Promise<{ pending: number; failed: number }> {
    const { rows } = await this.pg.query<{ pending: string; failed: string }>(
      `SELECT count(*) FILTER (WHERE state = 'pending')::text AS pending, count(*) FILTER (WHERE state = 'failed')::text AS failed
         FROM webhook_deliveries WHERE tenant_id = $1 AND state IN ('pending', 'failed')`,
      [tenantId],
    );
    return { pending: Number(rows[0]?.pending ?? 0), failed: Number(rows[0]?.failed ?? 0) };
  }

  async list(tenantId: string, o: { type?: string | undefined; limit: number; after?: string | undefined }): Promise<{ data: EventView[]; has_more: boolean }> {
    const { rows } = await this.pg.query<{ id: string; type: string; created_at: Date; data: unknown }>(
      `SELECT id, type, created_at, data FROM webhook_events
        WHERE tenant_id = $1 AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR id < $3)
        ORDER BY id DESC LIMIT $4`,
      [tenantId, o.type ?? null, o.after ?? null, o.limit + 1],
    );
    const page = rows.slice(0, o.limit);
    const deliveries = await this.pg.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND event_id = ANY($2) ORDER BY id`, [tenantId, page.map((r) => r.id)]);
    return {
      data: page.map((e) => ({ id: e.id, type: e.type, created_at: e.created_at.toISOString(), data: e.data, deliveries: deliveries.rows.filter((d) => d.event_id === e.id).map(deliveryView) })),
      has_more: rows.length > o.limit,
    };
  }

  async get(tenantId: string, id: string): Promise<EventView> {
    const { rows } = await this.pg.query<{ id: string; type: string; created_at: Date; data: unknown }>('SELECT id, type, created_at, data FROM webhook_events WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    const e = rows[0];
    if (e === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no webhook event ${JSON.stringify(id)}`, { field: 'id' });
    const deliveries = await this.pg.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND event_id = $2 ORDER BY id`, [tenantId, id]);
    const attempts = await this.pg.query<{ delivery_id: string; attempt: number; at: Date; status: number | null; error: string | null; duration_ms: number }>(
      'SELECT delivery_id::text AS delivery_id, attempt, at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = ANY($1::bigint[]) ORDER BY delivery_id, attempt',
      [deliveries.rows.map((d) => d.id)],
    );
    return {
      id: e.id,
      type: e.type,
      created_at: e.created_at.toISOString(),
      data: e.data,
      deliveries: deliveries.rows.map((d) => ({
        ...deliveryView(d),
        log: attempts.rows.filter((a) => a.delivery_id === d.id).map((a) => ({ attempt: a.attempt, at: a.at.toISOString(), status: a.status, error: a.error, duration_ms: a.duration_ms })),
      })),
    };
  }

  /** Queues the event again for every endpoint it went to, or for the one named. */
  async redeliver(tenantId: string, id: string, endpoint: string | undefined): Promise<EventView> {
    await this.pg.transaction(async (tx) => {
      const { rows } = await tx.query('SELECT 1 FROM webhook_events WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      if (rows.length === 0) throw new TallyError('TALLY_ERR_NOT_FOUND', `no webhook event ${JSON.stringify(id)}`, { field: 'id' });
      if (endpoint !== undefined) {
        const ep = await tx.query<{ disabled: boolean }>('SELECT disabled FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [tenantId, endpoint]);
        if (ep.rows[0] === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no webhook endpoint ${JSON.stringify(endpoint)}`, { field: 'endpoint' });
        // Its deliveries would fail at once (a disabled endpoint is sent nothing): enable it first.
        if (ep.rows[0].disabled) throw new TallyError('TALLY_ERR_INVALID_TRANSITION', `webhook endpoint ${JSON.stringify(endpoint)} is disabled; enable it to redeliver to it`, { field: 'endpoint' });
        await tx.query('INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [tenantId, id, endpoint]);
      }
      await tx.query(
        `UPDATE webhook_deliveries d SET state = 'pending', next_attempt_at = now(), schedule_from = attempts, last_error = NULL, updated_at = now()
          WHERE d.tenant_id = $1 AND d.event_id = $2 AND ($3::text IS NULL OR d.endpoint_id = $3)
            AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.tenant_id = d.tenant_id AND w.id = d.endpoint_id AND NOT w.disabled)`,
        [tenantId, id, endpoint ?? null],
      );
    });
    return this.get(tenantId, id);
  }
}
