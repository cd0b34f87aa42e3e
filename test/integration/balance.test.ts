import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { Dec } from '../../core/money.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * The prepaid balance: purchased credit plus the open period's allowance, minus what the open
 * period's upcoming invoice charges so far before credits and tax. Prices are chosen so that
 * every number is exact; the balance reaches zero exactly when the rated spend equals the credit.
 */
const DAY = 86_400_000;
// A 30-day month in the past (September), so the clock can be placed inside it.
const year = new Date().getUTCFullYear() - 1;
const S = Date.UTC(year, 8, 1);
const iso = (t: number) => new Date(t).toISOString();

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let now = S + 5 * DAY;
let seq = 0;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

async function usage(customer: string, value: string, at: number): Promise<void> {
  const r = await call('POST', '/v1/events', { id: `e${++seq}`, customer, meter: 'calls', value, timestamp: iso(at) });
  expect(r.body, JSON.stringify(r.body)).toMatchObject({ accepted: 1 });
}

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(800 * 86_400) }, clock: () => now });
  t = await api.tenant('balance');
  await call('POST', '/v1/meters', { key: 'calls', name: 'Calls', aggregation: 'sum' });
  await call('POST', '/v1/plans', { code: 'metered', name: 'Metered', currency: 'USD', interval: 'month', base_fee: '10.00', charges: [{ meter: 'calls', model: 'per_unit', unit_price: '0.25' }] });
  await call('POST', '/v1/plans', { code: 'allow', name: 'Allowance', currency: 'USD', interval: 'month', base_fee: '10.00', credit_allowance: '4.00' });
  for (const id of ['acme', 'taxed', 'allowed', 'idle', 'multi']) await call('POST', '/v1/customers', { id, name: id, currency: 'USD', ...(id === 'taxed' ? { country: 'DE' } : {}) });
  await call('POST', '/v1/tax_rates', { country: 'DE', percent: '19', name: 'MwSt' });
}, 60_000);
afterAll(async () => {
  await api?.stop();
});

describe('GET /v1/customers/:id/balance', () => {
  it('is the purchased credit minus the rated spend so far, down to exactly zero', async () => {
    expect((await call('POST', '/v1/customers/acme/credits', { amount: '30.00' })).status).toBe(201);
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'metered', start_date: iso(S) })).body;
    // The base fee alone: 30.00 − 10.00.
    expect((await call('GET', '/v1/customers/acme/balance')).body).toEqual({
      customer: 'acme',
      currency: 'USD',
      credit: '30.00',
      spend: '10.00',
      balance: '20.00',
      as_of: iso(now),
      subscriptions: [{ subscription: sub.id, period_start: iso(S), period_end: iso(Date.UTC(year, 9, 1)), allowance: '0.00', spend: '10.00' }],
    });
    // 41 calls at 0.25: 10.25 of usage.
    await usage('acme', '41', S + 2 * DAY);
    await testAggregator(api).runOnce();
    expect((await call('GET', '/v1/customers/acme/balance')).body).toMatchObject({ credit: '30.00', spend: '20.25', balance: '9.75' });
    // 39 more: 80 calls, 20.00 of usage, 30.00 in all: the credit exactly.
    await usage('acme', '39', S + 3 * DAY);
    await testAggregator(api).runOnce();
    expect((await call('GET', '/v1/customers/acme/balance')).body).toMatchObject({ credit: '30.00', spend: '30.00', balance: '0.00' });
    // One more call goes below zero.
    await usage('acme', '1', S + 4 * DAY);
    await testAggregator(api).runOnce();
    expect((await call('GET', '/v1/customers/acme/balance')).body).toMatchObject({ credit: '30.00', spend: '30.25', balance: '-0.25' });
  });

  it('counts no tax: credits are applied before it', async () => {
    await call('POST', '/v1/customers/taxed/credits', { amount: '10.00' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'taxed', plan: 'metered', start_date: iso(S) })).body;
    await usage('taxed', '8', S + 2 * DAY);
    await testAggregator(api).runOnce();
    // 10.00 + 2.00 of usage; the upcoming invoice uses the 10.00 of credit, then taxes the 2.00 left at 19 %.
    const upcoming = (await call('GET', `/v1/subscriptions/${sub.id}/upcoming`)).body;
    expect(upcoming).toMatchObject({ subtotal: '12.00', credit: '10.00', tax: '0.38', total: '2.38' });
    expect((await call('GET', '/v1/customers/taxed/balance')).body).toMatchObject({ credit: '10.00', spend: '12.00', balance: '-2.00' });
  });

  it("counts the open period's credit allowance, not granted yet, as credit", async () => {
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'allowed', plan: 'allow', start_date: iso(S) })).body;
    await call('POST', '/v1/customers/allowed/credits', { amount: '6.00' });
    expect((await call('GET', '/v1/customers/allowed/balance')).body).toMatchObject({
      credit: '10.00',
      spend: '10.00',
      balance: '0.00',
      subscriptions: [{ subscription: sub.id, allowance: '4.00', spend: '10.00' }],
    });
    // A close run grants it for the running period: the same balance, now from the grant.
    const stack = createRatingStack(api.stores.config, api.stores, createRegistry());
    try {
      await stack.billing.close(new Date(now));
    } finally {
      await stack.pool.close();
    }
    const grants = (await call('GET', '/v1/customers/allowed/credits')).body.grants as { source: string; remaining: string; period_start: string | null }[];
    expect(grants.filter((g) => g.source === 'allowance').map((g) => [g.remaining, g.period_start])).toEqual([['4.00', iso(S)]]);
    expect((await call('GET', '/v1/customers/allowed/balance')).body).toMatchObject({ credit: '10.00', spend: '10.00', balance: '0.00', subscriptions: [{ allowance: '4.00' }] });
  });

  it("sums several subscriptions, each part what that subscription's upcoming invoice charges before credits", async () => {
    await call('POST', '/v1/customers/multi/credits', { amount: '50.00' });
    const ids: string[] = [];
    for (const plan of ['metered', 'allow', 'metered']) ids.push((await call('POST', '/v1/subscriptions', { customer: 'multi', plan, start_date: iso(S) })).body.id as string);
    // 20 calls at 0.25 (each metered subscription rates the customer's usage of the meter).
    await usage('multi', '20', S + 2 * DAY);
    await testAggregator(api).runOnce();
    const balance = (await call('GET', '/v1/customers/multi/balance')).body as { subscriptions: { subscription: string; spend: string; allowance: string }[] };
    expect(balance).toMatchObject({ credit: '54.00', spend: '40.00', balance: '14.00' });
    expect(balance.subscriptions.map((p) => p.subscription).sort()).toEqual([...ids].sort());
    for (const part of balance.subscriptions) {
      const upcoming = (await call('GET', `/v1/subscriptions/${part.subscription}/upcoming`)).body as { subtotal: string; discount: string };
      expect(part.spend, part.subscription).toBe(new Dec(upcoming.subtotal).minus(upcoming.discount).toFixed(2));
    }
    expect(balance.subscriptions.map((p) => [p.spend, p.allowance]).sort()).toEqual([['10.00', '4.00'], ['15.00', '0.00'], ['15.00', '0.00']]);
  });

  it('is the credit alone without a live subscription (spend 0)', async () => {
    await call('POST', '/v1/customers/idle/credits', { amount: '12.50' });
    expect((await call('GET', '/v1/customers/idle/balance')).body).toEqual({ customer: 'idle', currency: 'USD', credit: '12.50', spend: '0.00', balance: '12.50', as_of: iso(now), subscriptions: [] });
    // A subscription canceled before now spends nothing either.
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'idle', plan: 'metered', start_date: iso(S) })).body;
    expect((await call('GET', '/v1/customers/idle/balance')).body).toMatchObject({ spend: '10.00', balance: '2.50' });
    expect((await call('POST', `/v1/subscriptions/${sub.id}/cancel`, {})).status).toBe(200);
    now += 1000;
    expect((await call('GET', '/v1/customers/idle/balance')).body).toMatchObject({ spend: '0.00', balance: '12.50', subscriptions: [] });
  });

  it("404s for an unknown customer and for another tenant's", async () => {
    const unknown = await call('GET', '/v1/customers/nobody/balance');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('TALLY_ERR_NOT_FOUND');
    const other = await api.tenant('other-balance');
    expect((await jsonRequest(api.url, other.auth, 'GET', '/v1/customers/acme/balance')).status).toBe(404);
  });
});

describe('balance.low and balance.depleted', () => {
  // Real time: the rating loop's alerts are about the period running now.
  let live: TestApi;
  let lt: { id: string; auth: Record<string, string> };
  let stack: RatingStack;
  const begun = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;
  const liveCall = (method: string, path: string, body?: unknown) => jsonRequest(live.url, lt.auth, method, path, body);
  const spend = async (customer: string, value: string) => {
    expect((await liveCall('POST', '/v1/events', { id: `b${++seq}`, customer, meter: 'calls', value, timestamp: iso(begun + 3_600_000) })).status).toBe(202);
    await testAggregator(live).runOnce();
    await stack.rater.runOnce();
  };
  const events = async () =>
    ((await liveCall('GET', '/v1/webhook_events?limit=500')).body.data as { type: string; data: { customer: string; balance: string; threshold: string } }[])
      .filter((e) => e.type.startsWith('balance.'))
      .map((e) => `${e.type} ${e.data.customer} ${e.data.balance} ${e.data.threshold}`)
      .reverse();

  beforeAll(async () => {
    live = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(60 * 86_400) } });
    lt = await live.tenant('balance-events');
    stack = createRatingStack(live.stores.config, live.stores, createRegistry());
    await liveCall('POST', '/v1/meters', { key: 'calls', name: 'Calls', aggregation: 'sum' });
    await liveCall('POST', '/v1/plans', { code: 'units', name: 'Units', currency: 'USD', interval: 'month', charges: [{ meter: 'calls', model: 'per_unit', unit_price: '1.00' }] });
    for (const id of ['pre', 'unwatched']) {
      await liveCall('POST', '/v1/customers', { id, name: id, currency: 'USD' });
      await liveCall('POST', `/v1/customers/${id}/credits`, { amount: '10.00' });
      expect((await liveCall('POST', '/v1/subscriptions', { customer: id, plan: 'units', start_date: iso(begun) })).status).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    await stack?.pool.close();
    await live?.stop();
  });

  it('refuses a level that is not a decimal at or above zero, and an unknown customer', async () => {
    for (const level of ['-1', '1e3', 5, '']) expect((await liveCall('PUT', '/v1/customers/pre/balance_alerts', { low_balance_threshold: level })).status, String(level)).toBe(400);
    expect((await liveCall('PUT', '/v1/customers/nobody/balance_alerts', { low_balance_threshold: '1' })).status).toBe(404);
    expect((await liveCall('GET', '/v1/customers/pre/balance_alerts')).body).toEqual({ customer: 'pre', low_balance_threshold: null, fired: [] });
    // Finer than the currency's cents: refused, naming the field.
    const fine = await liveCall('PUT', '/v1/customers/pre/balance_alerts', { low_balance_threshold: '0.001' });
    expect(fine.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'low_balance_threshold' });
  });

  it('removes a level with null', async () => {
    expect((await liveCall('PUT', '/v1/customers/unwatched/balance_alerts', { low_balance_threshold: '1.00' })).body).toMatchObject({ low_balance_threshold: '1' });
    expect((await liveCall('PUT', '/v1/customers/unwatched/balance_alerts', { low_balance_threshold: null })).body).toEqual({ customer: 'unwatched', low_balance_threshold: null, fired: [] });
    expect((await liveCall('GET', '/v1/customers/unwatched/balance_alerts')).body.low_balance_threshold).toBeNull();
  });

  it('fire once per period each: low at the level, depleted at exactly zero; not without a level', async () => {
    expect((await liveCall('PUT', '/v1/customers/pre/balance_alerts', { low_balance_threshold: '3.00' })).body).toMatchObject({ low_balance_threshold: '3', fired: [] });
    await spend('pre', '5');
    expect(await events()).toEqual([]);
    await spend('pre', '2'); // 3.00 left: the level
    expect(await events()).toEqual(['balance.low pre 3.00 3']);
    await spend('pre', '1');
    await stack.rater.runOnce();
    expect(await events()).toEqual(['balance.low pre 3.00 3']);
    await spend('pre', '2'); // 10.00 spent: exactly zero
    expect((await liveCall('GET', '/v1/customers/pre/balance')).body).toMatchObject({ credit: '10.00', spend: '10.00', balance: '0.00' });
    expect(await events()).toEqual(['balance.low pre 3.00 3', 'balance.depleted pre 0.00 0']);
    await spend('pre', '1');
    expect(await events()).toHaveLength(2);
    // Without a level, a customer below zero gets neither.
    await spend('unwatched', '12');
    expect((await liveCall('GET', '/v1/customers/unwatched/balance')).body.balance).toBe('-2.00');
    expect(await events()).toHaveLength(2);
    const fired = (await liveCall('GET', '/v1/customers/pre/balance_alerts')).body.fired as { kind: string; period_start: string; balance: string }[];
    expect(fired.map((f) => [f.kind, f.balance]).sort()).toEqual([
      ['depleted', '0'],
      ['low', '3'],
    ]);
  });
});
