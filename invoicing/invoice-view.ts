import type { CollectionMethod } from '../catalog/customers.js';
import type { Issuer } from './billing-profile.js';
import type { Period } from '../catalog/periods.js';
import type { ComposedInvoice } from './compose.js';
import type { SubscriptionFacts } from './subscription-facts.js';

/** An invoice as the API shows it (DESIGN.md): a stored one, or the upcoming one (status draft, no id). */
export interface InvoiceView extends Omit<ComposedInvoice, 'consumed' | 'carried'> {
  id: string | null;
  subscription: string;
  customer: string;
  currency: string;
  period_start: string;
  period_end: string;
  status: 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';
  /** A billing period's invoice, or one-off charges invoiced at once (its period: the instant it was issued). */
  kind: 'period' | 'one_off';
  /** The legal invoice number (`PREFIX-0042`), gapless per tenant; null for an upcoming invoice. */
  number: string | null;
  /** When it was issued (closed); null for an upcoming invoice. */
  issued_at: string | null;
  /** "Net 30", or "Charged automatically": what the document says of payment. */
  payment_terms: string;
  purchase_order: string | null;
  /** The tenant's details as the issuer when the invoice was issued; null for an upcoming invoice. */
  issuer: Issuer | null;
  /** The customer's terms when the invoice was closed (for an upcoming invoice: their terms now). */
  collection_method: CollectionMethod;
  days_until_due: number | null;
  /** When payment is due: set when Stripe finalizes a send_invoice invoice. */
  due_at: string | null;
  paid_at: string | null;
  /** What credit notes took back, and what is still owed (0 unless the invoice is open). */
  credited: string;
  amount_due: string;
  /** How an invoice marked paid outside Stripe was paid. */
  paid_out_of_band: { method: string; reference: string | null; at: string } | null;
  /** Why finance voided it or wrote it off. */
  status_reason: string | null;
  /** When Stripe reported it unpaid past its due date. */
  overdue_at: string | null;
  /** Open and unpaid since (send_invoice: its due date, once passed; charged automatically: the first failed payment), and for how many whole days. */
  overdue_since: string | null;
  days_overdue: number | null;
  stripe_invoice_id: string | null;
  created_at: string | null;
}

/** A composed invoice of a subscription's period in the API shape. */
export function invoiceView(sub: SubscriptionFacts, p: Period, c: ComposedInvoice, meta: { id: string | null; status: InvoiceView['status']; created_at: string | null }): InvoiceView {
  return {
    id: meta.id,
    subscription: sub.id,
    customer: sub.customer,
    currency: sub.currency,
    period_start: p.start.toISOString(),
    period_end: p.end.toISOString(),
    status: meta.status,
    kind: 'period',
    number: null,
    issued_at: null,
    payment_terms: paymentTerms(sub.collection.method, sub.collection.daysUntilDue),
    purchase_order: null,
    issuer: null,
    collection_method: sub.collection.method,
    days_until_due: sub.collection.daysUntilDue,
    due_at: null,
    paid_at: null,
    credited: '0',
    amount_due: c.total,
    paid_out_of_band: null,
    status_reason: null,
    overdue_at: null,
    overdue_since: null,
    days_overdue: null,
    lines: c.lines,
    subtotal: c.subtotal,
    discount: c.discount,
    credit: c.credit,
    tax: c.tax,
    total: c.total,
    stripe_invoice_id: null,
    created_at: meta.created_at,
  };
}

/** What an invoice says of payment: net terms, or that the payment method on file is charged. */
export function paymentTerms(method: CollectionMethod, daysUntilDue: number | null): string {
  if (method === 'charge_automatically') return 'Charged automatically';
  return daysUntilDue === 0 ? 'Due on receipt' : `Net ${daysUntilDue ?? 30}`;
}
