import { createHmac } from 'node:crypto';
import { type Clock, type Ids, unixSeconds } from './random.js';

/**
 * Events and their delivery as Stripe sends them: a JSON body (pretty-printed, so a receiver
 * that re-serialises instead of verifying the raw bytes fails), signed in `Stripe-Signature:
 * t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with a fresh timestamp on every attempt, and
 * retried on a non-2xx answer or a network error. Delivery can be paused and the queued events
 * released in reverse order, and any event can be delivered again (a replay).
 */
export const API_VERSION = '2026-10-28.endive';

export type EventType =
  | 'invoice.finalized'
  | 'invoice.paid'
  | 'invoice.payment_failed'
  | 'invoice.voided'
  | 'invoice.marked_uncollectible'
  | 'invoice.payment_succeeded'
  | 'invoice.payment_action_required'
  | 'invoice.sent'
  | 'invoice.overdue'
  | 'payment_method.attached'
  | 'payment_method.detached'
  | 'customer.updated'
  | 'customer.subscription.updated'
  | 'customer.subscription.deleted'
  | 'credit_note.created'
  | 'credit_note.updated'
  | 'credit_note.voided'
  | 'refund.created';

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: EventType;
}

export interface WebhookConfig {
  url: string;
  /** The endpoint's signing secret (`whsec_…`). */
  secret: string;
  /** Waits before each retry of a failed delivery (default 100, 500, 2000 ms: three retries). */
  retryDelaysMs?: readonly number[];
  /** Per attempt (default 5000 ms). */
  timeoutMs?: number;
}

export interface Delivery {
  eventId: string;
  type: EventType;
  attempt: number;
  /** The receiver's status, or null when the attempt failed without one. */
  status: number | null;
  error: string | null;
  at: number;
}

export function signatureHeader(payload: string, secret: string, t: number): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${payload}`, 'utf8').digest('hex');
  return `t=${t},v1=${v1}`;
}

export class Webhooks {
  private config: WebhookConfig | null;
  private readonly all: StripeEvent[] = [];
  private readonly log: Delivery[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private paused = false;
  private queue: string[] = [];

  /**
   * `clock` dates events (`created`: the server's time, moved by `advance`); `signingClock`
   * dates signatures, which a receiver checks against its own clock (as Stripe's test clocks
   * do, signatures carry real time even when the objects live in simulated time).
   */
  constructor(
    private readonly ids: Ids,
    private readonly clock: Clock,
    config: WebhookConfig | undefined,
    private readonly signingClock: Clock = clock,
  ) {
    this.config = config ?? null;
  }

  configure(config: WebhookConfig | null): void {
    this.config = config;
  }

  get endpoint(): WebhookConfig | null {
    return this.config;
  }

  /** Records an event and delivers it (or queues it while paused). */
  emit(type: EventType, object: object, o: { previousAttributes?: Record<string, unknown>; requestId?: string; idempotencyKey?: string | null } = {}): StripeEvent {
    const event: StripeEvent = {
      id: this.ids.next('evt'),
      object: 'event',
      api_version: API_VERSION,
      created: unixSeconds(this.clock()),
      data: { object: structuredClone(object) as Record<string, unknown>, ...(o.previousAttributes === undefined ? {} : { previous_attributes: structuredClone(o.previousAttributes) }) },
      livemode: false,
      pending_webhooks: this.config === null ? 0 : 1,
      request: { id: o.requestId ?? null, idempotency_key: o.idempotencyKey ?? null },
      type,
    };
    this.all.push(event);
    if (this.paused) this.queue.push(event.id);
    else if (this.config !== null) this.track(this.send(event));
    return event;
  }

  events(): StripeEvent[] {
    return structuredClone(this.all);
  }

  event(id: string): StripeEvent | undefined {
    const e = this.all.find((x) => x.id === id);
    return e === undefined ? undefined : structuredClone(e);
  }

  deliveries(): Delivery[] {
    return this.log.map((d) => ({ ...d }));
  }

  /** Holds new events until `resume`. */
  pause(): void {
    this.paused = true;
  }

  /** Delivers the held events one after another, in order or reversed, and resumes delivery. */
  async resume(order: 'fifo' | 'reverse' = 'fifo'): Promise<void> {
    const held = order === 'reverse' ? [...this.queue].reverse() : [...this.queue];
    this.queue = [];
    this.paused = false;
    await this.deliverInOrder(held);
  }

  /** Delivers these events (again, if they were already delivered), one after another. */
  async deliverInOrder(ids: readonly string[]): Promise<void> {
    const events = ids.map((id) => {
      const e = this.all.find((x) => x.id === id);
      if (e === undefined) throw new Error(`no such event: ${id}`);
      return e;
    });
    const run = (async () => {
      for (const e of events) await this.send(e);
    })();
    this.track(run);
    await run;
  }

  /** Delivers one event again: a replay, as Stripe does when it did not see a 2xx in time. */
  deliver(id: string): Promise<void> {
    return this.deliverInOrder([id]);
  }

  /** Resolves when no delivery (or retry) is in progress. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops retries and aborts deliveries in progress. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.idle();
  }

  clear(): void {
    this.all.length = 0;
    this.log.length = 0;
    this.queue = [];
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async send(event: StripeEvent): Promise<void> {
    const config = this.config;
    if (config === null) throw new Error('no webhook endpoint is configured');
    const delays = config.retryDelaysMs ?? [100, 500, 2000];
    const body = JSON.stringify(event, null, 2);
    for (let attempt = 1; ; attempt++) {
      if (this.closing.signal.aborted) return;
      const t = unixSeconds(this.signingClock());
      let status: number | null = null;
      let error: string | null = null;
      try {
        const res = await fetch(config.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            'stripe-signature': signatureHeader(body, config.secret, t),
          },
          body,
          signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(config.timeoutMs ?? 5000)]),
        });
        status = res.status;
        await res.arrayBuffer();
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      this.log.push({ eventId: event.id, type: event.type, attempt, status, error, at: this.clock() });
      if (status !== null && status >= 200 && status < 300) return;
      const wait = delays[attempt - 1];
      if (wait === undefined) return;
      await sleep(wait, this.closing.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
