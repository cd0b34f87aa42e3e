import type { PostgresStore, Queryable } from '../core/postgres.js';
import type { CloseHook } from '../invoicing/close-hooks.js';
import type { CreditNoteHook } from '../invoicing/credit-notes.js';
import type { InvoiceChangeHook } from '../invoicing/invoice-actions.js';
import { collectorSql, enqueueMail, type Enqueued, type EnqueueSettings, type MailIntent } from './enqueue.js';
import { mailKey } from './rules.js';

/**
 * What puts mails in the outbox. The billing core and billing sync import none of this: the
 * wiring (app/) registers these hooks, each run inside the transaction of the change.
 */

/**
 * An invoice issued at close (not a draft held for review) is `invoice.finalized`. Registered
 * after the Stripe outbox hook, whose row (in the same transaction) says Stripe collects it.
 */
export function mailOnClose(s: EnqueueSettings): CloseHook {
  return async (tx, closed) => {
    await enqueueMail(
      tx,
      closed.filter((c) => !c.draft).map((c) => ({ tenantId: c.sub.tenantId, kind: 'invoice.finalized', invoiceId: c.id, key: mailKey.finalized(c.id) })),
      s,
    );
  };
}

/** A draft approved in review is issued now: `invoice.finalized`. */
export function mailOnInvoiceChange(s: EnqueueSettings): InvoiceChangeHook {
  return async (tx, change) => {
    if (change.action !== 'approve') return;
    await enqueueMail(tx, [{ tenantId: change.tenantId, kind: 'invoice.finalized', invoiceId: change.invoiceId, key: mailKey.finalized(change.invoiceId) }], s);
  };
}

export function mailOnCreditNote(s: EnqueueSettings): CreditNoteHook {
  return async (tx, issued) => {
    await enqueueMail(
      tx,
      [{ tenantId: issued.tenantId, kind: 'credit_note.created', invoiceId: issued.invoiceId, creditNoteId: issued.id, key: mailKey.creditNote(issued.id) }],
      s,
    );
  };
}

/** An invoice event from Stripe that Tally applied (stripe/inbound-webhooks.ts passes these). */
export interface StripeInvoiceEvent {
  tenantId: string;
  invoiceId: string;
  type: string;
  stripeEventId: string;
}

/** Each failed payment Stripe reports is one `invoice.payment_failed` mail (asking for a new card). */
export function mailOnStripeInvoiceEvent(s: EnqueueSettings): (tx: Queryable, event: StripeInvoiceEvent) => Promise<void> {
  return async (tx, e) => {
    if (e.type !== 'invoice.payment_failed') return;
    await enqueueMail(tx, [{ tenantId: e.tenantId, kind: 'invoice.payment_failed', invoiceId: e.invoiceId, key: mailKey.paymentFailed(e.invoiceId, e.stripeEventId) }], s);
  };
}

/**
 * Overdue reminders: one `invoice.overdue` per open `send_invoice` invoice Tally collects that is
 * past its due date (`due_at`, else issued plus its net terms) as of `now`, each enqueued once
 * (its dedup key). Invoices whose customer has no email are left until one is set. Works in
 * batches of `batch`, each in its own transaction, and stops after `maxBatches`.
 */
export async function enqueueOverdue(pg: PostgresStore, now: Date, s: EnqueueSettings, o: { batch?: number; maxBatches?: number } = {}): Promise<Enqueued> {
  const total: Enqueued = { enqueued: 0, leftToStripe: 0, noRecipient: 0 };
  const batch = o.batch ?? 500;
  for (let n = 0; n < (o.maxBatches ?? 20); n++) {
    const { rows } = await pg.query<{ tenant_id: string; id: string }>(
      `SELECT i.tenant_id, i.id FROM invoices i JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id
        WHERE i.status = 'open' AND i.collection_method = 'send_invoice'
          AND COALESCE(i.due_at, i.created_at + COALESCE(i.days_until_due, 0) * interval '24 hours') <= $1
          AND ${collectorSql('i', '$2::boolean')} = 'tally'
          AND btrim(COALESCE(c.email, '')) <> ''
          AND NOT EXISTS (SELECT 1 FROM mail_outbox m WHERE m.tenant_id = i.tenant_id AND m.dedup_key = 'invoice.overdue:' || i.id)
        ORDER BY i.tenant_id, i.id LIMIT $3`,
      [now, s.stripeSync, batch],
    );
    if (rows.length === 0) break;
    const intents: MailIntent[] = rows.map((r) => ({ tenantId: r.tenant_id, kind: 'invoice.overdue', invoiceId: r.id, key: mailKey.overdue(r.id) }));
    const r = await pg.transaction((tx) => enqueueMail(tx, intents, s));
    total.enqueued += r.enqueued;
    total.leftToStripe += r.leftToStripe;
    total.noRecipient += r.noRecipient;
    if (rows.length < batch) break;
  }
  return total;
}
