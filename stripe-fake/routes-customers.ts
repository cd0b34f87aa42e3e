import { errors } from './errors.js';
import { listPage, listParams, searchPage, searchParams } from './lists.js';
import type { Customer } from './objects.js';
import { type Param, array, emptyable, expand, mergeMetadata, metadata, oneOf, optional, str } from './params.js';
import { type Route, checkExpand, route } from './router.js';
import { compileSearch } from './search.js';
import { type Entry, newestFirst } from './store.js';

/**
 * Customers: create, retrieve, update, list and search. `email` must look like an address
 * (Stripe's `email_invalid`); everything Stripe accepts on a customer that this server does
 * not model (addresses, payment methods, tax ids…) is refused by name rather than ignored.
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

const fields = {
  name: optional(str({ max: 256 })),
  email: optional(email()),
  description: optional(str({ max: 350 })),
  phone: optional(str({ max: 20 })),
  metadata: optional(emptyable(metadata())),
  preferred_locales: optional(array(str({ max: 20 }), { max: 10 })),
  tax_exempt: optional(emptyable(oneOf(['none', 'exempt', 'reverse'] as const))),
  expand: expand(),
};

const UNSUPPORTED = [
  'address',
  'balance',
  'business_name',
  'cash_balance',
  'default_source',
  'individual_name',
  'invoice_settings',
  'next_invoice_sequence',
  'payment_method',
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

export const customerRoutes: Route[] = [
  route(
    'POST',
    '/v1/customers',
    { ...fields, invoice_prefix: optional(str({ max: 12, pattern: /^[A-Z0-9]{3,12}$/, describe: 'must be 3 to 12 upper-case letters or digits' })) },
    ({ store }, p) => {
      checkExpand(p.expand, []);
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
    ({ store }, p, path) => {
      checkExpand(p.expand, []);
      const e = store.customer(path.id ?? '', 'id', 404);
      const c = e.obj;
      if (p.name !== undefined) c.name = p.name;
      if (p.email !== undefined) c.email = p.email;
      if (p.description !== undefined) c.description = p.description;
      if (p.phone !== undefined) c.phone = p.phone;
      if (p.preferred_locales !== undefined) c.preferred_locales = p.preferred_locales;
      if (p.tax_exempt !== undefined) c.tax_exempt = p.tax_exempt ?? 'none';
      if (p.invoice_prefix !== undefined) c.invoice_prefix = p.invoice_prefix;
      c.metadata = mergeMetadata(c.metadata, p.metadata);
      return render(e);
    },
    { unsupported: UNSUPPORTED },
  ),
];
