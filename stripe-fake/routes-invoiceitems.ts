import { Dec } from '../core/money.js';
import { currency } from './currency.js';
import { errors } from './errors.js';
import { MAX_ITEMS_PER_INVOICE, recompute, renderItem } from './invoices.js';
import { listPage, listParams } from './lists.js';
import type { Deleted, InvoiceItem } from './objects.js';
import { bool, decimal, emptyable, expand, int, mergeMetadata, metadata, object, optional, str, timestamp } from './params.js';
import { type Route, checkExpand, route } from './router.js';
import { type ItemEntry, newestFirst } from './store.js';

/**
 * Invoice items: create, retrieve, list, delete.
 *
 * An item's price is either `amount` (an integer in the currency's minor units, the item's
 * total) or `unit_amount_decimal` (a decimal string of minor units, at most 12 decimals) times
 * `quantity` or `quantity_decimal`, rounded half up to a whole minor unit. `amount` with a
 * quantity other than 1 is refused: it would leave unclear whether the amount is per unit.
 * An item joins a draft invoice of the same customer and currency, at most 250 per invoice.
 */
const UNSUPPORTED = ['customer_account', 'discounts', 'price_data', 'pricing', 'subscription', 'tax_behavior', 'tax_code', 'tax_rates'];

const itemOf = (items: Map<string, ItemEntry>, id: string | undefined): ItemEntry => {
  const e = items.get(id ?? '');
  if (e === undefined) throw errors.resourceMissing('invoiceitem', id ?? '', 'id', 404);
  return e;
};

export const invoiceItemRoutes: Route[] = [
  route(
    'POST',
    '/v1/invoiceitems',
    {
      customer: str(),
      invoice: optional(str()),
      currency: optional(currency()),
      amount: optional(int()),
      unit_amount_decimal: optional(decimal({ places: 12 })),
      quantity: optional(int({ min: 0 })),
      quantity_decimal: optional(decimal({ places: 12, min: 0 })),
      description: optional(str({ max: 5000 })),
      discountable: optional(bool()),
      metadata: optional(emptyable(metadata())),
      period: optional(object({ start: timestamp(), end: timestamp() })),
      expand: expand(),
    },
    ({ store }, p) => {
      const expandList = checkExpand(p.expand, ['customer', 'invoice']);
      const customer = store.customer(p.customer, 'customer').obj;
      const invoice = p.invoice === undefined ? undefined : store.invoice(p.invoice, 'invoice');
      let cur = p.currency ?? customer.currency ?? 'usd';
      if (invoice !== undefined) {
        const inv = invoice.obj;
        if (inv.customer !== customer.id) throw errors.invalidRequest(`The invoice item's customer (${customer.id}) must be the invoice's customer (${inv.customer}).`, 'customer');
        if (inv.status !== 'draft') throw errors.invalidRequest(`Invoice ${inv.id} is ${inv.status}; invoice items can only be added to a draft invoice.`, 'invoice', 'invoice_not_editable');
        cur = p.currency ?? inv.currency;
        if (cur !== inv.currency) throw errors.invalidRequest(`The currency of the invoice item (${cur}) must match the currency of the invoice (${inv.currency}).`, 'currency');
        if (invoice.items.length >= MAX_ITEMS_PER_INVOICE) {
          throw errors.invalidRequest(`Invoice ${inv.id} already has ${MAX_ITEMS_PER_INVOICE} invoice items, the most an invoice can have.`, 'invoice');
        }
      }
      const quantity = p.quantity_decimal ?? new Dec(p.quantity ?? 1);
      let amount: number;
      let unit: Dec;
      if (p.amount !== undefined) {
        amount = p.amount;
        unit = new Dec(p.amount);
      } else {
        unit = p.unit_amount_decimal ?? new Dec(0);
        const exact = unit.times(quantity).toDecimalPlaces(0, Dec.ROUND_HALF_UP);
        if (!exact.abs().lessThanOrEqualTo(Number.MAX_SAFE_INTEGER)) throw errors.invalidRequest('Invalid unit_amount_decimal: the item amount is too large.', 'unit_amount_decimal');
        amount = exact.toNumber();
      }
      const now = store.now();
      const item: InvoiceItem = {
        id: store.ids.next('ii'),
        object: 'invoiceitem',
        amount,
        currency: cur,
        customer: customer.id,
        customer_account: null,
        date: now,
        description: p.description ?? null,
        discountable: p.discountable ?? true,
        discounts: [],
        invoice: invoice?.obj.id ?? null,
        livemode: false,
        metadata: mergeMetadata({}, p.metadata),
        net_amount: amount,
        parent: null,
        period: p.period ?? { start: now, end: now },
        pricing: { type: 'price_details', unit_amount_decimal: unit.toFixed() },
        proration: false,
        quantity: quantity.truncated().toNumber(),
        quantity_decimal: quantity.toFixed(),
        tax_rates: [],
        test_clock: null,
      };
      const entry: ItemEntry = { ...store.entry(item), lineId: store.ids.next('il') };
      store.items.set(item.id, entry);
      if (invoice !== undefined) {
        invoice.items.push(item.id);
        recompute(store, invoice);
      }
      return renderItem(store, entry, expandList);
    },
    {
      unsupported: UNSUPPORTED,
      check: (p) => {
        if (p.amount !== undefined && p.unit_amount_decimal !== undefined) throw errors.exclusive(['amount', 'unit_amount_decimal']);
        if (p.quantity !== undefined && p.quantity_decimal !== undefined) throw errors.exclusive(['quantity', 'quantity_decimal']);
        if (p.amount === undefined && p.unit_amount_decimal === undefined) {
          throw errors.invalidRequest('Missing required param: amount or unit_amount_decimal (price, pricing and price_data are not implemented by this server).', 'amount', 'parameter_missing');
        }
        const q = p.quantity_decimal ?? (p.quantity === undefined ? undefined : new Dec(p.quantity));
        if (p.amount !== undefined && q !== undefined && !q.equals(1)) {
          throw errors.invalidRequest('`amount` is the whole item; with a quantity other than 1 pass `unit_amount_decimal` instead.', 'quantity');
        }
        if (p.period !== undefined && p.period.end < p.period.start) throw errors.invalidRequest('Invalid period: end must be greater than or equal to start.', 'period[end]');
      },
    },
  ),
  route(
    'GET',
    '/v1/invoiceitems',
    { ...listParams, invoice: optional(str()), customer: optional(str()), pending: optional(bool()), expand: expand() },
    ({ store }, p) => {
      const expandList = checkExpand(p.expand, ['data.customer', 'data.invoice']).map((e) => e.slice('data.'.length));
      const all = newestFirst(store.items.values())
        .filter(
          (e) =>
            (p.invoice === undefined || e.obj.invoice === p.invoice) &&
            (p.customer === undefined || e.obj.customer === p.customer) &&
            (p.pending === undefined || (e.obj.invoice === null) === p.pending),
        )
        .map((e) => renderItem(store, e, expandList));
      return listPage(all, p, '/v1/invoiceitems', 'invoiceitem');
    },
    { unsupported: ['created', 'customer_account'] },
  ),
  route('GET', '/v1/invoiceitems/:id', { expand: expand() }, ({ store }, p, path) => {
    const expandList = checkExpand(p.expand, ['customer', 'invoice']);
    return renderItem(store, itemOf(store.items, path.id), expandList);
  }),
  route('DELETE', '/v1/invoiceitems/:id', {}, ({ store }, _p, path): Deleted => {
    const item = itemOf(store.items, path.id);
    const invoiceId = item.obj.invoice;
    const invoice = invoiceId === null ? undefined : store.invoices.get(invoiceId);
    if (invoice !== undefined) {
      if (invoice.obj.status !== 'draft') throw errors.invalidRequest(`Invoice ${invoice.obj.id} is ${invoice.obj.status}; its items can no longer be deleted.`, 'id', 'invoice_not_editable');
      invoice.items = invoice.items.filter((id) => id !== item.obj.id);
      recompute(store, invoice);
    }
    store.items.delete(item.obj.id);
    return { id: item.obj.id, object: 'invoiceitem', deleted: true };
  }),
];
