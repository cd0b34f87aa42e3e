import { errors } from './errors.js';
import { isChargeableAmount } from './currency.js';
import type { Invoice, InvoiceItem, LineItem } from './objects.js';
import type { InvoiceEntry, ItemEntry, Store } from './store.js';
import type { StripeEvent, Webhooks } from './webhooks.js';

/**
 * The invoice life cycle shared by the API routes and the test triggers: totals follow the
 * items while the invoice is a draft; finalizing opens it (or marks it paid when nothing is
 * due); an open invoice is paid, fails a payment, is voided or marked uncollectible. Each
 * transition emits the event Stripe sends for it.
 */
export const MAX_ITEMS_PER_INVOICE = 250;
/** Lines embedded in an invoice; the rest are paged with GET /v1/invoices/:id/lines. */
const EMBEDDED_LINES = 10;
const DAY = 86_400;

export interface Cause {
  requestId?: string;
  idempotencyKey?: string | null;
}

export function lineOf(item: ItemEntry): LineItem {
  const i = item.obj;
  return {
    id: item.lineId,
    object: 'line_item',
    amount: i.amount,
    currency: i.currency,
    description: i.description,
    discount_amounts: [],
    discountable: i.discountable,
    discounts: [],
    invoice: i.invoice ?? '',
    livemode: false,
    metadata: { ...i.metadata },
    parent: {
      invoice_item_details: { invoice_item: i.id, proration: false, proration_details: { credited_items: null }, subscription: null },
      subscription_item_details: null,
      type: 'invoice_item_details',
    },
    period: { ...i.period },
    pretax_credit_amounts: [],
    pricing: { type: 'price_details', unit_amount_decimal: i.pricing.unit_amount_decimal },
    quantity: i.quantity,
    quantity_decimal: i.quantity_decimal,
    subscription: null,
    subtotal: i.amount,
    taxes: [],
  };
}

export function linesOf(store: Store, inv: InvoiceEntry): LineItem[] {
  return inv.items.map((id) => store.items.get(id)).flatMap((e) => (e === undefined ? [] : [lineOf(e)]));
}

export type RenderedInvoice = Omit<Invoice, 'customer'> & {
  customer: unknown;
  lines: { object: 'list'; data: LineItem[]; has_more: boolean; total_count: number; url: string };
};

export function renderInvoice(store: Store, inv: InvoiceEntry, o: { allLines?: boolean; expand?: readonly string[] } = {}): RenderedInvoice {
  const lines = linesOf(store, inv);
  const shown = o.allLines === true ? lines : lines.slice(0, EMBEDDED_LINES);
  const out: RenderedInvoice = {
    ...structuredClone(inv.obj),
    lines: { object: 'list', data: shown, has_more: shown.length < lines.length, total_count: lines.length, url: `/v1/invoices/${inv.obj.id}/lines` },
  };
  if (o.expand?.includes('customer') === true) out.customer = structuredClone(store.customers.get(inv.obj.customer)?.obj ?? inv.obj.customer);
  return out;
}

export function renderItem(store: Store, item: ItemEntry, expand: readonly string[] = []): Omit<InvoiceItem, 'customer' | 'invoice'> & { customer: unknown; invoice: unknown } {
  const out: Omit<InvoiceItem, 'customer' | 'invoice'> & { customer: unknown; invoice: unknown } = structuredClone(item.obj);
  if (expand.includes('customer')) out.customer = structuredClone(store.customers.get(item.obj.customer)?.obj ?? item.obj.customer);
  if (expand.includes('invoice') && item.obj.invoice !== null) {
    const inv = store.invoices.get(item.obj.invoice);
    if (inv !== undefined) out.invoice = renderInvoice(store, inv);
  }
  return out;
}

/** Totals from the items (no tax, discounts or credit in this server). */
export function recompute(store: Store, inv: InvoiceEntry): void {
  let subtotal = 0;
  for (const id of inv.items) subtotal += store.items.get(id)?.obj.amount ?? 0;
  const i = inv.obj;
  i.subtotal = subtotal;
  i.subtotal_excluding_tax = subtotal;
  i.total = subtotal;
  i.total_excluding_tax = subtotal;
  i.amount_due = Math.max(0, subtotal);
  i.amount_remaining = i.amount_due - i.amount_paid;
}

export function emitInvoice(webhooks: Webhooks, store: Store, type: StripeEvent['type'], inv: InvoiceEntry, cause: Cause): StripeEvent {
  inv.obj.webhooks_delivered_at ??= store.now();
  return webhooks.emit(type, renderInvoice(store, inv), cause);
}

/** `hostedUrl`: the invoice's page for the customer (Stripe's is on invoice.stripe.com), set once it is finalized. */
export function finalize(store: Store, webhooks: Webhooks, inv: InvoiceEntry, autoAdvance: boolean | undefined, cause: Cause, hostedUrl: string): StripeEvent[] {
  const i = inv.obj;
  if (i.status !== 'draft') throw errors.invalidRequest("This invoice is already finalized, you can't re-finalize a non-draft invoice.");
  const now = store.now();
  const customer = store.customer(i.customer, 'customer');
  recompute(store, inv);
  // Finalizing creates the payment of the amount due, which Stripe refuses in fractions of an ISK.
  if (!isChargeableAmount(i.amount_due, i.currency)) {
    throw errors.invalidRequest(
      `Invalid amount. Currency ${i.currency.toUpperCase()} has become effectively zero-decimal and charged amounts must be evenly divisible by 100. See https://stripe.com/docs/currencies#special-cases for more information.`,
      undefined,
      'invalid_charge_amount_no_decimal_compatible',
    );
  }
  i.status = 'open';
  i.hosted_invoice_url = hostedUrl;
  // A number the caller set on the draft is kept (its own sequence); otherwise the customer's next one.
  if (i.number === null) {
    i.number = `${customer.obj.invoice_prefix}-${String(customer.obj.next_invoice_sequence).padStart(4, '0')}`;
    customer.obj.next_invoice_sequence += 1;
  } else if ([...store.invoices.values()].some((e) => e !== inv && e.obj.number === i.number && e.obj.status !== 'draft')) {
    throw errors.invalidRequest(`Invoice number ${i.number} is already used by another invoice.`, 'number', 'invoice_number_already_exists');
  }
  if (autoAdvance !== undefined) i.auto_advance = autoAdvance;
  i.status_transitions.finalized_at = now;
  i.effective_at ??= now;
  i.starting_balance = 0;
  // A negative total is credited to the customer's balance; nothing is due.
  i.ending_balance = Math.min(0, i.total);
  if (i.total < 0) customer.obj.balance += i.total;
  // Net terms count from finalization, when the invoice is issued; 30 days when none were given.
  if (i.collection_method === 'send_invoice') {
    if (inv.daysUntilDue !== null) i.due_date = now + inv.daysUntilDue * DAY;
    else i.due_date ??= now + 30 * DAY;
  }
  const events = [emitInvoice(webhooks, store, 'invoice.finalized', inv, cause)];
  if (i.amount_due === 0) {
    markPaid(store, inv);
    events.push(emitInvoice(webhooks, store, 'invoice.paid', inv, cause));
  }
  return events;
}

export function markPaid(store: Store, inv: InvoiceEntry): void {
  const i = inv.obj;
  i.status = 'paid';
  i.amount_paid = i.amount_due;
  i.amount_remaining = 0;
  i.next_payment_attempt = null;
  i.status_transitions.paid_at = store.now();
}

export function requireStatus(inv: InvoiceEntry, allowed: readonly Invoice['status'][], action: string): void {
  if (!allowed.includes(inv.obj.status)) throw errors.invalidRequest(`You can only ${action} an invoice that is ${allowed.join(' or ')}; invoice ${inv.obj.id} is ${inv.obj.status}.`);
}

export function pay(store: Store, webhooks: Webhooks, inv: InvoiceEntry, cause: Cause = {}): StripeEvent {
  requireStatus(inv, ['open', 'uncollectible'], 'pay');
  inv.obj.attempted = true;
  inv.obj.attempt_count += 1;
  markPaid(store, inv);
  return emitInvoice(webhooks, store, 'invoice.paid', inv, cause);
}

export function failPayment(store: Store, webhooks: Webhooks, inv: InvoiceEntry, cause: Cause = {}): StripeEvent {
  requireStatus(inv, ['open'], 'fail a payment of');
  inv.obj.attempted = true;
  inv.obj.attempt_count += 1;
  inv.obj.next_payment_attempt = store.now() + 3 * DAY;
  return emitInvoice(webhooks, store, 'invoice.payment_failed', inv, cause);
}

export function voidInvoice(store: Store, webhooks: Webhooks, inv: InvoiceEntry, cause: Cause = {}): StripeEvent {
  requireStatus(inv, ['open', 'uncollectible'], 'void');
  inv.obj.status = 'void';
  inv.obj.next_payment_attempt = null;
  inv.obj.status_transitions.voided_at = store.now();
  return emitInvoice(webhooks, store, 'invoice.voided', inv, cause);
}

export function markUncollectible(store: Store, webhooks: Webhooks, inv: InvoiceEntry, cause: Cause = {}): StripeEvent {
  requireStatus(inv, ['open'], 'mark uncollectible');
  inv.obj.status = 'uncollectible';
  inv.obj.next_payment_attempt = null;
  inv.obj.status_transitions.marked_uncollectible_at = store.now();
  return emitInvoice(webhooks, store, 'invoice.marked_uncollectible', inv, cause);
}
