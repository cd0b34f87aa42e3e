import { advanceFinalized, payInvoice } from './collection.js';
import { currency } from './currency.js';
import { errors } from './errors.js';
import { type Cause, MAX_ITEMS_PER_INVOICE, finalize, linesOf, markUncollectible, recompute, renderInvoice, voidInvoice } from './invoices.js';
import { listPage, listParams, searchPage, searchParams } from './lists.js';
import type { Invoice } from './objects.js';
import { array, bool, emptyable, expand, object, int, mergeMetadata, metadata, oneOf, optional, str, timestamp } from './params.js';
import { attachedTo } from './payment-methods.js';
import { type Ctx, type Route, checkExpand, route } from './router.js';
import { compileSearch } from './search.js';
import { type InvoiceEntry, newestFirst } from './store.js';

/**
 * Invoices: create (a draft), retrieve, update, list, search, list lines, finalize, pay, void,
 * mark uncollectible. Collection settings follow Stripe's rules: `days_until_due` and `due_date`
 * only with `send_invoice`, not both; after finalization only metadata, description, footer and
 * `default_payment_method` change (`invoice_not_editable` otherwise). `default_payment_method`
 * must be a card attached to the invoice's customer. Finalizing with `auto_advance` charges or
 * sends the invoice (collection.ts).
 */
const DAY = 86_400;

const UNSUPPORTED_CREATE = [
  'account_tax_ids',
  'application_fee_amount',
  'automatic_tax',
  'automatically_finalizes_at',
  'customer_account',
  'default_source',
  'default_tax_rates',
  'discounts',
  'from_invoice',
  'issuer',
  'on_behalf_of',
  'payment_settings',
  'rendering',
  'shipping_cost',
  'shipping_details',
  'subscription',
  'transfer_data',
];

const collection = {
  auto_advance: optional(bool()),
  collection_method: optional(oneOf(['charge_automatically', 'send_invoice'] as const)),
  days_until_due: optional(int({ min: 0, max: 10_000 })),
  due_date: optional(timestamp()),
  description: optional(emptyable(str({ max: 1500 }))),
  footer: optional(emptyable(str({ max: 5000 }))),
  statement_descriptor: optional(emptyable(str({ max: 22 }))),
  metadata: optional(emptyable(metadata())),
  effective_at: optional(timestamp()),
  number: optional(emptyable(str({ max: 26 }))),
  // Up to four name/value pairs Stripe prints on the invoice (names up to 40, values up to 140 characters).
  custom_fields: optional(emptyable(array(object({ name: str({ max: 40 }), value: str({ max: 140 }) }), { max: 4 }))),
  default_payment_method: optional(emptyable(str())),
  expand: expand(),
};

const searchFields = {
  fields: {
    created: { kind: 'number' as const, get: (i: Invoice) => i.created },
    currency: { kind: 'token' as const, get: (i: Invoice) => i.currency },
    customer: { kind: 'token' as const, get: (i: Invoice) => i.customer },
    number: { kind: 'token' as const, get: (i: Invoice) => i.number },
    status: { kind: 'token' as const, get: (i: Invoice) => i.status },
    subscription: { kind: 'token' as const, get: () => null },
    total: { kind: 'number' as const, get: (i: Invoice) => i.total },
  },
  metadata: (i: Invoice) => i.metadata,
};

function checkCollection(method: Invoice['collection_method'], p: { days_until_due: number | undefined; due_date: number | undefined }): void {
  if (p.days_until_due !== undefined && p.due_date !== undefined) throw errors.exclusive(['days_until_due', 'due_date']);
  if (method !== 'send_invoice') {
    if (p.days_until_due !== undefined) throw errors.invalidRequest('Invalid days_until_due: only invoices with collection_method=send_invoice have a due date.', 'days_until_due');
    if (p.due_date !== undefined) throw errors.invalidRequest('Invalid due_date: only invoices with collection_method=send_invoice have a due date.', 'due_date');
  }
}

const cause = (ctx: Ctx): Cause => ({ requestId: ctx.requestId, idempotencyKey: ctx.idempotencyKey });

const invoiceOf = (ctx: Ctx, id: string | undefined): InvoiceEntry => ctx.store.invoice(id ?? '', 'id', 404);

export const invoiceRoutes: Route[] = [
  route(
    'POST',
    '/v1/invoices',
    {
      ...collection,
      customer: str(),
      currency: optional(currency()),
      pending_invoice_items_behavior: optional(oneOf(['exclude', 'include'] as const)),
    },
    ({ store }, p) => {
      const expandList = checkExpand(p.expand, ['customer']);
      const method = p.collection_method ?? 'charge_automatically';
      const customer = store.customer(p.customer, 'customer').obj;
      if (typeof p.default_payment_method === 'string') attachedTo(store, p.default_payment_method, customer.id, 'default_payment_method');
      const now = store.now();
      const inv: Invoice = {
        id: store.ids.next('in'),
        object: 'invoice',
        account_country: 'US',
        account_name: 'Stripe test account',
        account_tax_ids: null,
        amount_due: 0,
        amount_overpaid: 0,
        amount_paid: 0,
        amount_remaining: 0,
        amount_shipping: 0,
        application: null,
        attempt_count: 0,
        attempted: false,
        auto_advance: p.auto_advance ?? false,
        automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
        automatically_finalizes_at: null,
        billing_reason: 'manual',
        collection_method: method,
        created: now,
        currency: p.currency ?? customer.currency ?? 'usd',
        custom_fields: p.custom_fields ?? null,
        customer: customer.id,
        customer_account: null,
        customer_address: null,
        customer_email: customer.email,
        customer_name: customer.name,
        customer_phone: customer.phone,
        customer_shipping: null,
        customer_tax_exempt: customer.tax_exempt,
        customer_tax_ids: [],
        default_payment_method: p.default_payment_method ?? null,
        default_source: null,
        default_tax_rates: [],
        description: p.description ?? null,
        discounts: [],
        due_date: p.due_date ?? (p.days_until_due === undefined ? null : now + p.days_until_due * DAY),
        effective_at: p.effective_at ?? null,
        ending_balance: null,
        footer: p.footer ?? null,
        from_invoice: null,
        hosted_invoice_url: null,
        invoice_pdf: null,
        issuer: { type: 'self' },
        last_finalization_error: null,
        latest_revision: null,
        livemode: false,
        metadata: mergeMetadata({}, p.metadata),
        next_payment_attempt: null,
        number: p.number ?? null,
        on_behalf_of: null,
        parent: null,
        payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
        period_end: now,
        period_start: now,
        post_payment_credit_notes_amount: 0,
        pre_payment_credit_notes_amount: 0,
        receipt_number: null,
        rendering: null,
        shipping_cost: null,
        shipping_details: null,
        starting_balance: 0,
        statement_descriptor: p.statement_descriptor ?? null,
        status: 'draft',
        status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
        subtotal: 0,
        subtotal_excluding_tax: 0,
        test_clock: null,
        total: 0,
        total_discount_amounts: [],
        total_excluding_tax: 0,
        total_pretax_credit_amounts: [],
        total_taxes: [],
        webhooks_delivered_at: null,
      };
      const entry: InvoiceEntry = { ...store.entry(inv), items: [], daysUntilDue: p.days_until_due ?? null, overdueNotified: false };
      if (p.pending_invoice_items_behavior === 'include') {
        const pending = [...store.items.values()]
          .filter((e) => e.obj.invoice === null && e.obj.customer === customer.id && e.obj.currency === inv.currency)
          .sort((a, b) => a.seq - b.seq)
          .slice(0, MAX_ITEMS_PER_INVOICE);
        for (const item of pending) {
          item.obj.invoice = inv.id;
          entry.items.push(item.obj.id);
        }
      }
      store.invoices.set(inv.id, entry);
      recompute(store, entry);
      return renderInvoice(store, entry, { expand: expandList });
    },
    { unsupported: UNSUPPORTED_CREATE, check: (p) => checkCollection(p.collection_method ?? 'charge_automatically', p) },
  ),
  route('GET', '/v1/invoices/search', { ...searchParams, expand: expand() }, ({ store, searchLagMs }, p) => {
    const expandList = checkExpand(p.expand, ['data.customer']).map((e) => e.slice('data.'.length));
    const test = compileSearch(p.query, searchFields);
    const visibleBefore = store.clock() - searchLagMs;
    const hits = newestFirst(store.invoices.values()).filter((e) => e.createdMs <= visibleBefore && test(e.obj));
    return searchPage(
      hits.map((e) => renderInvoice(store, e, { expand: expandList })),
      p,
      '/v1/invoices/search',
    );
  }),
  route(
    'GET',
    '/v1/invoices',
    { ...listParams, customer: optional(str()), status: optional(oneOf(['draft', 'open', 'paid', 'uncollectible', 'void'] as const)), expand: expand() },
    ({ store }, p) => {
      const expandList = checkExpand(p.expand, ['data.customer']).map((e) => e.slice('data.'.length));
      const all = newestFirst(store.invoices.values())
        .filter((e) => (p.customer === undefined || e.obj.customer === p.customer) && (p.status === undefined || e.obj.status === p.status))
        .map((e) => renderInvoice(store, e, { expand: expandList }));
      return listPage(all, p, '/v1/invoices', 'invoice');
    },
  ),
  route('GET', '/v1/invoices/:id', { expand: expand() }, (ctx, p, path) => {
    const expandList = checkExpand(p.expand, ['customer']);
    return renderInvoice(ctx.store, invoiceOf(ctx, path.id), { expand: expandList });
  }),
  route(
    'POST',
    '/v1/invoices/:id',
    collection,
    (ctx, p, path) => {
      const expandList = checkExpand(p.expand, ['customer']);
      const inv = invoiceOf(ctx, path.id);
      const i = inv.obj;
      const draftOnly = (['auto_advance', 'collection_method', 'days_until_due', 'due_date', 'effective_at', 'number', 'statement_descriptor'] as const).filter((k) => p[k] !== undefined);
      if (i.status !== 'draft' && draftOnly.length > 0) {
        throw errors.invalidRequest(`Invoice ${i.id} is ${i.status}; ${draftOnly.join(', ')} can only be changed on a draft.`, draftOnly[0], 'invoice_not_editable');
      }
      const method = p.collection_method ?? i.collection_method;
      checkCollection(method, p);
      if (p.default_payment_method !== undefined && i.status !== 'draft' && i.status !== 'open') {
        throw errors.invalidRequest(`Invoice ${i.id} is ${i.status}; default_payment_method can only be changed on a draft or open invoice.`, 'default_payment_method', 'invoice_not_editable');
      }
      if (typeof p.default_payment_method === 'string') attachedTo(ctx.store, p.default_payment_method, i.customer, 'default_payment_method');
      const metadata = mergeMetadata(i.metadata, p.metadata);
      if (p.default_payment_method !== undefined) i.default_payment_method = p.default_payment_method;
      if (p.auto_advance !== undefined) i.auto_advance = p.auto_advance;
      i.collection_method = method;
      if (method === 'charge_automatically') {
        i.due_date = null;
        inv.daysUntilDue = null;
      }
      if (p.due_date !== undefined) {
        i.due_date = p.due_date;
        inv.daysUntilDue = null;
      }
      if (p.days_until_due !== undefined) {
        i.due_date = i.created + p.days_until_due * DAY;
        inv.daysUntilDue = p.days_until_due;
      }
      if (p.description !== undefined) i.description = p.description;
      if (p.footer !== undefined) i.footer = p.footer;
      if (p.statement_descriptor !== undefined) i.statement_descriptor = p.statement_descriptor;
      if (p.effective_at !== undefined) i.effective_at = p.effective_at;
      if (p.number !== undefined) i.number = p.number;
      if (p.custom_fields !== undefined) i.custom_fields = p.custom_fields;
      i.metadata = metadata;
      return renderInvoice(ctx.store, inv, { expand: expandList });
    },
    { unsupported: UNSUPPORTED_CREATE },
  ),
  route('GET', '/v1/invoices/:id/lines', { ...listParams, expand: expand() }, (ctx, p, path) => {
    checkExpand(p.expand, []);
    const inv = invoiceOf(ctx, path.id);
    return listPage(linesOf(ctx.store, inv), p, `/v1/invoices/${inv.obj.id}/lines`, 'line_item');
  }),
  route('POST', '/v1/invoices/:id/finalize', { auto_advance: optional(bool()), expand: expand() }, (ctx, p, path) => {
    const expandList = checkExpand(p.expand, ['customer']);
    const inv = invoiceOf(ctx, path.id);
    finalize(ctx.store, ctx.webhooks, inv, p.auto_advance, cause(ctx), `${ctx.serverUrl}/hosted/${inv.obj.id}`);
    advanceFinalized(ctx.store, ctx.webhooks, inv, ctx.collection, cause(ctx));
    return renderInvoice(ctx.store, inv, { expand: expandList });
  }),
  route(
    'POST',
    '/v1/invoices/:id/pay',
    { paid_out_of_band: optional(bool()), payment_method: optional(str()), expand: expand() },
    (ctx, p, path) => {
      const expandList = checkExpand(p.expand, ['customer']);
      const inv = invoiceOf(ctx, path.id);
      payInvoice(ctx.store, ctx.webhooks, inv, { ...(p.paid_out_of_band === undefined ? {} : { paidOutOfBand: p.paid_out_of_band }), ...(p.payment_method === undefined ? {} : { paymentMethod: p.payment_method }) }, cause(ctx));
      return renderInvoice(ctx.store, inv, { expand: expandList });
    },
    {
      // off_session: an API payment here is always off-session (a card that needs authentication fails either way).
      unsupported: ['forgive', 'mandate', 'off_session', 'source'],
      check: (p) => {
        if (p.paid_out_of_band === true && p.payment_method !== undefined) throw errors.exclusive(['paid_out_of_band', 'payment_method']);
      },
    },
  ),
  route('POST', '/v1/invoices/:id/void', { expand: expand() }, (ctx, p, path) => {
    const expandList = checkExpand(p.expand, ['customer']);
    const inv = invoiceOf(ctx, path.id);
    voidInvoice(ctx.store, ctx.webhooks, inv, cause(ctx));
    return renderInvoice(ctx.store, inv, { expand: expandList });
  }),
  route('POST', '/v1/invoices/:id/mark_uncollectible', { expand: expand() }, (ctx, p, path) => {
    const expandList = checkExpand(p.expand, ['customer']);
    const inv = invoiceOf(ctx, path.id);
    markUncollectible(ctx.store, ctx.webhooks, inv, cause(ctx));
    return renderInvoice(ctx.store, inv, { expand: expandList });
  }),
];
