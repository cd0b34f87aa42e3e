import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

/**
 * Hostile bodies and parameters on the catalog routes are 400s naming the field, never 500s:
 * a value failing its pattern is never handed on to a range check that needs a decimal or a
 * currency, a plan version too large for the store is refused, and metadata keys a JavaScript
 * object cannot hold as data are refused rather than silently dropped.
 */
let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let subId: string;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
/** Sends the text as it is: JSON.stringify cannot write an own `__proto__` key. */
async function raw(method: string, path: string, text: string) {
  const res = await fetch(`${api.url}${path}`, { method, headers: t.auth, body: text });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('hostile');
  expect((await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' })).status).toBe(201);
  expect((await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10' })).status).toBe(201);
  expect((await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'count' })).status).toBe(201);
  subId = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body.id;
}, 120_000);
afterAll(async () => {
  await api.stop();
});

describe('a value failing its pattern never reaches the check after it', () => {
  const until = () => new Date(Date.now() + 400 * 86_400_000).toISOString();
  it.each([
    ['tax percent "x"', 'POST', '/v1/tax_rates', () => ({ country: 'US', percent: 'x', name: 'T' }), 'percent'],
    ['tax percent "1e5"', 'POST', '/v1/tax_rates', () => ({ country: 'US', percent: '1e5', name: 'T' }), 'percent'],
    ['volume discount percent_off "x"', 'PUT', '/v1/volume_discount', () => ({ tiers: [{ min_subscriptions: 2, percent_off: 'x' }] }), 'tiers[0].percent_off'],
    ['commitment discount_percent "x"', 'PUT', () => `/v1/subscriptions/${subId}/commitment`, () => ({ discount_percent: 'x', until: until() }), 'discount_percent'],
    ['alert included percent "x"', 'PUT', () => `/v1/subscriptions/${subId}/alerts`, () => ({ included_percents: ['x'] }), 'included_percents[0]'],
    ['alert included percent "1000" (the column holds up to 999.9999)', 'PUT', () => `/v1/subscriptions/${subId}/alerts`, () => ({ included_percents: ['1000'] }), 'included_percents[0]'],
    ['alert spend amount "x"', 'PUT', () => `/v1/subscriptions/${subId}/alerts`, () => ({ spend: [{ amount: 'x' }] }), 'spend[0].amount'],
    ['coupon currency "XXX1"', 'POST', '/v1/coupons', () => ({ code: 'c1', name: 'C', amount_off: '5', currency: 'XXX1', duration: 'once' }), 'currency'],
    ['coupon currency "usd1" with a bad amount', 'POST', '/v1/coupons', () => ({ code: 'c2', name: 'C', amount_off: '5.123', currency: 'usd1', duration: 'once' }), 'currency'],
    ['package charge package_size "x"', 'POST', '/v1/plans', () => ({ code: 'pkg', name: 'P', currency: 'USD', interval: 'month', charges: [{ meter: 'api_calls', model: 'package', unit_price: '1', package_size: 'x' }] }), 'charges[0].package_size'],
  ] as const)('%s is a 400 on its field', async (_name, method, path, body, field) => {
    const r = await call(method, typeof path === 'function' ? path() : path, body());
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
    expect(r.body.error.code).toMatch(/^TALLY_ERR_/);
  });
});

describe('list filters', () => {
  it.each([
    ['/v1/invoices?customer=', 'customer'],
    ['/v1/invoices?subscription=', 'subscription'],
    ['/v1/invoices?starting_after=', 'starting_after'],
    ['/v1/subscriptions?customer=', 'customer'],
    ['/v1/subscriptions?starting_after=', 'starting_after'],
    ['/v1/customers?starting_after=', 'starting_after'],
    ['/v1/webhook_events?type=', 'type'],
    ['/v1/webhook_events?starting_after=', 'starting_after'],
  ])('an empty filter (%s) is a 400 on %s, not an empty list', async (path, field) => {
    // No id is empty: an empty filter answered with an empty list would read as "nothing here".
    const r = await call('GET', path);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field });
  });

  it('a filter that is given still filters', async () => {
    const r = await call('GET', '/v1/subscriptions?customer=acme');
    expect(r.status).toBe(200);
    expect((r.body.data as { id: string }[]).map((s) => s.id)).toEqual([subId]);
  });
});

describe('plan versions', () => {
  it.each(['99999999999999999999', '2147483648', '1e3', '0', '-1', '1.5', ' 1'])('version=%s is a 400 on version', async (version) => {
    const r = await call('GET', `/v1/plans/basic?version=${encodeURIComponent(version)}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'version' });
  });

  it('the largest version the store can hold is looked up (and not found)', async () => {
    expect((await call('GET', '/v1/plans/basic?version=2147483647')).status).toBe(404);
    expect((await call('GET', '/v1/plans/basic?version=1')).body.version).toBe(1);
  });
});

describe('customer metadata', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('the key %s is refused by name on create and update', async (key) => {
    const created = await raw('POST', '/v1/customers', `{"id":"m_${key}","name":"M","currency":"USD","metadata":{"${key}":"x","plan":"gold"}}`);
    expect(created.status).toBe(400);
    expect(created.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: `metadata.${key}` });
    expect((await call('GET', `/v1/customers/m_${key}`)).status).toBe(404);

    const updated = await raw('PATCH', '/v1/customers/acme', `{"metadata":{"${key}":{"polluted":"yes"}}}`);
    expect(updated.status).toBe(400);
    expect(updated.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: `metadata.${key}` });
  });

  it('ordinary keys are kept', async () => {
    const r = await raw('PATCH', '/v1/customers/acme', '{"metadata":{"proto":"a","__constructor":"b"}}');
    expect(r.status).toBe(200);
    expect(r.body.metadata).toEqual({ proto: 'a', __constructor: 'b' });
  });
});

describe('text people read holds no line breaks (where it is one line) and no bidirectional overrides', () => {
  it.each([
    ['a customer name with a line break', 'PATCH', '/v1/customers/acme', { name: 'Acme\r\nBcc: x@y.z' }, 'name'],
    ['a customer name with a right-to-left override', 'PATCH', '/v1/customers/acme', { name: 'Acme \u202eevil' }, 'name'],
    ['an issuer name with a line break', 'PATCH', '/v1/billing_profile', { legal_name: 'ACME\r\nBcc: x@y.z' }, 'legal_name'],
    ['an issuer tax id with an isolate', 'PATCH', '/v1/billing_profile', { tax_id: 'DE\u2066123' }, 'tax_id'],
    ['a footer with an override', 'PATCH', '/v1/billing_profile', { footer: 'Thanks\u202e' }, 'footer'],
    ['a plan name with a line break', 'POST', '/v1/plans', { code: 'nl', name: 'Pro\nPlan', currency: 'USD', interval: 'month' }, 'name'],
    ['a one-off charge with an override', 'POST', 'charges', { amount: '1.00', description: 'Setup \u202e' }, 'description'],
    ['a meter unit with a line break', 'POST', '/v1/meters', { key: 'm_nl', name: 'M', aggregation: 'count', unit: 'G\nB' }, 'unit'],
    ['a customer email no mail server takes', 'PATCH', '/v1/customers/acme', { email: 'x@-bad-.com' }, 'email'],
    ['a customer email ending in a dot', 'PATCH', '/v1/customers/acme', { email: 'x@example.com.' }, 'email'],
  ] as const)('%s is a 400 on its field, and nothing changes', async (_what, method, path, body, field) => {
    const before = (await call('GET', '/v1/customers/acme')).body;
    const r = await call(method, path === 'charges' ? `/v1/subscriptions/${subId}/charges` : path, body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field });
    expect((await call('GET', '/v1/customers/acme')).body).toEqual(before);
  });

  it('a footer and a credit-note memo may run over lines', async () => {
    const r = await call('PATCH', '/v1/billing_profile', { footer: 'Thank you.\nBank: DE89 3704 0044 0532 0130 00' });
    expect(r.status).toBe(200);
    expect(r.body.footer).toBe('Thank you.\nBank: DE89 3704 0044 0532 0130 00');
  });
});
