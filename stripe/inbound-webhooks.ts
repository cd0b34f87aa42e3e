import Stripe from 'stripe';
import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import type { Logger } from '../core/log.js';
import type { Route } from '../http/types.js';
import { checkText, formatPath } from '../http/body.js';
import type { SyncMetrics } from './metrics.js';
import { StripeWebhookResult } from './openapi.js';
import { json } from '../http/openapi-doc.js';
import { emit, type EventType } from '../webhooks/events.js';
import { invoiceEvents } from '../webhooks/payloads.js';
import { NO_DUNNING, subscriptionView, type DunningPolicy } from '../catalog/subscriptions.js';
import { settleDunning } from './dunning.js';
import { invoiceCreditFollows } from '../catalog/credits.js';

/**
 * `POST /v1/stripe/webhooks`: Stripe events about what billing sync created. The raw body is
 * verified with `stripe.webhooks.constructEvent` (a bad signature is a 400 and changes
 * nothing); each event id is handled once (a replay is acknowledged and ignored); events are
 * applied only if newer than the last one applied to the same object, so out-of-order delivery
 * cannot undo a later state.
 *
 * - `invoice.paid` → the invoice is `paid` (with `paid_at`); `invoice.voided` → `void`;
 *   `invoice.marked_uncollectible` → `uncollectible`;
 * - `invoice.payment_failed` → the invoice stays `open` and records the failure;
 *   `invoice.payment_action_required` (the customer must authenticate the charge) and
 *   `invoice.overdue` (a send_invoice invoice unpaid past its due date) record it the same way,
 *   with `action_required_at` or `overdue_at`: each is an unpaid invoice for dunning;
 * - each of these is announced as the outbound event of the same name, once per Stripe event;
 * - dunning follows the invoices (dunning.ts): a subscription with an open, unpaid invoice goes
 *   through the policy's stages from the first such event (grace, `past_due`, `suspended`,
 *   canceled if configured); when none is left it is back to normal; each change is announced;
 * - `customer.subscription.updated|deleted` (for Stripe subscriptions carrying
 *   `metadata.tally_subscription`): `past_due`/`unpaid` set dunning, `active` clears it,
 *   `canceled` or a deletion cancels the Tally subscription at the event's time.
 *
 * A signature dated more than FUTURE_TOLERANCE_S ahead is refused (Stripe's check bounds only
 * the past), and so is an event whose `created` is: applied, a date ahead would make every
 * real event about the same object "stale" until then. A correctly signed event that is not
 * shaped as Stripe sends them is a 400 (TALLY_ERR_WEBHOOK_EVENT_INVALID) naming the field;
 * event types Tally does not handle are acknowledged and ignored.
 */
export interface WebhookDeps {
  pg: PostgresStore;
  secret: string | undefined;
  metrics: SyncMetrics;
  logger: Logger;
  /** The stages of an unpaid subscription (TALLY_DUNNING_*). */
  dunning?: DunningPolicy;
  /** Epoch milliseconds now (tests move it). */
  clock?: () => number;
  /** Side effects of an invoice event once applied, run in its transaction (the wiring registers them: customer email). */
  invoiceHooks?: readonly StripeInvoiceHook[];
}

/** An invoice event from Stripe that changed a Tally invoice (applied, not stale or ignored). */
export interface StripeInvoiceEvent {
  tenantId: string;
  invoiceId: string;
  type: string;
  stripeEventId: string;
}

export type StripeInvoiceHook = (tx: Queryable, event: StripeInvoiceEvent) => Promise<void>;

/** How far ahead of this node's clock a signature or an event may be dated: clock skew, no more. */
export const FUTURE_TOLERANCE_S = 300;

const StripeId = z.string().min(1).max(255);
/** Stripe metadata: string keys and string values. */
const Metadata = z.record(z.string(), z.string()).nullable().optional();

/** What every Stripe event has; `created` is bounded again against the clock when received. */
const Envelope = z.object({
  id: StripeId,
  type: z.string().min(1).max(255),
  // Seconds since the epoch, within what a timestamptz and a JS Date both hold.
  created: z.number().int().min(0).max(253_402_300_799),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});
const InvoiceObject = z.object({ id: StripeId, metadata: Metadata });
const SubscriptionObject = z.object({ status: z.string().max(255).optional(), metadata: Metadata });

/** The event as Stripe sends it, or a 400 naming the first field that is not. */
function checkEvent(parsed: unknown, nowMs: number): Stripe.Event {
  const fail = (path: readonly PropertyKey[], message: string): TallyError => {
    const field = formatPath(path.filter((p): p is string | number => typeof p !== 'symbol'));
    return new TallyError('TALLY_ERR_WEBHOOK_EVENT_INVALID', `the event is not one Stripe sends: ${field === '' ? 'event' : field} ${message}`, field === '' ? {} : { field });
  };
  const envelope = Envelope.safeParse(parsed);
  if (!envelope.success) throw fail(envelope.error.issues[0]!.path, envelope.error.issues[0]!.message);
  const { type, created, data } = envelope.data;
  if (created > Math.floor(nowMs / 1000) + FUTURE_TOLERANCE_S) throw fail(['created'], `is ${new Date(created * 1000).toISOString()}, ahead of now`);
  const object = type.startsWith('invoice.') ? InvoiceObject : type === 'customer.subscription.updated' || type === 'customer.subscription.deleted' ? SubscriptionObject : undefined;
  const checked = object?.safeParse(data.object);
  if (checked !== undefined && !checked.success) throw fail(['data', 'object', ...checked.error.issues[0]!.path], checked.error.issues[0]!.message);
  return parsed as Stripe.Event;
}

/** The `t=` of a Stripe-Signature header that verified (seconds). */
function signedAt(header: string): number {
  const t = header.split(',').find((part) => part.trim().startsWith('t='));
  return t === undefined ? Number.NaN : Number(t.trim().slice(2));
}

type Outcome = 'applied' | 'stale' | 'unknown_object' | 'ignored';

export function webhookRoute(d: WebhookDeps): Route {
  return {
    method: 'POST',
    pattern: '/v1/stripe/webhooks',
    access: 'public',
    doc: {
      operationId: 'receiveStripeWebhook',
      tag: 'Stripe',
      summary: 'Receive a Stripe event',
      description: "Point a Stripe webhook endpoint here. The raw body is verified with the `Stripe-Signature` header and `STRIPE_WEBHOOK_SECRET`; each event is handled once.",
      headers: [{ name: 'Stripe-Signature', required: true, description: "Stripe's signature of the raw body.", schema: { type: 'string' } }],
      requestBody: { description: 'A Stripe event, as Stripe sends it.', required: true, content: { 'application/json': { schema: { type: 'object' } } } },
      responses: { 200: json('Received; what it changed.', StripeWebhookResult) },
      errors: ['TALLY_ERR_WEBHOOK_SIGNATURE', 'TALLY_ERR_WEBHOOK_EVENT_INVALID', 'TALLY_ERR_STRIPE_NOT_CONFIGURED'],
    },
    handler: async (req) => {
      if (d.secret === undefined) throw new TallyError('TALLY_ERR_STRIPE_NOT_CONFIGURED', 'STRIPE_WEBHOOK_SECRET is not set; webhooks cannot be verified');
      const signature = req.headers['stripe-signature'];
      const nowMs = (d.clock ?? Date.now)();
      let parsed: unknown;
      try {
        parsed = Stripe.webhooks.constructEvent(req.body, signature ?? '', d.secret);
      } catch (e) {
        // constructEvent parses the body only once the signature verified: a SyntaxError means
        // a signed body that is not JSON, not a bad signature.
        if (e instanceof SyntaxError) {
          d.metrics.webhooks.inc({ type: 'unknown', result: 'invalid' });
          throw new TallyError('TALLY_ERR_INVALID_JSON', `the signed body is not valid JSON: ${e.message}`);
        }
        d.metrics.webhooks.inc({ type: 'unknown', result: 'bad_signature' });
        throw new TallyError('TALLY_ERR_WEBHOOK_SIGNATURE', `the Stripe-Signature header does not verify: ${e instanceof Error ? e.message : String(e)}`, { field: 'Stripe-Signature' });
      }
      if (!(signedAt(signature ?? '') <= Math.floor(nowMs / 1000) + FUTURE_TOLERANCE_S)) {
        d.metrics.webhooks.inc({ type: 'unknown', result: 'bad_signature' });
        throw new TallyError('TALLY_ERR_WEBHOOK_SIGNATURE', `the Stripe-Signature timestamp is more than ${FUTURE_TOLERANCE_S} s ahead of this server's clock`, { field: 'Stripe-Signature' });
      }
      let event: Stripe.Event;
      try {
        // Signed does not mean storable: text Postgres cannot hold (NUL, lone surrogates) is a 400.
        checkText(parsed);
        event = checkEvent(parsed, nowMs);
      } catch (e) {
        d.metrics.webhooks.inc({ type: 'unknown', result: 'invalid' });
        throw e;
      }
      const outcome = await d.pg.transaction(async (tx) => {
        const first = await tx.query('INSERT INTO stripe_events (id, type, created, outcome) VALUES ($1, $2, to_timestamp($3), $4) ON CONFLICT (id) DO NOTHING', [event.id, event.type, event.created, 'pending']);
        if (first.rowCount === 0) return 'duplicate' as const;
        const result = await apply(tx, event, d.dunning ?? NO_DUNNING, new Date(nowMs), d.invoiceHooks ?? []);
        await tx.query('UPDATE stripe_events SET outcome = $2 WHERE id = $1', [event.id, result]);
        return result;
      });
      d.metrics.webhooks.inc({ type: event.type, result: outcome });
      d.logger.info({ event: event.id, type: event.type, outcome }, 'stripe webhook');
      return { status: 200, body: { received: true, outcome } };
    },
  };
}

const INVOICE_STATUS: Record<string, 'paid' | 'void' | 'uncollectible' | undefined> = {
  'invoice.paid': 'paid',
  'invoice.voided': 'void',
  'invoice.marked_uncollectible': 'uncollectible',
};

/** The Tally statuses each invoice event applies to. */
const FROM_STATUS: Record<string, readonly string[] | undefined> = {
  'invoice.paid': ['open', 'uncollectible', 'void'],
  'invoice.voided': ['open', 'uncollectible'],
  'invoice.marked_uncollectible': ['open'],
  'invoice.payment_failed': ['open'],
  'invoice.payment_action_required': ['open'],
  'invoice.overdue': ['open'],
};

/** Events that leave an invoice open and unpaid, and how. */
const UNPAID: Record<string, 'failed' | 'action_required' | 'overdue' | undefined> = {
  'invoice.payment_failed': 'failed',
  'invoice.payment_action_required': 'action_required',
  'invoice.overdue': 'overdue',
};

async function apply(tx: Queryable, event: Stripe.Event, policy: DunningPolicy, now: Date, hooks: readonly StripeInvoiceHook[]): Promise<Outcome> {
  const at = new Date(event.created * 1000);
  // Outbound webhooks about what this event changed, committed with the change.
  const subscriptionEvent = async (tenantId: string, id: string, canceled: boolean) =>
    emit(tx, [
      {
        tenantId,
        type: canceled ? 'subscription.canceled' : 'subscription.updated',
        key: canceled ? `subscription.canceled:${id}` : `subscription.updated:stripe:${event.id}`,
        data: await subscriptionView(tx, tenantId, id, now, policy),
      },
    ]);
  if (event.type.startsWith('invoice.')) {
    const obj = event.data.object as { id: string; metadata?: Record<string, string> | null };
    const { rows } = await tx.query<{ tenant_id: string; id: string; subscription_id: string; status: string; collection_method: string; stripe_status_at: Date | null }>(
      `SELECT tenant_id, id, subscription_id, status, collection_method, stripe_status_at FROM invoices
        WHERE (tenant_id = $1 AND id = $2) OR stripe_invoice_id = $3 LIMIT 1 FOR UPDATE`,
      [obj.metadata?.tally_tenant ?? null, obj.metadata?.tally_invoice ?? null, obj.id],
    );
    const inv = rows[0];
    if (inv === undefined) return 'unknown_object';
    const status = INVOICE_STATUS[event.type];
    const unpaid = UNPAID[event.type];
    if (status === undefined && unpaid === undefined) return 'ignored';
    if (inv.stripe_status_at !== null && inv.stripe_status_at.getTime() > at.getTime()) return 'stale';
    // What finance settled stays settled: only money Stripe collected moves a void or
    // written-off invoice on (to paid), and only an open invoice can be reported unpaid. A
    // change billing sync has not sent to Stripe yet is not undone by Stripe's older view.
    if (!FROM_STATUS[event.type]!.includes(inv.status)) return 'ignored';
    if (status !== undefined) {
      // Its subscription before the credit grants, in close's order (invoice-actions.ts).
      await tx.query('SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [inv.tenant_id, inv.subscription_id]);
      await tx.query(
        `UPDATE invoices SET status = $3, stripe_status_at = $4, payment_failed_at = NULL,
                paid_at = CASE WHEN $3 = 'paid' THEN COALESCE(paid_at, $4) ELSE paid_at END, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [inv.tenant_id, inv.id, status, at],
      );
      await invoiceCreditFollows(tx, inv.tenant_id, inv.id, { from: inv.status, to: status });
    } else {
      // A send_invoice invoice is unpaid for dunning once it is overdue, not when a payment
      // on its hosted page fails before it is due.
      await tx.query(
        `UPDATE invoices SET status = 'open', stripe_status_at = $3,
                payment_failed_at = CASE WHEN collection_method = 'send_invoice' AND $4 <> 'overdue' THEN payment_failed_at ELSE COALESCE(payment_failed_at, $3) END,
                overdue_at = CASE WHEN $4 = 'overdue' THEN COALESCE(overdue_at, $3) ELSE overdue_at END,
                action_required_at = CASE WHEN $4 = 'action_required' THEN $3 ELSE action_required_at END, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [inv.tenant_id, inv.id, at, unpaid],
      );
    }
    const ref = [{ tenantId: inv.tenant_id, id: inv.id }];
    // Announced under the same name as Stripe's event (every invoice event applied here has
    // one). Paid, voided, uncollectible and overdue happen once to an invoice; failures may
    // repeat (one per Stripe event).
    const announced = event.type as EventType;
    await emit(tx, await invoiceEvents(tx, ref, announced, unpaid === 'failed' || unpaid === 'action_required' ? () => `${announced}:${event.id}` : undefined));
    await settleDunning(tx, inv.tenant_id, inv.subscription_id, policy, now);
    for (const hook of hooks) await hook(tx, { tenantId: inv.tenant_id, invoiceId: inv.id, type: event.type, stripeEventId: event.id });
    return 'applied';
  }
  if (event.type === 'customer.subscription.updated' || event.type === 'customer.subscription.deleted') {
    const obj = event.data.object as { status?: string; metadata?: Record<string, string> | null };
    const tenant = obj.metadata?.tally_tenant;
    const id = obj.metadata?.tally_subscription;
    if (tenant === undefined || id === undefined) return 'unknown_object';
    const { rows } = await tx.query<{ stripe_status_at: Date | null }>('SELECT stripe_status_at FROM subscriptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenant, id]);
    if (rows[0] === undefined) return 'unknown_object';
    if (rows[0].stripe_status_at !== null && rows[0].stripe_status_at.getTime() > at.getTime()) return 'stale';
    const deleted = event.type === 'customer.subscription.deleted' || obj.status === 'canceled';
    if (deleted) {
      await tx.query('UPDATE subscriptions SET canceled_at = COALESCE(canceled_at, $3), stripe_status_at = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [tenant, id, at]);
    } else if (obj.status === 'past_due' || obj.status === 'unpaid') {
      await tx.query("UPDATE subscriptions SET dunning = 'past_due', past_due_since = COALESCE(past_due_since, $3), stripe_status_at = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2", [tenant, id, at]);
    } else if (obj.status === 'active' || obj.status === 'trialing') {
      await tx.query('UPDATE subscriptions SET dunning = NULL, past_due_since = NULL, stripe_status_at = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [tenant, id, at]);
    } else {
      return 'ignored';
    }
    await subscriptionEvent(tenant, id, deleted);
    return 'applied';
  }
  return 'ignored';
}
