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
