import { errors } from './errors.js';
import { isFormObject } from './form.js';
import { listPage, listParams, searchPage, searchParams } from './lists.js';
import type { Customer } from './objects.js';
import { type Param, array, emptyable, expand, mergeMetadata, metadata, object, oneOf, optional, str } from './params.js';
import { attach, attachedTo, checkAttachable } from './payment-methods.js';
import { type Ctx, type Route, checkExpand, route } from './router.js';
import { compileSearch } from './search.js';
import { type Entry, newestFirst } from './store.js';

/**
 * Customers: create, retrieve, update, list and search. `email` must look like an address
 * (Stripe's `email_invalid`); everything Stripe accepts on a customer that this server does
 * not model (addresses, sources, tax ids…) is refused by name rather than ignored.
 * `payment_method` on create attaches a card without making it the default;
 * `invoice_settings[default_payment_method]` must name a card attached to the customer (or the
 * one `payment_method` attaches in the same request). An update emits `customer.updated`.
 */
function email(): Param<string> {
  const s = str({ max: 512 });
  return {
    optional: false,
    parse(raw, name) {
      const v = s.parse(raw, name);
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) throw errors.invalidRequest(`Invalid email address: ${v}`, name, 'email_invalid');
      return v;
    },
  };
}

/** The rest of invoice_settings is not modelled; it is refused as a whole (param `invoice_settings`). */
const INVOICE_SETTINGS_UNSUPPORTED = ['custom_fields', 'footer', 'rendering_options'];

function invoiceSettings(): Param<{ default_payment_method: string | null | undefined }> {
  const inner = object({ default_payment_method: optional(emptyable(str())) });
  return {
    optional: false,
    parse(raw, name) {
      if (isFormObject(raw)) {
        const unsupported = Object.keys(raw).find((k) => INVOICE_SETTINGS_UNSUPPORTED.includes(k));
        if (unsupported !== undefined) throw errors.notImplemented(`${name}[${unsupported}]`, name);
      }
      return inner.parse(raw, name);
    },
  };
}

const DEFAULT_PM = 'invoice_settings[default_payment_method]';

const fields = {
  name: optional(str({ max: 256 })),
  email: optional(email()),
  description: optional(str({ max: 350 })),
  phone: optional(str({ max: 20 })),
  metadata: optional(emptyable(metadata())),
  preferred_locales: optional(array(str({ max: 20 }), { max: 10 })),
  tax_exempt: optional(emptyable(oneOf(['none', 'exempt', 'reverse'] as const))),
  invoice_settings: optional(invoiceSettings()),
  expand: expand(),
};

const UNSUPPORTED = [
  'address',
  'balance',
  'business_name',
  'cash_balance',
  'default_source',
  'individual_name',
  'next_invoice_sequence',
  'shipping',
  'source',
  'tax',
  'tax_id_data',
  'test_clock',
  'validate',
];

const searchFields = {
  fields: {
    created: { kind: 'number' as const, get: (c: Customer) => c.created },
    email: { kind: 'text' as const, get: (c: Customer) => c.email },
    name: { kind: 'text' as const, get: (c: Customer) => c.name },
    phone: { kind: 'text' as const, get: (c: Customer) => c.phone },
  },
  metadata: (c: Customer) => c.metadata,
};

const render = (e: Entry<Customer>): Customer => structuredClone(e.obj);

const cause = (ctx: Ctx) => ({ requestId: ctx.requestId, idempotencyKey: ctx.idempotencyKey });

/** What changed, as Stripe's `previous_attributes`: old values of changed fields (one level into objects). */
function previousAttributes(before: Customer, after: Customer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof Customer)[]) {
    const a: unknown = before[key];
    const b: unknown = after[key];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (typeof a === 'object' && a !== null && !Array.isArray(a) && typeof b === 'object' && b !== null && !Array.isArray(b) && key !== 'metadata') {
      const inner: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(a)) if (JSON.stringify(v) !== JSON.stringify((b as Record<string, unknown>)[k])) inner[k] = v;
      out[key] = inner;
    } else {
      out[key] = a;
    }
  }
  return out;
}

export const customerRoutes: Route[] = [
  route(
    'POST',
    '/v1/customers',
    {
      ...fields,
      invoice_prefix: optional(str({ max: 12, pattern: /^[A-Z0-9]{3,12}$/, describe: 'must be 3 to 12 upper-case letters or digits' })),
      payment_method: optional(str()),
    },
    (ctx, p) => {
      const { store } = ctx;
      checkExpand(p.expand, []);
      // Refused before anything is written: a new customer has no card but the one attached here.
      if (p.payment_method !== undefined) checkAttachable(store, p.payment_method, null, 'payment_method');
      const wantedDefault = p.invoice_settings?.default_payment_method ?? null;
      if (wantedDefault !== null && wantedDefault !== p.payment_method) attachedTo(store, wantedDefault, '', DEFAULT_PM);
      const c: Customer = {
        id: store.ids.next('cus', 14),
        object: 'customer',
        address: null,
        balance: 0,
        created: store.now(),
        currency: null,
        default_source: null,
        delinquent: false,
        description: p.description ?? null,
        discount: null,
        email: p.email ?? null,
        invoice_prefix: p.invoice_prefix ?? store.ids.invoicePrefix(),
        invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
        livemode: false,
        metadata: mergeMetadata({}, p.metadata),
        name: p.name ?? null,
        next_invoice_sequence: 1,
        phone: p.phone ?? null,
        preferred_locales: p.preferred_locales ?? [],
        shipping: null,
        tax_exempt: p.tax_exempt ?? 'none',
        test_clock: null,
      };
      const e = store.entry(c);
      store.customers.set(c.id, e);
      if (p.payment_method !== undefined) {
        const { pm } = attach(store, ctx.webhooks, p.payment_method, e, 'payment_method', cause(ctx));
        if (wantedDefault !== null) c.invoice_settings.default_payment_method = pm.obj.id;
      }
      return render(e);
    },
    { unsupported: UNSUPPORTED },
  ),
  route(
    'GET',
    '/v1/customers/search',
    { ...searchParams, expand: expand() },
    ({ store, searchLagMs }, p) => {
      checkExpand(p.expand, []);
      const test = compileSearch(p.query, searchFields);
      const visibleBefore = store.clock() - searchLagMs;
      const hits = newestFirst(store.customers.values()).filter((e) => e.createdMs <= visibleBefore && test(e.obj));
      return searchPage(hits.map(render), p, '/v1/customers/search');
    },
  ),
  route('GET', '/v1/customers', { ...listParams, email: optional(str({ max: 512 })), expand: expand() }, ({ store }, p) => {
    checkExpand(p.expand, []);
    const all = newestFirst(store.customers.values())
      .filter((e) => p.email === undefined || e.obj.email === p.email)
      .map(render);
    return listPage(all, p, '/v1/customers', 'customer');
  }),
  route('GET', '/v1/customers/:id', { expand: expand() }, ({ store }, p, path) => {
    checkExpand(p.expand, []);
    return render(store.customer(path.id ?? '', 'id', 404));
  }),
  route(
    'POST',
    '/v1/customers/:id',
    { ...fields, invoice_prefix: optional(str({ max: 12, pattern: /^[A-Z0-9]{3,12}$/, describe: 'must be 3 to 12 upper-case letters or digits' })) },
    (ctx, p, path) => {
      const { store } = ctx;
      checkExpand(p.expand, []);
      const e = store.customer(path.id ?? '', 'id', 404);
      const c = e.obj;
      const wantedDefault = p.invoice_settings?.default_payment_method;
      if (typeof wantedDefault === 'string') attachedTo(store, wantedDefault, c.id, DEFAULT_PM);
      const metadata = mergeMetadata(c.metadata, p.metadata);
      const before = structuredClone(c);
      if (wantedDefault !== undefined) c.invoice_settings.default_payment_method = wantedDefault;
      if (p.name !== undefined) c.name = p.name;
      if (p.email !== undefined) c.email = p.email;
      if (p.description !== undefined) c.description = p.description;
      if (p.phone !== undefined) c.phone = p.phone;
      if (p.preferred_locales !== undefined) c.preferred_locales = p.preferred_locales;
      if (p.tax_exempt !== undefined) c.tax_exempt = p.tax_exempt ?? 'none';
      if (p.invoice_prefix !== undefined) c.invoice_prefix = p.invoice_prefix;
      c.metadata = metadata;
      const previous = previousAttributes(before, c);
      if (Object.keys(previous).length > 0) ctx.webhooks.emit('customer.updated', render(e), { ...cause(ctx), previousAttributes: previous });
      return render(e);
    },
    { unsupported: UNSUPPORTED },
  ),
];
