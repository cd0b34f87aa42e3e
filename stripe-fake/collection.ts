import type { SimClock } from './clock.js';
import { errors } from './errors.js';
import { type Cause, emitInvoice, markPaid, markUncollectible, requireStatus } from './invoices.js';
import { attachedTo } from './payment-methods.js';
import type { InvoiceEntry, PaymentMethodEntry, Store } from './store.js';
import type { StripeEvent, Webhooks } from './webhooks.js';

/**
 * How Stripe collects an open invoice. Finalizing with `auto_advance` charges a
 * `charge_automatically` invoice (the invoice's `default_payment_method`, else the customer's
 * `invoice_settings.default_payment_method`) or emails a `send_invoice` one (`invoice.sent`).
 * A failed automatic attempt is retried on a fixed schedule (Stripe's custom retry schedule;
 * Smart Retries pick their own times, which a test cannot predict); after the last one the
 * invoice is left open, or marked uncollectible. Work that falls due later (retries, a first
 * attempt delayed as Stripe delays it, `invoice.overdue`) runs when the clock is advanced or
 * ticked, never on a timer, so a test decides when it happens.
 */
export interface CollectionConfig {
  /** Days after each failed automatic attempt until the next; default 3, 5, 7 (four attempts in all). */
  retryScheduleDays: readonly number[];
  /** After the last retry fails: leave the invoice open (Stripe's default, "past due") or mark it uncollectible. */
  afterRetries: 'leave_open' | 'mark_uncollectible';
  /** Seconds from finalization to the first automatic attempt; default 0 (inside finalize). Stripe waits up to about an hour. */
  collectionDelaySeconds: number;
}

export const DEFAULT_RETRY_SCHEDULE_DAYS: readonly number[] = [3, 5, 7];
const DAY = 86_400;

export function collectionConfig(o: { retryScheduleDays?: readonly number[]; afterRetries?: string; collectionDelaySeconds?: number }): CollectionConfig {
  const retryScheduleDays = o.retryScheduleDays ?? DEFAULT_RETRY_SCHEDULE_DAYS;
  // A retry at the same second as the attempt before it would never let the clock move past it.
  if (!retryScheduleDays.every((d) => Number.isFinite(d) && d * DAY >= 1)) throw new Error('retryScheduleDays must be positive numbers of days (at least one second)');
  const afterRetries = o.afterRetries ?? 'leave_open';
  if (afterRetries !== 'leave_open' && afterRetries !== 'mark_uncollectible') throw new Error('afterRetries must be "leave_open" or "mark_uncollectible"');
  const collectionDelaySeconds = o.collectionDelaySeconds ?? 0;
  if (!Number.isInteger(collectionDelaySeconds) || collectionDelaySeconds < 0) throw new Error('collectionDelaySeconds must be a non-negative integer');
  return { retryScheduleDays: [...retryScheduleDays], afterRetries, collectionDelaySeconds };
}

type Outcome = 'succeeded' | 'declined' | 'requires_action';

/**
 * The card an invoice is charged to: its own default, else its customer's. A card detached
 * since it was set is no card (the attempt fails as with none).
 */
function defaultCard(store: Store, inv: InvoiceEntry): PaymentMethodEntry | null {
  const id = inv.obj.default_payment_method ?? store.customers.get(inv.obj.customer)?.obj.invoice_settings.default_payment_method ?? null;
  if (id === null) return null;
  const pm = store.paymentMethods.get(id);
  return pm !== undefined && pm.obj.customer === inv.obj.customer ? pm : null;
}

function charge(pm: PaymentMethodEntry | null): Outcome {
  if (pm === null) return 'declined';
  switch (pm.behaviour) {
    case 'succeeds':
      return 'succeeded';
    case 'declines':
      return 'declined';
    default:
      return 'requires_action';
  }
}

function paid(store: Store, webhooks: Webhooks, inv: InvoiceEntry, cause: Cause): StripeEvent[] {
  markPaid(store, inv);
  return [emitInvoice(webhooks, store, 'invoice.paid', inv, cause), emitInvoice(webhooks, store, 'invoice.payment_succeeded', inv, cause)];
}

/**
 * One automatic attempt. A failure (a decline, no usable card, or a card that needs
 * authentication) counts as an attempt and sets `next_payment_attempt` from the schedule,
 * counted from this attempt; none is left after the last.
 */
function automaticAttempt(store: Store, webhooks: Webhooks, inv: InvoiceEntry, config: CollectionConfig, cause: Cause): StripeEvent[] {
  const i = inv.obj;
  const outcome = charge(defaultCard(store, inv));
  i.attempted = true;
  i.attempt_count += 1;
  if (outcome === 'succeeded') return paid(store, webhooks, inv, cause);
  const days = config.retryScheduleDays[i.attempt_count - 1];
  // Whole seconds (a fraction of a day rounds down, to at least one second by the config check).
  i.next_payment_attempt = days === undefined ? null : store.now() + Math.floor(days * DAY);
  const events = [emitInvoice(webhooks, store, outcome === 'requires_action' ? 'invoice.payment_action_required' : 'invoice.payment_failed', inv, cause)];
  if (i.next_payment_attempt === null && config.afterRetries === 'mark_uncollectible') events.push(markUncollectible(store, webhooks, inv, cause));
  return events;
}

/** What finalizing with `auto_advance` sets off, after `invoice.finalized`. */
export function advanceFinalized(store: Store, webhooks: Webhooks, inv: InvoiceEntry, config: CollectionConfig, cause: Cause): StripeEvent[] {
  const i = inv.obj;
  if (i.status !== 'open' || !i.auto_advance) return [];
  if (i.collection_method === 'send_invoice') return [emitInvoice(webhooks, store, 'invoice.sent', inv, cause)];
  if (config.collectionDelaySeconds > 0) {
    i.next_payment_attempt = (i.status_transitions.finalized_at ?? store.now()) + config.collectionDelaySeconds;
    return [];
  }
  return automaticAttempt(store, webhooks, inv, config, cause);
}

/**
 * `POST /v1/invoices/:id/pay`: paid out of band (no charge, `invoice.paid`), or a charge to the
 * given card or the default one. A failed charge is still an attempt with its event, and the
 * request fails with Stripe's 402; the retry schedule is not changed by it.
 */
export function payInvoice(store: Store, webhooks: Webhooks, inv: InvoiceEntry, p: { paidOutOfBand?: boolean; paymentMethod?: string }, cause: Cause): StripeEvent[] {
  requireStatus(inv, ['open', 'uncollectible'], 'pay');
  const i = inv.obj;
  if (p.paidOutOfBand === true) {
    markPaid(store, inv);
    return [emitInvoice(webhooks, store, 'invoice.paid', inv, cause)];
  }
  const pm = p.paymentMethod === undefined ? defaultCard(store, inv) : attachedTo(store, p.paymentMethod, i.customer, 'payment_method');
  if (pm === null) throw errors.noPaymentMethod();
  i.attempted = true;
  i.attempt_count += 1;
  switch (charge(pm)) {
    case 'succeeded':
      return paid(store, webhooks, inv, cause);
    case 'declined':
      emitInvoice(webhooks, store, 'invoice.payment_failed', inv, cause);
      throw errors.cardDeclined();
    default:
      emitInvoice(webhooks, store, 'invoice.payment_action_required', inv, cause);
      throw errors.invoiceRequiresAction();
  }
}

interface Due {
  /** Unix seconds. */
  at: number;
  seq: number;
  run: () => StripeEvent[];
}

/** The earliest work due by `until` (unix seconds): an automatic attempt or an overdue notice. */
function nextDue(store: Store, webhooks: Webhooks, config: CollectionConfig, until: number): Due | null {
  let best: Due | null = null;
  const consider = (d: Due) => {
    if (d.at <= until && (best === null || d.at < best.at || (d.at === best.at && d.seq < best.seq))) best = d;
  };
  for (const inv of store.invoices.values()) {
    const i = inv.obj;
    if (i.status !== 'open') continue;
    if (i.collection_method === 'charge_automatically' && i.auto_advance && i.next_payment_attempt !== null) {
      consider({ at: i.next_payment_attempt, seq: inv.seq, run: () => automaticAttempt(store, webhooks, inv, config, {}) });
    }
    // Overdue once the due date has passed (a second after it), once per invoice.
    if (i.collection_method === 'send_invoice' && i.due_date !== null && !inv.overdueNotified) {
      consider({
        at: i.due_date + 1,
        seq: inv.seq,
        run: () => {
          inv.overdueNotified = true;
          return [emitInvoice(webhooks, store, 'invoice.overdue', inv, {})];
        },
      });
    }
  }
  return best;
}

/**
 * Runs everything due by the clock's reading, earliest first, each with the clock pinned to
 * the moment it fell due (so a retry that fails schedules the next from then, and several
 * retries can fall within one advance). Events have no request, as Stripe's automatic ones.
 */
export function runDue(store: Store, webhooks: Webhooks, config: CollectionConfig, clock: SimClock): StripeEvent[] {
  const until = Math.floor(clock.now() / 1000);
  const events: StripeEvent[] = [];
  for (let guard = 0; guard < 1_000_000; guard++) {
    const due = nextDue(store, webhooks, config, until);
    if (due === null) return events;
    const d: Due = due;
    events.push(...clock.at(d.at * 1000, d.run));
  }
  throw new Error('due work did not settle');
}
