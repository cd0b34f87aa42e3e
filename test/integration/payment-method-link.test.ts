import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeFake } from '../../stripe-fake/index.js';
import type { StripeFake } from '../../stripe-fake/api.js';
import { type TestApi, jsonRequest, startTestApi } from '../support/api.js';

/**
 * `POST /v1/customers/:id/payment_method_link`: the customer's Stripe customer is made once, a
 * billing-portal session is returned; what goes wrong is a clear error and writes nothing.
 */
let fake: StripeFake;
let api: TestApi;
let bare: TestApi;
let t: { id: string; auth: Record<string, string> };

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
const link = (id: string, body: unknown = { return_url: 'https://app.example/billing' }) => call('POST', `/v1/customers/${encodeURIComponent(id)}/payment_method_link`, body);

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 100_000 });
  api = await startTestApi({ env: { STRIPE_SECRET_KEY: 'sk_test_links', STRIPE_API_BASE: fake.url, TALLY_STRIPE_TIMEOUT_MS: '1000' } });
  bare = await startTestApi();
  t = await api.tenant('links');
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'EUR', email: 'ap@acme.example' });
});
afterAll(async () => {
  await fake?.close();
  await api?.stop();
  await bare?.stop();
});

describe('payment-method link', () => {
  it('makes the Stripe customer once and returns a portal session each time', async () => {
    const first = await link('acme');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ customer: 'acme', stripe_customer_id: expect.stringMatching(/^cus_/), url: expect.stringContaining('/p/session/bps_') });
    const second = await link('acme');
    expect(second.body.stripe_customer_id).toBe(first.body.stripe_customer_id);
    expect(second.body.url).not.toBe(first.body.url);
    expect(fake.state.customers().filter((c) => c.metadata.tally_customer === 'acme')).toHaveLength(1);
    expect((await call('GET', '/v1/customers/acme')).body.stripe_customer_id).toBe(first.body.stripe_customer_id);
    expect(fake.state.portalSessions().map((s) => s.return_url)).toEqual(['https://app.example/billing', 'https://app.example/billing']);
  });

  it.each([
    ['no return_url', {}, 'TALLY_ERR_MISSING_FIELD'],
    ['a return_url that is not http(s)', { return_url: 'javascript:alert(1)' }, 'TALLY_ERR_INVALID_VALUE'],
    ['a return_url that is not a URL', { return_url: 'billing page' }, 'TALLY_ERR_INVALID_VALUE'],
    ['a return_url with a tab a URL parser would drop', { return_url: 'https://x.example/\t' }, 'TALLY_ERR_INVALID_VALUE'],
    ['a return_url with a leading space', { return_url: ' https://x.example' }, 'TALLY_ERR_INVALID_VALUE'],
    ['an unknown field', { return_url: 'https://app.example', card: '4242' }, 'TALLY_ERR_UNKNOWN_FIELD'],
  ])('refuses %s', async (_what, body, code) => {
    const r = await link('acme', body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(code);
  });

  it('an unknown customer, or another tenant’s, is a 404 and makes nothing in Stripe', async () => {
    const before = fake.state.customers().length;
    expect((await link('nobody')).status).toBe(404);
    const other = await api.tenant('other');
    expect((await jsonRequest(api.url, other.auth, 'POST', '/v1/customers/acme/payment_method_link', { return_url: 'https://x.example' })).status).toBe(404);
    expect(fake.state.customers().length).toBe(before);
  });

  it('another customer’s Stripe customer cannot be claimed, so its portal cannot be reached', async () => {
    const taken = (await call('GET', '/v1/customers/acme')).body.stripe_customer_id as string;
    const other = await api.tenant('spy');
    const r = await jsonRequest(api.url, other.auth, 'POST', '/v1/customers', { id: 'spy', name: 'Spy', currency: 'EUR', stripe_customer_id: taken });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_ALREADY_EXISTS', field: 'stripe_customer_id' });
    await jsonRequest(api.url, other.auth, 'POST', '/v1/customers', { id: 'spy', name: 'Spy', currency: 'EUR' });
    expect((await jsonRequest(api.url, other.auth, 'PATCH', '/v1/customers/spy', { stripe_customer_id: taken })).status).toBe(409);
  });

  it('of customers given one Stripe customer at once, only one gets it', async () => {
    for (let n = 0; n < 5; n++) {
      const stripe = `cus_Race${n}`;
      const made = await Promise.all(
        ['a', 'b', 'c'].map((x) => call('POST', '/v1/customers', { id: `race-${n}-${x}`, name: 'Race', currency: 'EUR', stripe_customer_id: stripe })),
      );
      expect(made.map((r) => r.status).sort()).toEqual([201, 409, 409]);
      // A PATCH racing a create: one of them.
      const winner = made.find((r) => r.status === 201)!.body.id as string;
      const patched = await Promise.all([
        call('POST', '/v1/customers', { id: `race-${n}-d`, name: 'Race', currency: 'EUR', stripe_customer_id: `${stripe}x` }),
        call('PATCH', `/v1/customers/${winner}`, { stripe_customer_id: `${stripe}x` }),
      ]);
      const statuses = patched.map((r) => r.status);
      expect([[201, 409], [409, 200]]).toContainEqual(statuses);
    }
  });

  it('a stripe_customer_id the Stripe account does not have is a 400 naming it', async () => {
    await call('POST', '/v1/customers', { id: 'ghost', name: 'Ghost', currency: 'EUR', stripe_customer_id: 'cus_NotInThisAccount' });
    const r = await link('ghost');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'stripe_customer_id' });
  });

  it('without a Stripe key: 503 TALLY_ERR_STRIPE_NOT_CONFIGURED', async () => {
    const tb = await bare.tenant('bare');
    await jsonRequest(bare.url, tb.auth, 'POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'EUR' });
    const r = await jsonRequest(bare.url, tb.auth, 'POST', '/v1/customers/acme/payment_method_link', { return_url: 'https://app.example' });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('TALLY_ERR_STRIPE_NOT_CONFIGURED');
  });

  it('Stripe failing: 502 TALLY_ERR_STRIPE_UNAVAILABLE, and the next call works', async () => {
    fake.faults.add({ kind: '500', rate: 1, method: 'POST', pathPrefix: '/v1/billing_portal/sessions', times: 1 });
    const r = await link('acme');
    expect(r.status).toBe(502);
    expect(r.body.error.code).toBe('TALLY_ERR_STRIPE_UNAVAILABLE');
    expect((await link('acme')).status).toBe(200);
  });
});
