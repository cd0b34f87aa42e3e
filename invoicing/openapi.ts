import { planRef } from '../catalog/openapi.js';
import { arr, decimal, instant, list, nullable, obj, oneOfStrings, period, shape, str } from '../http/openapi-shapes.js';

/** What the invoice routes answer (invoice-view.ts and compose.ts `InvoiceLine`), for the OpenAPI document. */
export const Invoice = shape(
  'Invoice',
  obj({
    id: nullable(str('`in_...`; null for the upcoming invoice.')),
    subscription: str(),
    customer: str(),
    currency: str(),
    period_start: instant,
    period_end: instant,
    status: oneOfStrings(['draft', 'open', 'paid', 'void', 'uncollectible']),
    lines: arr(
      obj(
        {
          type: oneOfStrings(['base_fee', 'usage', 'minimum', 'proration', 'adjustment', 'discount', 'credit', 'tax']),
          meter: nullable(str()),
          quantity: nullable(decimal()),
          amount: decimal(),
          description: str(),
          plan: nullable(planRef),
          period: nullable(period),
          adjusts_period_start: instant,
        },
        ['adjusts_period_start'],
      ),
    ),
    subtotal: decimal(),
    discount: decimal(),
    credit: decimal(),
    tax: decimal(),
    total: decimal(),
    stripe_invoice_id: nullable(str()),
    created_at: nullable(instant),
  }),
);
export const InvoiceList = list(Invoice, true);
