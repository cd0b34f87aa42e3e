import { address, planRef } from '../catalog/openapi.js';
import { arr, decimal, instant, int, list, nullable, obj, oneOfStrings, period, schemaRef, shape, str } from '../http/openapi-shapes.js';

/** What the invoice routes answer (invoice-view.ts and compose.ts `InvoiceLine`), for the OpenAPI document. */

export const Issuer = shape('Issuer', obj({ legal_name: str(), address, tax_id: nullable(str()), email: nullable(str()), footer: nullable(str()) }));

export const BillingProfile = shape(
  'BillingProfile',
  obj({
    legal_name: nullable(str('Shown on invoices; the tenant name when unset.')),
    address,
    tax_id: nullable(str()),
    email: nullable(str()),
    footer: nullable(str()),
    invoice_prefix: str('3 to 12 letters or digits; unique across tenants.'),
    next_invoice_number: decimal('The sequence number the next issued invoice gets.'),
    updated_at: instant,
  }),
);

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
    kind: { ...oneOfStrings(['period', 'one_off']), description: "A billing period's invoice, or one-off charges invoiced at once." },
    number: nullable(str('The legal invoice number, `PREFIX-0042`: gapless per tenant, shown in Stripe too; null for the upcoming invoice.')),
    issued_at: nullable(instant),
    payment_terms: str('"Net 30", "Due on receipt" or "Charged automatically".'),
    purchase_order: nullable(str()),
    issuer: nullable(schemaRef(Issuer)),
    lines: arr(
      obj(
        {
          type: oneOfStrings(['base_fee', 'usage', 'minimum', 'proration', 'adjustment', 'charge', 'discount', 'credit', 'tax']),
          meter: nullable(str()),
          quantity: nullable(decimal()),
          amount: decimal(),
          description: str(),
          plan: nullable(planRef),
          period: nullable(period),
          adjusts_period_start: instant,
          pricing: {
            ...obj({
              model: oneOfStrings(['per_unit', 'graduated', 'volume', 'package']),
              included: nullable(decimal('Units the charge leaves free.')),
              billable: decimal('The quantity priced: quantity less included.'),
              unit_price: nullable(decimal()),
              package_size: nullable(decimal()),
              packages: nullable(decimal()),
              tiers: arr(obj({ tier: int(), units: decimal(), unit_price: decimal(), flat_fee: decimal(), amount: decimal('Exact: the line amount is their sum rounded half-even to 6 decimals.') })),
              capped: { type: 'boolean', description: "The charge's maximum cut the amount." },
            }),
            description: 'Usage lines: how the quantity was priced (graduated: every tier reached; volume: the one tier).',
          },
          tax_rate: { ...obj({ name: str(), percent: decimal() }), description: 'Tax lines: the rate applied.' },
        },
        ['adjusts_period_start', 'pricing', 'tax_rate'],
      ),
    ),
    subtotal: decimal(),
    discount: decimal(),
    credit: decimal(),
    tax: decimal(),
    total: decimal(),
    collection_method: oneOfStrings(['charge_automatically', 'send_invoice']),
    days_until_due: nullable(int('Net terms (send_invoice).')),
    due_at: nullable(instant),
    paid_at: nullable(instant),
    credited: decimal('What credit notes took back.'),
    amount_due: decimal('What is still owed: the total less credit notes while open, else 0.'),
    paid_out_of_band: nullable(obj({ method: oneOfStrings(['bank_transfer', 'cheque', 'cash', 'other']), reference: nullable(str()), at: instant })),
    status_reason: nullable(str('Why it was voided or written off.')),
    overdue_at: nullable(instant),
    overdue_since: nullable(instant),
    days_overdue: nullable(int('Whole days since `overdue_since`.')),
    stripe_invoice_id: nullable(str()),
    created_at: nullable(instant),
  }),
  [Issuer],
);
export const InvoiceList = list(Invoice, true);

export const AuditTrail = shape('InvoiceAuditTrail', obj({ data: arr(obj({ at: instant, actor: str('`api_key:<key id>`'), action: str(), details: { type: 'object' } })) }));

export const CreditNote = shape(
  'CreditNote',
  obj({
    id: str('`cn_...`'),
    number: str('After its invoice: `INV-0042-CN1`.'),
    invoice: str(),
    customer: str(),
    currency: str(),
    amount: decimal('At the currency\'s minor unit.'),
    settlement: oneOfStrings(['reduce_due', 'credit_balance', 'refund', 'out_of_band']),
    reason: oneOfStrings(['duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory']),
    memo: nullable(str()),
    lines: arr(obj({ line: int('The invoice line number (1-based).'), amount: decimal() })),
    stripe_credit_note_id: nullable(str()),
    created_at: instant,
  }),
);
export const CreditNoteList = shape('CreditNoteList', obj({ data: arr(schemaRef(CreditNote)) }), [CreditNote]);

// balance.ts BalanceView
export const CustomerBalance = shape(
  'CustomerBalance',
  obj({
    customer: str(),
    currency: str(),
    credit: decimal("Remaining purchased and carried credit, plus each live subscription's credit allowance for the open period (granted or still to be granted)."),
    spend: decimal("The open periods' upcoming invoices before credits and tax: subtotal − discount, summed."),
    balance: decimal('credit − spend; below zero when the spend so far exceeds the credit.'),
    as_of: instant,
    subscriptions: arr(
      obj({
        subscription: str(),
        period_start: instant,
        period_end: instant,
        allowance: decimal("The period's credit allowance left (part of credit)."),
        spend: decimal("The upcoming invoice's subtotal − discount."),
      }),
    ),
  }),
);
