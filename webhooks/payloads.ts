import type { Queryable } from '../core/postgres.js';
import { Dec } from '../core/money.js';
import { subscriptionView, type SubscriptionHook } from '../catalog/subscriptions.js';
import type { ChargeHook } from '../catalog/one-off-charges.js';
import type { CloseHook } from '../invoicing/close-hooks.js';
import type { InvoiceChangeHook } from '../invoicing/invoice-actions.js';
import { creditNoteView, type CreditNoteHook } from '../invoicing/credit-notes.js';
import { invoiceSummaries, type InvoiceSummary } from '../invoicing/invoice-reads.js';
import { emit, type EventType, type NewEvent } from './events.js';

/**
 * Invoice events: the invoice without its lines as `data` (a receiver reads those from
 * `GET /v1/invoices/{id}`), read in the transaction that emits them so it is what committed.
 * One event of `type` per invoice, keyed `<type>:<invoice id>` unless `key` says otherwise.
 */
export async function invoiceEvents(q: Queryable, refs: readonly { tenantId: string; id: string }[], type: EventType, key?: (invoiceId: string) => string): Promise<NewEvent[]> {
  return eventsOf(await invoiceSummaries(q, refs), type, key);
}

/** The events of `type` for invoices already read. */
export function eventsOf(invoices: readonly { tenantId: string; invoice: InvoiceSummary }[], type: EventType, key: (invoiceId: string) => string = (id) => `${type}:${id}`): NewEvent[] {
  return invoices.map(({ tenantId, invoice }) => ({ tenantId, type, key: key(invoice.id), data: invoice }));
}

/**
 * The outbound events of a period close, emitted in its transaction so they commit with the
 * invoices (registered on close by app/rating-stack.ts). With billing sync to Stripe configured, an
 * invoice-mode plan's invoice is `invoice.finalized` when Stripe finalizes it; otherwise (and for
 * meter-mode plans, which Stripe invoices itself) Tally's invoice is final as it is written.
 */
export function closeEvents(o: { stripeSync: boolean }): CloseHook {
  return async (tx, closed, asOf) => {
    const written = await invoiceSummaries(tx, closed.map((c) => ({ tenantId: c.sub.tenantId, id: c.id })));
    const finalHere = new Set(closed.filter((c) => !c.draft && (!o.stripeSync || c.plan.billing_mode !== 'invoice')).map((c) => c.id));
    const paid = new Set(closed.filter((c) => new Dec(c.composed.total).isZero()).map((c) => c.id));
    await emit(tx, [
      ...eventsOf(written, 'invoice.created'),
      ...eventsOf(written.filter((w) => finalHere.has(w.invoice.id)), 'invoice.finalized'),
      ...eventsOf(written.filter((w) => paid.has(w.invoice.id)), 'invoice.paid'),
      // The period that ends a canceled subscription is its last: it is now canceled for good
      // (an immediate cancellation emitted this when it was made; the key makes it once).
      ...(await Promise.all(
        closed
          .filter((c) => c.sub.canceledAt !== null && c.sub.canceledAt.getTime() <= c.period.end.getTime())
          .map(async (c) => ({ tenantId: c.sub.tenantId, type: 'subscription.canceled' as const, key: `subscription.canceled:${c.sub.id}`, data: await subscriptionView(tx, c.sub.tenantId, c.sub.id, asOf) })),
      )),
    ]);
  };
}

/** The outbound event of a subscription change, emitted in its transaction (registered on the subscription service by app/api.ts). */
export const subscriptionEvents: SubscriptionHook = async (tx, change) => {
  await emit(tx, [change]);
};

/** The outbound event of a finance action on an invoice, emitted in its transaction (registered by app/api.ts). */
export const invoiceChangeEvents: InvoiceChangeHook = async (tx, change) => {
  // An approved draft is announced when it is final (stripe/outbox.ts reopenInvoiceRow).
  if (change.action === 'approve') return;
  const type: EventType = change.to === 'void' ? 'invoice.voided' : change.to === 'paid' ? 'invoice.paid' : 'invoice.marked_uncollectible';
  await emit(tx, await invoiceEvents(tx, [{ tenantId: change.tenantId, id: change.invoiceId }], type));
};

/** `credit_note.created`, and `invoice.paid` when the note left nothing due; emitted in its transaction (registered by app/api.ts). */
export const creditNoteEvents: CreditNoteHook = async (tx, issued) => {
  await emit(tx, [{ tenantId: issued.tenantId, type: 'credit_note.created', key: `credit_note.created:${issued.id}`, data: await creditNoteView(tx, issued.tenantId, issued.id) }]);
  if (issued.settledInvoice) await emit(tx, await invoiceEvents(tx, [{ tenantId: issued.tenantId, id: issued.invoiceId }], 'invoice.paid'));
};

/** `charge.created`: a one-off charge added to a subscription (registered by app/api.ts). */
export const chargeEvents: ChargeHook = async (tx, charge, tenantId) => {
  await emit(tx, [{ tenantId, type: 'charge.created', key: `charge.created:${charge.id}`, data: charge }]);
};
