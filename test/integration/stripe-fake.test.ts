import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type StripeFake, formatMinor, minorUnits, startStripeFake } from '../../stripe-fake/index.js';
import { stripeClient, stripeError } from '../support/stripe-client.js';

// The local Stripe server driven by the official `stripe` package: what it stores, what it
// computes and what it refuses, with Stripe's error shapes.

let fake: StripeFake;
let stripe: Stripe;

beforeEach(async () => {
  fake = await startStripeFake({ writesPerSecond: Infinity });
  stripe = stripeClient(fake);
});
afterEach(async () => {
  await fake.close();
});

async function raw(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization: 'Bearer sk_test_fake', 'content-type': 'application/x-www-form-urlencoded', ...headers },
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

describe('authentication and requests', () => {
  it.each([
    ['no Authorization header', {}, /did not provide an API key/],
    ['a live key', { authorization: 'Bearer sk_live_abcdefghijkl' }, /Invalid API Key provided/],
    ['a publishable key', { authorization: 'Bearer pk_test_abcdefghijkl' }, /Invalid API Key provided/],
  ])('%s is a 401 with Stripe error JSON', async (_name, headers, message) => {
    const res = await fetch(`${fake.url}/v1/customers`, { method: 'POST', headers });
    expect(res.status).toBe(401);
    const body = (await res.json()) as any;
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(message);
  });

  it('the stripe package raises StripeAuthenticationError for a bad key', async () => {
    const bad = new Stripe('sk_live_nope', { ...fake.clientOptions, maxNetworkRetries: 0 });
    const e = await stripeError(bad.customers.create({ name: 'x' }));
    expect(e).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(e.statusCode).toBe(401);
  });

  it('accepts restricted test keys and Basic auth', async () => {
    const rk = new Stripe('rk_test_abc', { ...fake.clientOptions, maxNetworkRetries: 0 });
    await expect(rk.customers.create({ name: 'r' })).resolves.toMatchObject({ object: 'customer' });
    const basic = await raw('POST', '/v1/customers', 'name=b', { authorization: `Basic ${Buffer.from('sk_test_fake:').toString('base64')}` });
    expect(basic.status).toBe(200);
  });

  it('answers an unknown URL with 404 invalid_request_error', async () => {
    const r = await raw('GET', '/v1/charges');
    expect(r.status).toBe(404);
    expect(r.body.error.message).toContain('Unrecognized request URL (GET: /v1/charges)');
  });

  it.each([
    ['an unknown parameter', 'name=a&nickname=b', 'parameter_unknown', 'nickname'],
    ['a Stripe parameter this server does not model', 'metadata[a]=1&invoice_settings[footer]=x', 'parameter_unknown', 'invoice_settings'],
    ['an empty string for a parameter that cannot be unset', 'name=', 'parameter_invalid_empty', 'name'],
    ['a malformed email', 'email=not-an-address', 'email_invalid', 'email'],
    ['a value where a hash belongs', 'metadata=x', undefined, 'metadata'],
  ])('refuses %s with 400', async (_name, body, code, param) => {
    const r = await raw('POST', '/v1/customers', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
    if (code !== undefined) expect(r.body.error.code).toBe(code);
    expect(fake.state.customers()).toHaveLength(0);
  });

  it('refuses a JSON body', async () => {
    const r = await raw('POST', '/v1/customers', '{"name":"x"}', { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('x-www-form-urlencoded');
  });

  it('parses bracket notation as Stripe does and refuses names that conflict', async () => {
    const c = await raw('POST', '/v1/customers', 'name=A+B&metadata[k%201]=v%26w&preferred_locales[]=en&preferred_locales[]=fr');
    expect(c.body).toMatchObject({ name: 'A B', metadata: { 'k 1': 'v&w' }, preferred_locales: ['en', 'fr'] });
    const inv = await raw('POST', '/v1/invoices', `customer=${c.body.id}&expand[0]=customer`);
    expect(inv.body.customer).toMatchObject({ id: c.body.id, object: 'customer' });
    expect((await raw('GET', `/v1/invoices/${inv.body.id}?expand[]=customer`)).body.customer.id).toBe(c.body.id);
    expect((await raw('GET', `/v1/invoices/${inv.body.id}?expand[]=lines`)).body.error.message).toMatch(/cannot be expanded/);
    expect((await raw('GET', `/v1/invoices/${inv.body.id}?limit=3`)).body.error).toMatchObject({ code: 'parameter_unknown', param: 'limit' });
    expect((await raw('POST', '/v1/customers', 'metadata=x&metadata[a]=1')).status).toBe(400);
    expect((await raw('POST', '/v1/customers', 'name=%E0%A4%A')).status).toBe(400);
  });

  it('logs every request with its idempotency key and status', async () => {
    await stripe.customers.create({ name: 'a' }, { idempotencyKey: 'k-1' });
    await stripeError(stripe.customers.retrieve('cus_missing'));
    expect(fake.requests.map((r) => [r.method, r.path, r.idempotencyKey, r.status])).toEqual([
      ['POST', '/v1/customers', 'k-1', 200],
      ['GET', '/v1/customers/cus_missing', null, 404],
    ]);
  });
});

describe('customers', () => {
  it('creates, retrieves and updates a customer; metadata merges and an empty value removes a key', async () => {
    const c = await stripe.customers.create({ name: 'Ada', email: 'ada@example.com', description: 'first', metadata: { tally_tenant: 't1', drop: 'me' } });
    expect(c).toMatchObject({ object: 'customer', name: 'Ada', email: 'ada@example.com', livemode: false, metadata: { tally_tenant: 't1', drop: 'me' } });
    expect(c.id).toMatch(/^cus_/);
    expect(Math.abs(c.created - Date.now() / 1000)).toBeLessThan(5);

    const u = await stripe.customers.update(c.id, { name: 'Ada L.', metadata: { drop: '', added: 'yes' } });
    expect(u.metadata).toEqual({ tally_tenant: 't1', added: 'yes' });
    expect((await stripe.customers.retrieve(c.id)) as Stripe.Customer).toMatchObject({ name: 'Ada L.', email: 'ada@example.com' });
    expect(fake.state.customer(c.id)?.name).toBe('Ada L.');
  });

  it('metadata keeps at most 50 keys across updates; a refused update changes nothing', async () => {
    const keys = (from: number, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${from + i}`, 'v']));
    const c = await stripe.customers.create({ name: 'Many', metadata: keys(0, 30) });
    const e = await stripeError(stripe.customers.update(c.id, { name: 'Renamed', metadata: keys(30, 21) }));
    expect(e).toMatchObject({ statusCode: 400, param: 'metadata' });
    expect(await stripe.customers.retrieve(c.id)).toMatchObject({ name: 'Many', metadata: keys(0, 30) });
    // Dropping one while adding 21 keeps 50: allowed.
    const u = await stripe.customers.update(c.id, { metadata: { ...keys(30, 21), k0: '' } });
    expect(Object.keys(u.metadata)).toHaveLength(50);
  });

  it('a missing customer is a 404 resource_missing', async () => {
    const e = await stripeError(stripe.customers.retrieve('cus_nope'));
    expect(e).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(e).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'id' });
  });

  it('searches by metadata equality (with escaped quotes), AND, OR and email', async () => {
    const a = await stripe.customers.create({ email: 'a@example.com', metadata: { tally_tenant: 't1', tally_customer: "o'brien" } });
    const b = await stripe.customers.create({ email: 'b@example.com', metadata: { tally_tenant: 't1', tally_customer: 'c2' } });
    await stripe.customers.create({ metadata: { tally_tenant: 't2', tally_customer: 'c2' } });

    const one = await stripe.customers.search({ query: "metadata['tally_tenant']:'t1' AND metadata['tally_customer']:'o\\'brien'" });
    expect(one).toMatchObject({ object: 'search_result', has_more: false });
    expect(one.data.map((c) => c.id)).toEqual([a.id]);

    const both = await stripe.customers.search({ query: "metadata['tally_customer']:'c2' OR email:'a@example.com'" });
    expect(both.data).toHaveLength(3);
    expect((await stripe.customers.search({ query: "email:'B@example.com'" })).data.map((c) => c.id)).toEqual([b.id]);

    const paged = await stripe.customers.search({ query: "metadata['tally_tenant']:'t1'", limit: 1 });
    expect(paged.has_more).toBe(true);
    expect(paged.next_page).not.toBeNull();
    const all = [];
    for await (const c of stripe.customers.search({ query: "metadata['tally_tenant']:'t1'", limit: 1 })) all.push(c.id);
    expect(all.sort()).toEqual([a.id, b.id].sort());
  });

  it.each([
    ["metadata['a']:'x' AND name:'y' OR name:'z'", /AND and OR/],
    ['nickname:"x"', /not a searchable field/],
    ["metadata['a']:'unterminated", /unterminated/],
  ])('refuses the query %s', async (query, message) => {
    const e = await stripeError(stripe.customers.search({ query }));
    expect(e).toMatchObject({ statusCode: 400, param: 'query' });
    expect(e.message).toMatch(message);
  });

  it('search can lag behind writes, as Stripe search does', async () => {
    let now = Date.now();
    const lagging = await startStripeFake({ searchLagMs: 60_000, clock: () => now });
    try {
      const s = new Stripe('sk_test_x', { ...lagging.clientOptions, maxNetworkRetries: 0 });
      await s.customers.create({ metadata: { k: 'v' } });
      expect((await s.customers.search({ query: "metadata['k']:'v'" })).data).toHaveLength(0);
      now += 60_000;
      expect((await s.customers.search({ query: "metadata['k']:'v'" })).data).toHaveLength(1);
    } finally {
      await lagging.close();
    }
  });
});

describe('meters and meter events', () => {
  async function meterAndCustomer() {
    const meter = await stripe.billing.meters.create({
      display_name: 'API calls',
      event_name: 'api_calls',
      default_aggregation: { formula: 'sum' },
      customer_mapping: { event_payload_key: 'stripe_customer_id', type: 'by_id' },
      value_settings: { event_payload_key: 'value' },
    });
    const customer = await stripe.customers.create({ name: 'm' });
    return { meter, customer };
  }

  it('creates and lists meters', async () => {
    const { meter } = await meterAndCustomer();
    expect(meter).toMatchObject({ object: 'billing.meter', status: 'active', event_name: 'api_calls', default_aggregation: { formula: 'sum' }, value_settings: { event_payload_key: 'value' } });
    expect(meter.id).toMatch(/^mtr_/);
    const list = await stripe.billing.meters.list();
    expect(list).toMatchObject({ object: 'list', has_more: false });
    expect(list.data.map((m) => m.id)).toEqual([meter.id]);
    const e = await stripeError(stripe.billing.meters.create({ display_name: 'again', event_name: 'api_calls', default_aggregation: { formula: 'sum' } }));
    expect(e).toMatchObject({ statusCode: 400, param: 'event_name' });
    const bad = await stripeError(stripe.billing.meters.create({ display_name: 'x', event_name: 'y', default_aggregation: { formula: 'avg' } }));
    expect(bad).toMatchObject({ statusCode: 400, param: 'default_aggregation[formula]' });
  });

  it('accepts integer events and keeps them; a repeated identifier is duplicate_meter_event', async () => {
    const { customer } = await meterAndCustomer();
    const ts = Math.floor(Date.now() / 1000) - 3600;
    const ev = await stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: customer.id, value: '12' }, identifier: 'sub1:api:h1:r0', timestamp: ts });
    expect(ev).toMatchObject({ object: 'billing.meter_event', identifier: 'sub1:api:h1:r0', timestamp: ts, payload: { value: '12' } });
    await stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: customer.id, value: '30' } });

    const dup = await stripeError(stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: customer.id, value: '12' }, identifier: 'sub1:api:h1:r0', timestamp: ts }));
    expect(dup).toMatchObject({ statusCode: 400, code: 'duplicate_meter_event', param: 'identifier' });
    expect(dup.message).toMatch(/An event already exists with identifier/);

    // A negative value lowers the sum (a correction); 15 digits is the most Stripe takes.
    await stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: customer.id, value: '-2' } });
    await stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: customer.id, value: '100000000000000' } });
    expect(fake.state.meterEvents()).toHaveLength(4);
    expect(fake.state.meterTotal('api_calls', customer.id)).toBe(100000000000040n);
  });

  it('forgets an identifier after 24 hours', async () => {
    let now = Date.now();
    const timed = await startStripeFake({ clock: () => now });
    try {
      const s = new Stripe('sk_test_x', { ...timed.clientOptions, maxNetworkRetries: 0 });
      await s.billing.meters.create({ display_name: 'c', event_name: 'c', default_aggregation: { formula: 'sum' } });
      const c = await s.customers.create({});
      const send = () => s.billing.meterEvents.create({ event_name: 'c', payload: { stripe_customer_id: c.id, value: '1' }, identifier: 'same' });
      await send();
      now += 23 * 3600_000;
      expect(await stripeError(send())).toMatchObject({ code: 'duplicate_meter_event' });
      now += 3600_000;
      await expect(send()).resolves.toMatchObject({ identifier: 'same' });
    } finally {
      await timed.close();
    }
  });

  it.each([
    ['a decimal value', { value: '1.5' }, {}, 'payload[value]'],
    ['a value of 16 digits', { value: '1234567890123456' }, {}, 'payload[value]'],
    ['a value that is not a number', { value: 'ten' }, {}, 'payload[value]'],
    ['no value', {}, {}, 'payload[value]'],
    ['an unknown customer', { stripe_customer_id: 'cus_nobody', value: '1' }, {}, 'payload[stripe_customer_id]'],
    ['an unknown event name', { value: '1' }, { event_name: 'nope' }, 'event_name'],
    ['a timestamp 36 days old', { value: '1' }, { timestamp: Math.floor(Date.now() / 1000) - 36 * 86400 }, 'timestamp'],
    ['a timestamp 10 minutes ahead', { value: '1' }, { timestamp: Math.floor(Date.now() / 1000) + 600 }, 'timestamp'],
    ['a timestamp that is not an integer', { value: '1' }, { timestamp: 1.5 }, 'timestamp'],
  ])('refuses %s', async (_name, payload, extra, param) => {
    const { customer } = await meterAndCustomer();
    const e = await stripeError(
      stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: customer.id, ...payload }, ...extra }),
    );
    expect(e).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', param });
    expect(fake.state.meterEvents()).toHaveLength(0);
  });

  it('accepts timestamps at the edges of the window', async () => {
    const { customer } = await meterAndCustomer();
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of [now - 35 * 86400 + 60, now + 240]) {
      await stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: customer.id, value: '1' }, timestamp });
    }
    expect(fake.state.meterEvents()).toHaveLength(2);
  });
});

describe('invoices and invoice items', () => {
  it('a draft totals its items; finalizing opens it with a number (USD)', async () => {
    const c = await stripe.customers.create({ name: 'inv' });
    const inv = await stripe.invoices.create({
      customer: c.id,
      currency: 'usd',
      auto_advance: false,
      collection_method: 'charge_automatically',
      pending_invoice_items_behavior: 'exclude',
      description: 'March',
      metadata: { tally_invoice: 'inv_1' },
    });
    expect(inv).toMatchObject({ object: 'invoice', status: 'draft', currency: 'usd', total: 0, number: null, metadata: { tally_invoice: 'inv_1' } });
    expect(inv.id).toMatch(/^in_/);

    await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 32900, description: 'Base fee', metadata: { tally_lines: '1' } });
    // 12,345 units at 0.0125 cents: 154.3125 cents, rounded half up to 154.
    const usage = await stripe.invoiceItems.create({
      customer: c.id,
      invoice: inv.id,
      unit_amount_decimal: Stripe.Decimal.from('0.0125'),
      quantity: 12345,
      period: { start: 1_700_000_000, end: 1_700_003_600 },
    });
    expect(usage).toMatchObject({ object: 'invoiceitem', amount: 154, quantity: 12345, currency: 'usd', invoice: inv.id, period: { start: 1_700_000_000, end: 1_700_003_600 } });
    expect(usage.pricing?.unit_amount_decimal?.toString()).toBe('0.0125');
    expect(usage.quantity_decimal.toString()).toBe('12345');
    await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: -1000, description: 'Credit' });

    const draft = await stripe.invoices.retrieve(inv.id);
    expect(draft).toMatchObject({ status: 'draft', subtotal: 32054, total: 32054, amount_due: 32054 });
    expect(draft.lines.data.map((l) => l.amount)).toEqual([32900, 154, -1000]);

    const final = await stripe.invoices.finalizeInvoice(inv.id, { auto_advance: false });
    expect(final).toMatchObject({ status: 'open', total: 32054, amount_due: 32054, amount_remaining: 32054, amount_paid: 0 });
    expect(final.number).toMatch(/^[A-Z0-9]{8}-0001$/);
    expect(final.status_transitions.finalized_at).not.toBeNull();

    const again = await stripeError(stripe.invoices.finalizeInvoice(inv.id));
    expect(again.statusCode).toBe(400);
    const late = await stripeError(stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 1 }));
    expect(late).toMatchObject({ statusCode: 400, code: 'invoice_not_editable' });
    expect(fake.state.invoice(inv.id)?.items).toHaveLength(3);
  });

  it('JPY amounts are whole yen; a zero total is paid at finalization', async () => {
    const c = await stripe.customers.create({ name: 'jp' });
    const inv = await stripe.invoices.create({ customer: c.id, currency: 'jpy' });
    const item = await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, unit_amount_decimal: Stripe.Decimal.from('0.5'), quantity: 3 });
    expect(item).toMatchObject({ currency: 'jpy', amount: 2 });
    await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 1200 });
    expect(await stripe.invoices.finalizeInvoice(inv.id)).toMatchObject({ status: 'open', total: 1202, currency: 'jpy' });

    const zero = await stripe.invoices.create({ customer: c.id, currency: 'jpy' });
    await stripe.invoiceItems.create({ customer: c.id, invoice: zero.id, amount: 0 });
    const paid = await stripe.invoices.finalizeInvoice(zero.id);
    expect(paid).toMatchObject({ status: 'paid', total: 0, amount_due: 0 });
    expect(fake.state.events().map((e) => e.type)).toEqual(['invoice.finalized', 'invoice.finalized', 'invoice.paid']);
  });

  it('amounts are minor units of Stripe\'s table: BHD has 3 decimals, ISK stays 2-decimal in the API', async () => {
    const c = await stripe.customers.create({});
    const inv = await stripe.invoices.create({ customer: c.id, currency: 'bhd' });
    // 2.5 fils times 3: 7.5 fils, rounded half up.
    await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, unit_amount_decimal: Stripe.Decimal.from('2.5'), quantity: 3 });
    await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 1200 });
    const final = await stripe.invoices.finalizeInvoice(inv.id);
    expect(final.total).toBe(1208);
    expect(formatMinor(final.total, final.currency)).toBe('1.208');
    expect([minorUnits('jpy'), minorUnits('usd'), minorUnits('bhd'), minorUnits('isk'), minorUnits('ugx')]).toEqual([0, 2, 3, 2, 0]);
  });

  it('ISK is charged in whole krónur: finalizing a total that is not a multiple of 100 is refused, the draft kept', async () => {
    const c = await stripe.customers.create({});
    const inv = await stripe.invoices.create({ customer: c.id, currency: 'isk' });
    await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 499_050 });
    const e = await stripeError(stripe.invoices.finalizeInvoice(inv.id));
    expect(e).toMatchObject({ statusCode: 400, code: 'invalid_charge_amount_no_decimal_compatible' });
    expect((await stripe.invoices.retrieve(inv.id)).status).toBe('draft');
    await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 50 });
    expect(await stripe.invoices.finalizeInvoice(inv.id)).toMatchObject({ status: 'open', total: 499_100 });
    expect(formatMinor(499_100, 'isk')).toBe('4991.00');
  });

  it.each([
    ['a currency other than the invoice', { currency: 'eur', amount: 1 }, 'currency'],
    ['an unknown nested parameter', { amount: 1, period: { start: 1, end: 2, middle: 1 } }, 'period[middle]'],
    ['amount with unit_amount_decimal', { amount: 1, unit_amount_decimal: Stripe.Decimal.from('1') }, 'amount'],
    ['neither amount nor unit_amount_decimal', {}, 'amount'],
    ['amount with a quantity', { amount: 100, quantity: 3 }, 'quantity'],
    ['13 decimal places', { unit_amount_decimal: '0.0000000000001' }, 'unit_amount_decimal'],
    ['a fractional amount', { amount: 1.5 }, 'amount'],
    ['an unknown currency', { currency: 'xyz' }, 'currency'],
    ['a price (not implemented here)', { pricing: { price: 'price_1' } }, 'pricing'],
    ['a period ending before it starts', { amount: 1, period: { start: 20, end: 10 } }, 'period[end]'],
  ])('refuses an item with %s', async (_name, extra, param) => {
    const c = await stripe.customers.create({});
    const inv = await stripe.invoices.create({ customer: c.id, currency: 'usd' });
    const e = await stripeError(stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, ...extra } as Stripe.InvoiceItemCreateParams));
    expect(e).toMatchObject({ statusCode: 400, param });
    expect(fake.state.invoiceItems()).toHaveLength(0);
  });

  it("refuses an item for another customer's invoice and an unknown invoice", async () => {
    const a = await stripe.customers.create({});
    const b = await stripe.customers.create({});
    const inv = await stripe.invoices.create({ customer: a.id });
    expect(await stripeError(stripe.invoiceItems.create({ customer: b.id, invoice: inv.id, amount: 1 }))).toMatchObject({ param: 'customer' });
    expect(await stripeError(stripe.invoiceItems.create({ customer: a.id, invoice: 'in_nope', amount: 1 }))).toMatchObject({ code: 'resource_missing', param: 'invoice' });
    expect(await stripeError(stripe.invoices.create({ customer: 'cus_nope' }))).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'customer' });
    expect(await stripeError(stripe.invoices.create({}))).toMatchObject({ code: 'parameter_missing', param: 'customer' });
  });

  it('an invoice takes at most 250 items; lists page through them', async () => {
    const c = await stripe.customers.create({});
    const inv = await stripe.invoices.create({ customer: c.id, currency: 'usd' });
    for (let i = 1; i <= 250; i++) await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: i, metadata: { n: String(i) } });
    const e = await stripeError(stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 251 }));
    expect(e).toMatchObject({ statusCode: 400, param: 'invoice' });
    expect(e.message).toMatch(/250/);

    const seen = new Set<string>();
    for await (const item of stripe.invoiceItems.list({ invoice: inv.id, limit: 100 })) seen.add(item.metadata?.n ?? '');
    expect(seen.size).toBe(250);

    const retrieved = await stripe.invoices.retrieve(inv.id);
    expect(retrieved.total).toBe((250 * 251) / 2);
    expect(retrieved.lines).toMatchObject({ has_more: true, total_count: 250 });
    expect(retrieved.lines.data).toHaveLength(10);
    let lines = 0;
    for await (const _ of stripe.invoices.listLineItems(inv.id, { limit: 100 })) lines++;
    expect(lines).toBe(250);
  });

  it('searches invoices by metadata and status; voids an open invoice', async () => {
    const c = await stripe.customers.create({});
    const inv = await stripe.invoices.create({ customer: c.id, metadata: { tally_tenant: 't', tally_invoice: 'i1' } });
    await stripe.invoices.create({ customer: c.id, metadata: { tally_tenant: 't', tally_invoice: 'i2' } });
    const found = await stripe.invoices.search({ query: "metadata['tally_tenant']:'t' AND metadata['tally_invoice']:'i1'" });
    expect(found.data.map((i) => i.id)).toEqual([inv.id]);

    expect(await stripeError(stripe.invoices.voidInvoice(inv.id))).toMatchObject({ statusCode: 400 });
    await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 500 });
    await stripe.invoices.finalizeInvoice(inv.id);
    expect((await stripe.invoices.search({ query: "status:'open'" })).data.map((i) => i.id)).toEqual([inv.id]);
    expect(await stripe.invoices.voidInvoice(inv.id)).toMatchObject({ status: 'void' });
    expect(fake.state.events().map((e) => e.type)).toEqual(['invoice.finalized', 'invoice.voided']);
  });

  it('pending items join an invoice created with pending_invoice_items_behavior=include', async () => {
    const c = await stripe.customers.create({});
    await stripe.invoiceItems.create({ customer: c.id, currency: 'usd', amount: 700 });
    await stripe.invoiceItems.create({ customer: c.id, currency: 'eur', amount: 900 });
    const excluded = await stripe.invoices.create({ customer: c.id, currency: 'usd' });
    expect(excluded.total).toBe(0);
    const included = await stripe.invoices.create({ customer: c.id, currency: 'usd', pending_invoice_items_behavior: 'include' });
    expect(included.total).toBe(700);
    expect((await stripe.invoiceItems.list({ pending: true })).data.map((i) => i.currency)).toEqual(['eur']);
  });
});
