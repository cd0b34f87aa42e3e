import type { Counter } from 'prom-client';
import { errorSummary } from '../core/isolate.js';
import type { PostgresStore } from '../core/postgres.js';
import type { Logger } from '../core/log.js';
import { eventBody } from './events.js';
import type { NotifyMetrics } from './metrics.js';
import { nextDelayMs, RETRY_DELAYS_MS } from './schedule.js';
import { postWebhook } from './post.js';
import { sign, SIGNATURE_HEADER } from './signature.js';

/**
 * Delivers outbound webhooks at least once. A run claims due deliveries under a lease (FOR
 * UPDATE SKIP LOCKED: several dispatchers never send the same one at once), POSTs each event,
 * signed, to its endpoint, and logs the attempt. A 2xx answer delivers it; anything else — a
 * status, a timeout, a refused connection, a redirect (not followed), an address inside the
 * network (address.ts) — schedules the next try
 * (schedule.ts) until the schedule runs out, then fails it. A dispatcher killed mid-send
 * leaves the delivery claimed until its lease runs out; it is then sent again, which is why
 * receivers must treat the event id as the dedup key.
 *
 * One tenant never holds up the others: a run sends to each endpoint one delivery at a time and
 * lets a tenant hold at most half the senders, so receivers that hang take their tenant's
 * senders for at most the timeout while the other tenants' deliveries go out. Once a delivery
 * to an endpoint fails, that endpoint's other deliveries are put back untried for a later run
 * instead of each waiting out the timeout too, and so are all of a tenant's once as many of its
 * sends failed as it may hold senders. Every failed delivery (and any delivery whose handling
 * fails, which its lease then brings back) is logged by id and counted in
 * `tally_loop_item_failures_total{loop="deliver"}`; the run goes on with the rest.
 */
export interface DispatcherDeps {
  pg: PostgresStore;
  metrics: NotifyMetrics;
  logger: Logger;
  /** Who claims (for the lease). */
  owner: string;
  leaseSeconds: number;
  timeoutMs: number;
  /** Whether endpoints may be inside the network (TALLY_WEBHOOK_ALLOW_PRIVATE_URLS; see address.ts). */
  allowPrivate?: boolean;
  /** Retry delays (schedule.ts); tests shorten them. */
  delays?: readonly number[];
  /** Deliveries sent at once. */
  concurrency?: number;
  /** Events (with their deliveries and attempts) older than this are deleted; 0 keeps them. */
  retentionMs?: number;
  clock?: () => number;
  /** `tally_loop_item_failures_total` (core/metrics.ts loopMetrics). */
  itemFailures?: Counter<'loop'>;
}

export interface DispatchReport {
  claimed: number;
  delivered: number;
  retried: number;
  failed: number;
}

interface Claimed {
  id: string;
  tenant_id: string;
  endpoint_id: string | null;
  attempts: number;
  schedule_from: number;
  event_id: string;
  type: string;
  created_at: Date;
  data: unknown;
  url: string | null;
  secret: string | null;
  disabled: boolean | null;
}

export class WebhookDispatcher {
  private readonly clock: () => number;

  constructor(private readonly d: DispatcherDeps) {
    this.clock = d.clock ?? Date.now;
  }

  /** Works through every due delivery (in claims of `batch`), then refreshes the gauges. */
  async runOnce(batch = 100): Promise<DispatchReport> {
    const report: DispatchReport = { claimed: 0, delivered: 0, retried: 0, failed: 0 };
    const concurrency = this.d.concurrency ?? 8;
    // A tenant holds at most half the senders, so others always have some while its receivers
    // hang, and one fewer for each of its sends that failed in the run (none left: put back).
    const perTenant = Math.max(1, Math.ceil(concurrency / 2));
    // Endpoints a send failed to in this run, and tenants with as many failed sends as they may
    // hold senders: not sent to again until the next run (their deliveries are put back).
    const failingEndpoints = new Set<string>();
    const failingTenants = new Set<string>();
    const tenantFailures = new Map<string, number>();
    for (;;) {
      const claimed = await this.claim(batch, [...failingEndpoints], [...failingTenants]);
      if (claimed.length === 0) break;
      report.claimed += claimed.length;
      const pending = [...claimed];
      const sending = new Set<string>();
      const senders = new Map<string, number>();
      const inFlight = new Set<Promise<void>>();
      const endpointOf = (c: Claimed) => `${c.tenant_id}\n${c.endpoint_id ?? ''}`;
      // The first due delivery whose endpoint is not being sent to and whose tenant may take
      // another sender: each failed send of a tenant takes one of its senders away for the run.
      const pickable = () => pending.findIndex((c) => !sending.has(endpointOf(c)) && (senders.get(c.tenant_id) ?? 0) < perTenant - (tenantFailures.get(c.tenant_id) ?? 0));
      for (;;) {
        for (let i = pickable(); inFlight.size < concurrency && i >= 0; i = pickable()) {
          const c = pending.splice(i, 1)[0]!;
          const endpoint = endpointOf(c);
          if (failingEndpoints.has(endpoint) || failingTenants.has(c.tenant_id)) {
            await this.putBack(c);
            report.claimed--;
            continue;
          }
          sending.add(endpoint);
          senders.set(c.tenant_id, (senders.get(c.tenant_id) ?? 0) + 1);
          const send: Promise<void> = this.deliverIsolated(c)
            .then((outcome) => {
              if (outcome !== 'skipped') report[outcome]++;
              // A deleted or disabled endpoint fails its deliveries without a send: nothing to wait out.
              if (outcome === 'delivered' || c.url === null || c.disabled === true) return;
              failingEndpoints.add(endpoint);
              const n = (tenantFailures.get(c.tenant_id) ?? 0) + 1;
              tenantFailures.set(c.tenant_id, n);
              if (n >= perTenant) failingTenants.add(c.tenant_id);
            })
            .finally(() => {
              sending.delete(endpoint);
              senders.set(c.tenant_id, senders.get(c.tenant_id)! - 1);
              inFlight.delete(send);
            });
          inFlight.add(send);
        }
        if (inFlight.size === 0) break;
        await Promise.race(inFlight);
      }
      // What is left belongs to tenants out of senders for this run.
      for (const c of pending) await this.putBack(c);
      report.claimed -= pending.length;
      if (claimed.length < batch) break;
    }
    await this.prune();
    await this.refreshGauges();
    return report;
  }

  /** Deletes events past the retention period whose deliveries are all finished (a pending one is kept). */
  private async prune(): Promise<void> {
    if (this.d.retentionMs === undefined || this.d.retentionMs <= 0) return;
    await this.d.pg.query(
      `DELETE FROM webhook_events e
        WHERE e.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id AND d.state = 'pending')`,
      [new Date(this.clock() - this.d.retentionMs)],
    );
  }

  /** Delivers one, never throwing: a delivery whose handling fails is logged, counted and left to its lease. */
  private async deliverIsolated(c: Claimed): Promise<'delivered' | 'retried' | 'failed' | 'skipped'> {
    try {
      const outcome = await this.deliver(c);
      if (outcome !== 'delivered') this.d.itemFailures?.inc({ loop: 'deliver' });
      return outcome;
    } catch (e) {
      this.d.itemFailures?.inc({ loop: 'deliver' });
      this.d.logger.warn({ delivery: c.id, event: c.event_id, tenant: c.tenant_id, ...errorSummary(e) }, 'handling a webhook delivery failed; it is tried again when its lease runs out');
      return 'skipped';
    }
  }

  /** Unclaims a delivery not tried, as if it had not been claimed. */
  private async putBack(c: Claimed): Promise<void> {
    await this.d.pg.query('UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL, attempts = attempts - 1, updated_at = now() WHERE id = $1 AND locked_by = $2', [
      c.id,
      this.d.owner,
    ]);
  }

  private async claim(limit: number, skipEndpoints: readonly string[] = [], skipTenants: readonly string[] = []): Promise<Claimed[]> {
    const { rows } = await this.d.pg.query<Claimed>(
      `WITH c AS (
         UPDATE webhook_deliveries SET locked_by = $1, locked_until = now() + make_interval(secs => $2), attempts = attempts + 1, updated_at = now()
          WHERE id IN (SELECT id FROM webhook_deliveries
                        WHERE state = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
                          AND (tenant_id || E'\\n' || coalesce(endpoint_id, '')) <> ALL($4::text[])
                          AND tenant_id <> ALL($5::text[])
                        ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
          RETURNING id, tenant_id, event_id, endpoint_id, attempts, schedule_from)
       SELECT c.id::text AS id, c.tenant_id, c.endpoint_id, c.attempts, c.schedule_from, e.id AS event_id, e.type, e.created_at, e.data, w.url, w.secret, w.disabled
         FROM c JOIN webhook_events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id
         LEFT JOIN webhook_endpoints w ON w.tenant_id = c.tenant_id AND w.id = c.endpoint_id`,
      [this.d.owner, this.d.leaseSeconds, limit, skipEndpoints, skipTenants],
    );
    return rows;
  }

  private async deliver(c: Claimed): Promise<'delivered' | 'retried' | 'failed'> {
    if (c.url === null || c.secret === null || c.disabled === true) {
      await this.finish(c, { status: null, error: c.url === null ? 'endpoint deleted' : 'endpoint disabled', durationMs: 0 }, 'failed');
      return 'failed';
    }
    const body = eventBody({ id: c.event_id, type: c.type, created_at: c.created_at, data: c.data });
    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      status = await postWebhook(
        c.url,
        {
          'content-type': 'application/json',
          'user-agent': 'Tally-Webhooks/1',
          [SIGNATURE_HEADER]: sign(c.secret, Math.floor(this.clock() / 1000), body),
          'tally-event-id': c.event_id,
          'tally-event-type': c.type,
          'tally-delivery-attempt': String(c.attempts),
        },
        body,
        { timeoutMs: this.d.timeoutMs, allowPrivate: this.d.allowPrivate ?? false },
      );
      if (status < 200 || status >= 300) error = `answered ${status}`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const durationMs = Math.floor(performance.now() - started);
    this.d.metrics.duration.observe(durationMs / 1000);
    if (error === null) {
      await this.finish(c, { status, error: null, durationMs }, 'delivered');
      return 'delivered';
    }
    const delay = nextDelayMs(c.attempts - c.schedule_from, this.d.delays ?? RETRY_DELAYS_MS);
    await this.finish(c, { status, error, durationMs }, delay === null ? 'failed' : 'pending', delay ?? 0);
    return delay === null ? 'failed' : 'retried';
  }

  private async finish(c: Claimed, a: { status: number | null; error: string | null; durationMs: number }, state: 'delivered' | 'pending' | 'failed', delayMs = 0): Promise<void> {
    await this.d.pg.query(
      `WITH a AS (INSERT INTO webhook_attempts (delivery_id, attempt, status, error, duration_ms) VALUES ($1, $3, $4, $5, $6) ON CONFLICT DO NOTHING)
       UPDATE webhook_deliveries SET state = $7, last_status = $4, last_error = $5, next_attempt_at = now() + make_interval(secs => $8),
              delivered_at = CASE WHEN $7 = 'delivered' THEN now() ELSE delivered_at END, locked_by = NULL, locked_until = NULL, updated_at = now()
        WHERE id = $1 AND locked_by = $2`,
      [c.id, this.d.owner, c.attempts, a.status, a.error?.slice(0, 1000) ?? null, a.durationMs, state, delayMs / 1000],
    );
    this.d.metrics.attempts.inc({ result: state === 'pending' ? 'retry' : state });
    if (state === 'failed') this.d.logger.warn({ delivery: c.id, event: c.event_id, tenant: c.tenant_id, error: a.error }, 'webhook delivery failed for good');
  }

  private async refreshGauges(): Promise<void> {
    const { rows } = await this.d.pg.query<{ state: string; n: string; oldest: string | null }>(
      "SELECT state, count(*)::text AS n, extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::text AS oldest FROM webhook_deliveries GROUP BY state",
    );
    for (const s of ['pending', 'delivered', 'failed']) this.d.metrics.deliveries.set({ state: s }, Number(rows.find((r) => r.state === s)?.n ?? 0));
    this.d.metrics.oldestPending.set(Number(rows.find((r) => r.oldest !== null)?.oldest ?? 0));
  }
}
