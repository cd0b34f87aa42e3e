import type { Counter } from 'prom-client';
import { errorSummary } from '../core/isolate.js';
import type { PostgresStore } from '../core/postgres.js';
import type { Logger } from '../core/log.js';
import { eventBody } from './events.js';
import type { WebhookMetrics } from './metrics.js';
import { nextDelayMs, RETRY_DELAYS_MS } from './schedule.js';
import { postWebhook } from './post.js';
import { endpointKey, SenderShares } from './senders.js';
import { sign, SIGNATURE_HEADER } from './signature.js';

/**
 * Delivers outbound webhooks at least once. Each delivery is claimed under a lease (FOR UPDATE
 * SKIP LOCKED: several dispatchers never send the same one at once), POSTed, signed, to its
 * endpoint, and its attempt logged. A 2xx answer delivers it; anything else — a status, a
 * timeout, a refused connection, a redirect (not followed), an address inside the network
 * (address.ts) — schedules the next try (schedule.ts) until the schedule runs out, then fails
 * it. A dispatcher killed mid-send leaves the delivery claimed until its lease runs out; it is
 * then sent again, which is why receivers must treat the event id as the dedup key.
 *
 * One tenant never holds up the others. A run is a work loop over a fixed number of senders:
 * whenever senders are free it claims just what they can send now — fairly, with at most one
 * delivery per endpoint and a tenant's share of the senders per tenant (senders.ts) — and
 * sends each as soon as it is claimed, so a tenant whose receivers are slow (or hang) keeps at
 * most its share busy while the other senders take every other tenant's deliveries as they
 * fall due. A claimed delivery is never held back waiting for others: its lease is at least
 * the send timeout plus a margin, it is not sent if that time has mostly gone, and its result
 * is written only while this dispatcher still holds it, so it cannot be sent by two
 * dispatchers because one claimed it too long before sending. Every failed attempt (and any
 * delivery whose handling fails, which its lease then brings back) is logged by id and counted
 * in `tally_loop_item_failures_total{loop="deliver"}`; the run goes on with the rest. The
 * delivery gauges are refreshed during a run, not only at its end.
 */
export interface DispatcherDeps {
  pg: PostgresStore;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Who claims (for the lease). */
  owner: string;
  /** How long a claim lasts at least (it is stretched to cover the send timeout). */
  leaseSeconds: number;
  timeoutMs: number;
  /** Whether endpoints may be inside the network (TALLY_WEBHOOK_ALLOW_PRIVATE_URLS; see address.ts). */
  allowPrivate?: boolean;
  /** Retry delays (schedule.ts); tests shorten them. */
  delays?: readonly number[];
  /** Deliveries sent at once. */
  concurrency?: number;
  /** How often idle senders look for deliveries that fell due while others are sending. */
  pollMs?: number;
  /** How often the delivery gauges are refreshed during a run. */
  gaugeIntervalMs?: number;
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

type Outcome = { result: 'delivered' | 'retried' | 'failed' | 'skipped'; sent: boolean; retryInMs: number | null };

/** Time a claim leaves beyond the send timeout: for the claim's own round trip and writing the result. */
const LEASE_MARGIN_MS = 5_000;

export class WebhookDispatcher {
  private readonly clock: () => number;
  private readonly concurrency: number;
  /** Kept across runs: a tenant's failures cost it senders until their retries are due, not just for one run. */
  private readonly shares: SenderShares;
  private gaugesAt = -Infinity;

  constructor(private readonly d: DispatcherDeps) {
    this.clock = d.clock ?? Date.now;
    this.concurrency = d.concurrency ?? 8;
    // A tenant holds at most half the senders, so others always have some while its receivers are slow.
    this.shares = new SenderShares(Math.max(1, Math.ceil(this.concurrency / 2)));
  }

  /** The lease a claim takes: long enough for a send that takes the whole timeout. */
  private get leaseMs(): number {
    return Math.max(this.d.leaseSeconds * 1000, Math.ceil((this.d.timeoutMs + LEASE_MARGIN_MS) / 1000) * 1000);
  }

  /**
   * Sends due deliveries until none is left that may be sent now, claiming at most `claimSize`
   * at a time (and never more than the free senders take), then prunes and refreshes the
   * gauges. Deliveries that fall due during the run are sent in it. Once `signal` aborts, no
   * more is claimed and the run ends when the sends in flight have finished.
   */
  async runOnce(claimSize = Infinity, o: { signal?: AbortSignal } = {}): Promise<DispatchReport> {
    const report: DispatchReport = { claimed: 0, delivered: 0, retried: 0, failed: 0 };
    const inFlight = new Set<Promise<void>>();
    try {
      for (;;) {
        const wanted = Math.min(claimSize, this.concurrency - inFlight.size);
        const busyAtClaim = inFlight.size;
        let claimed = 0;
        if (wanted > 0 && o.signal?.aborted !== true) {
          const claimedAt = performance.now();
          const rows = await this.claim(wanted);
          claimed = rows.length;
          report.claimed += claimed;
          for (const c of rows) {
            const send: Promise<void> = this.send(c, claimedAt + this.leaseMs, report).finally(() => inFlight.delete(send));
            inFlight.add(send);
          }
        }
        if (inFlight.size === 0) {
          // A claim made while sends were in flight was limited by them (their endpoints, their
          // tenant's share); when they all finished meanwhile, an empty claim does not mean
          // nothing is due: look again, with nothing held.
          if (busyAtClaim > 0 && o.signal?.aborted !== true) continue;
          break;
        }
        await this.refreshGaugesIfDue();
        // Wait for a sender to free up; with senders idle, look again a little later for
        // deliveries that fell due meanwhile (another tenant's, typically).
        const idle = claimed < wanted;
        if (wanted > 0 && !idle && inFlight.size < this.concurrency) continue; // claims smaller than the free senders
        const wait = Math.max(0, Math.min(idle ? (this.d.pollMs ?? 250) : 60_000, this.gaugesAt + (this.d.gaugeIntervalMs ?? 5_000) - performance.now()));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([...inFlight, new Promise<void>((resolve) => (timer = setTimeout(resolve, wait)))]);
        clearTimeout(timer);
      }
    } finally {
      // A failed claim ends the run, but not before the sends in flight are written down.
      await Promise.all(inFlight);
    }
    await this.prune();
    await this.refreshGauges();
    return report;
  }

  /** Sends one claimed delivery with a sender of its tenant, never throwing. */
  private async send(c: Claimed, leaseEnds: number, report: DispatchReport): Promise<void> {
    const endpoint = endpointKey(c.tenant_id, c.endpoint_id);
    this.shares.take(c.tenant_id, endpoint);
    try {
      // Only after a stall between claim and send: what is left of the lease might not cover the
      // send, and another dispatcher could take the delivery while it is in flight.
      if (performance.now() + this.d.timeoutMs + LEASE_MARGIN_MS / 5 > leaseEnds) {
        report.claimed--;
        await this.putBack(c).catch((e: unknown) => this.d.logger.warn({ delivery: c.id, ...errorSummary(e) }, 'putting back a webhook delivery failed; its lease brings it back'));
        return;
      }
      const outcome = await this.deliverIsolated(c);
      if (outcome.result !== 'skipped') report[outcome.result]++;
      // A deleted or disabled endpoint fails its deliveries without a send: nothing to wait out.
      if (outcome.result === 'delivered' || !outcome.sent) return;
      const backoff = outcome.retryInMs ?? this.d.delays?.[0] ?? RETRY_DELAYS_MS[0]!;
      this.shares.failed(c.tenant_id, endpoint, this.clock() + backoff);
    } finally {
      this.shares.release(c.tenant_id, endpoint);
    }
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
  private async deliverIsolated(c: Claimed): Promise<Outcome> {
    try {
      const outcome = await this.deliver(c);
      if (outcome.result !== 'delivered') this.d.itemFailures?.inc({ loop: 'deliver' });
      return outcome;
    } catch (e) {
      this.d.itemFailures?.inc({ loop: 'deliver' });
      this.d.logger.warn({ delivery: c.id, event: c.event_id, tenant: c.tenant_id, ...errorSummary(e) }, 'handling a webhook delivery failed; it is tried again when its lease runs out');
      return { result: 'skipped', sent: true, retryInMs: null };
    }
  }

  /** Unclaims a delivery not tried, as if it had not been claimed. */
  private async putBack(c: Claimed): Promise<void> {
    await this.d.pg.query('UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL, attempts = attempts - 1, updated_at = now() WHERE id = $1 AND locked_by = $2', [
      c.id,
      this.d.owner,
    ]);
  }

  /**
   * Claims up to `limit` due deliveries that the free senders may send now (senders.ts): the
   * oldest due one of each endpoint not being sent to or set aside, at most a tenant's
   * remaining share per tenant, every tenant's first before any tenant's second. The ranking
   * reads the due rows without locking them; the rows picked are then locked, skipping any
   * another dispatcher is claiming, and their state and lease checked again.
   */
  private async claim(limit: number): Promise<Claimed[]> {
    const shares = this.shares.limits(this.clock());
    const { rows } = await this.d.pg.query<Claimed>(
      `WITH due AS (
         SELECT id, tenant_id, next_attempt_at, row_number() OVER (PARTITION BY tenant_id, endpoint_id ORDER BY next_attempt_at, id) AS nth_of_endpoint
           FROM webhook_deliveries
          WHERE state = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
            AND (tenant_id || E'\\n' || endpoint_id) <> ALL($4::text[])
       ), ranked AS (
         SELECT id, tenant_id, next_attempt_at, row_number() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, id) AS nth_of_tenant
           FROM due WHERE nth_of_endpoint = 1
       ), fair AS (
         SELECT r.id, r.nth_of_tenant, r.next_attempt_at
           FROM ranked r LEFT JOIN unnest($5::text[], $6::int[]) AS share (tenant_id, senders) ON share.tenant_id = r.tenant_id
          WHERE r.nth_of_tenant <= coalesce(share.senders, $7)
       ), c AS (
         UPDATE webhook_deliveries SET locked_by = $1, locked_until = now() + make_interval(secs => $2), attempts = attempts + 1, updated_at = now()
          WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN fair f ON f.id = d.id
                        WHERE d.state = 'pending' AND (d.locked_until IS NULL OR d.locked_until < now())
                        ORDER BY f.nth_of_tenant, f.next_attempt_at, f.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED)
          RETURNING id, tenant_id, event_id, endpoint_id, attempts, schedule_from)
       SELECT c.id::text AS id, c.tenant_id, c.endpoint_id, c.attempts, c.schedule_from, e.id AS event_id, e.type, e.created_at, e.data, w.url, w.secret, w.disabled
         FROM c JOIN webhook_events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id
         LEFT JOIN webhook_endpoints w ON w.tenant_id = c.tenant_id AND w.id = c.endpoint_id`,
      [this.d.owner, this.leaseMs / 1000, limit, shares.endpoints, shares.tenants, shares.senders, shares.perTenant],
    );
    return rows;
  }

  private async deliver(c: Claimed): Promise<Outcome> {
    if (c.url === null || c.secret === null || c.disabled === true) {
      await this.finish(c, { status: null, error: c.url === null ? 'endpoint deleted' : 'endpoint disabled', durationMs: 0 }, 'failed');
      return { result: 'failed', sent: false, retryInMs: null };
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
      return { result: 'delivered', sent: true, retryInMs: null };
    }
    const delay = nextDelayMs(c.attempts - c.schedule_from, this.d.delays ?? RETRY_DELAYS_MS);
    await this.finish(c, { status, error, durationMs }, delay === null ? 'failed' : 'pending', delay ?? 0);
    return { result: delay === null ? 'failed' : 'retried', sent: true, retryInMs: delay };
  }

  /**
   * Writes an attempt and the delivery's new state, only while this dispatcher still holds the
   * delivery: once another has claimed it (its lease ran out), the attempt is that one's to write.
   */
  private async finish(c: Claimed, a: { status: number | null; error: string | null; durationMs: number }, state: 'delivered' | 'pending' | 'failed', delayMs = 0): Promise<void> {
    const { rows } = await this.d.pg.query(
      `WITH u AS (
         UPDATE webhook_deliveries SET state = $7, last_status = $4, last_error = $5, next_attempt_at = now() + make_interval(secs => $8),
                delivered_at = CASE WHEN $7 = 'delivered' THEN now() ELSE delivered_at END, locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE id = $1 AND locked_by = $2
          RETURNING id),
       a AS (INSERT INTO webhook_attempts (delivery_id, attempt, status, error, duration_ms) SELECT u.id, $3, $4, $5, $6 FROM u ON CONFLICT DO NOTHING)
       SELECT id FROM u`,
      [c.id, this.d.owner, c.attempts, a.status, a.error?.slice(0, 1000) ?? null, a.durationMs, state, delayMs / 1000],
    );
    if (rows.length === 0) {
      this.d.logger.warn({ delivery: c.id, event: c.event_id, tenant: c.tenant_id }, 'a webhook delivery was no longer held by this dispatcher when its attempt ended; its result is not written');
      return;
    }
    this.d.metrics.attempts.inc({ result: state === 'pending' ? 'retry' : state });
    if (state === 'failed') this.d.logger.warn({ delivery: c.id, event: c.event_id, tenant: c.tenant_id, error: a.error }, 'webhook delivery failed for good');
  }

  /** Refreshes the gauges when the last refresh is older than the interval (a failure is logged: the run goes on). */
  private async refreshGaugesIfDue(): Promise<void> {
    if (performance.now() - this.gaugesAt < (this.d.gaugeIntervalMs ?? 5_000)) return;
    await this.refreshGauges().catch((e: unknown) => this.d.logger.warn({ ...errorSummary(e) }, 'refreshing the webhook delivery gauges failed'));
  }

  private async refreshGauges(): Promise<void> {
    this.gaugesAt = performance.now();
    const { rows } = await this.d.pg.query<{ state: string; n: string; oldest: string | null }>(
      "SELECT state, count(*)::text AS n, extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::text AS oldest FROM webhook_deliveries GROUP BY state",
    );
    for (const s of ['pending', 'delivered', 'failed']) this.d.metrics.deliveries.set({ state: s }, Number(rows.find((r) => r.state === s)?.n ?? 0));
    this.d.metrics.oldestPending.set(Number(rows.find((r) => r.oldest !== null)?.oldest ?? 0));
  }
}
