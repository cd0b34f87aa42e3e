import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';

/**
 * Usage alerts: 75, 90 and 100 % of a charge's included quantity by default, plus amounts of
 * spend; each threshold fires once per period as soon as the rated usage reaches it — whatever
 * the number of rating runs, concurrent or after a restart — as a `usage.threshold_reached`
 * webhook event.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;
const start = new Date(Math.floor((Date.now() - 20 * DAY) / DAY) * DAY);
const p0 = period(start, 'month', 0);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let subId: string;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
let seq = 0;

async function usage(value: string, hour: number): Promise<void> {
  const r = await call('POST', '/v1/events', { id: `a${++seq}`, customer: 'acme', meter: 'api_calls', value, timestamp: new Date(p0.start.getTime() + hour * HOUR).toISOString() });
  expect(r.status).toBe(202);
  await testAggregator(api).runOnce();
}

interface Fired {
  meter: string | null;
  threshold: { kind: string; value: string };
  quantity: string | null;
  amount: string;
}
async function fired(): Promise<Fired[]> {
  const events = (await call('GET', '/v1/webhook_events?type=usage.threshold_reached&limit=500')).body.data as { data: Fired & { subscription: string } }[];
  return events
    .filter((e) => e.data.subscription === subId)
    .map((e) => e.data)
    .reverse();
}
const summary = (f: Fired[]) => f.map((x) => `${x.meter ?? '*'} ${x.threshold.kind} ${x.threshold.value}`);

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(60 * 86_400) } });
  t = await api.tenant('alerts');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
  await call('POST', '/v1/plans', { code: 'metered', name: 'Metered', currency: 'USD', interval: 'month', charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.01', included: '1000' }] });
  subId = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'metered', start_date: start.toISOString() })).body.id as string;
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('usage alerts', () => {
  it('fire 75 %, then 90 % and 100 % of the included quantity, each once, as usage reaches them', async () => {
    await usage('700', 1);
    await stack.rater.runOnce();
    expect(await fired()).toEqual([]);
    await usage('50', 2); // 750: exactly 75 %
    await stack.rater.runOnce();
    expect(summary(await fired())).toEqual(['api_calls included_percent 75']);
    await usage('300', 3); // 1050: past 90 % and 100 % in one step
    await stack.rater.runOnce();
    const all = await fired();
    expect(summary(all).sort()).toEqual(['api_calls included_percent 100', 'api_calls included_percent 75', 'api_calls included_percent 90']);
    expect(all.find((f) => f.threshold.value === '100')).toMatchObject({ quantity: '1050', amount: '0.500000' });
    // More usage and more runs: nothing fires again.
    await usage('10', 4);
    await stack.rater.runOnce();
    await stack.rater.runOnce();
    expect(await fired()).toHaveLength(3);
  });

  it('fire a threshold once when rating runs concurrently and after a restart', async () => {
    expect((await call('PUT', `/v1/subscriptions/${subId}/alerts`, { spend: [{ meter: 'api_calls', amount: '2.00' }, { amount: '3' }] })).status).toBe(200);
    await usage('200', 5); // 1260 calls: 2.60 of spend
    // Two rating runs at once (a second stack is a second process's rater), then a "restarted" one.
    const other = createRatingStack(api.stores.config, api.stores, createRegistry());
    try {
      await api.stores.postgres.query("UPDATE aggregator_state SET watermark = 'epoch' WHERE name = 'rater'");
      await Promise.all([stack.rater.runOnce(), other.rater.runOnce()]);
      await api.stores.postgres.query("UPDATE aggregator_state SET watermark = 'epoch' WHERE name = 'rater'");
      await other.rater.runOnce();
    } finally {
      await other.pool.close();
    }
    const spend = (await fired()).filter((f) => f.threshold.kind === 'spend');
    expect(spend).toEqual([{ ...spend[0], meter: 'api_calls', threshold: { kind: 'spend', value: '2' }, quantity: '1260', amount: '2.600000' }]);
    const { rows } = await api.stores.postgres.query<{ n: string }>('SELECT count(*)::text AS n FROM alert_firings WHERE tenant_id = $1', [t.id]);
    expect(rows[0]!.n).toBe('4');

    await usage('100', 6); // 3.60 over all charges
    await stack.rater.runOnce();
    expect(summary((await fired()).filter((f) => f.threshold.kind === 'spend'))).toEqual(['api_calls spend 2', '* spend 3']);
  });

  it('show the settings and what fired this period', async () => {
    const r = await call('GET', `/v1/subscriptions/${subId}/alerts`);
    expect(r.body).toMatchObject({ subscription: subId, included_percents: ['75', '90', '100'], spend: [{ meter: 'api_calls', amount: '2' }, { meter: null, amount: '3' }] });
    expect((r.body.fired as unknown[]).length).toBe(5);
  });

  it.each([
    ['a percentage of zero', { included_percents: ['0'] }, 'included_percents[0]'],
    ['a percentage as a number', { included_percents: [75] }, 'included_percents[0]'],
    ['a negative amount', { spend: [{ amount: '-1' }] }, 'spend[0].amount'],
    ['an unknown field', { thresholds: [] }, 'thresholds'],
  ])('refuse %s', async (_name, body, field) => {
    const r = await call('PUT', `/v1/subscriptions/${subId}/alerts`, body);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
  });

  it('take a spend meter by the meter key rule, and only one the plan charges for', async () => {
    const long = `m${'x'.repeat(99)}`; // 100 characters: a meter key may have 128
    expect((await call('POST', '/v1/meters', { key: long, name: 'Long', aggregation: 'sum' })).status).toBe(201);
    expect((await call('POST', '/v1/meters', { key: 'storage', name: 'Storage', aggregation: 'sum' })).status).toBe(201);
    await call('POST', '/v1/customers', { id: 'keys', name: 'Keys', currency: 'USD' });
    await call('POST', '/v1/plans', { code: 'long', name: 'Long', currency: 'USD', interval: 'month', charges: [{ meter: long, model: 'per_unit', unit_price: '0.01' }] });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'keys', plan: 'long', start_date: start.toISOString() })).body.id as string;
    const put = (spend: unknown) => call('PUT', `/v1/subscriptions/${sub}/alerts`, { spend });

    const ok = await put([{ meter: long, amount: '5' }]);
    expect(ok.status).toBe(200);
    expect(ok.body.spend).toEqual([{ meter: long, amount: '5' }]);
    for (const [spend, code, field] of [
      [[{ meter: 'bad key!! é', amount: '5' }], 'TALLY_ERR_INVALID_VALUE', 'spend[0].meter'],
      [[{ meter: `m${'x'.repeat(128)}`, amount: '5' }], 'TALLY_ERR_INVALID_VALUE', 'spend[0].meter'],
      [[{ meter: '', amount: '5' }], 'TALLY_ERR_INVALID_VALUE', 'spend[0].meter'],
      // A meter that exists but the plan does not charge for, and one that does not exist.
      [[{ meter: 'storage', amount: '5' }], 'TALLY_ERR_METER_NOT_FOUND', 'spend[0].meter'],
      [[{ meter: long, amount: '5' }, { meter: 'nope', amount: '1' }], 'TALLY_ERR_METER_NOT_FOUND', 'spend[1].meter'],
    ] as const) {
      const r = await put(spend);
      expect(r.status, JSON.stringify(spend)).toBe(400);
      expect(r.body.error, JSON.stringify(spend)).toMatchObject({ code, field });
    }
    expect((await call('GET', `/v1/subscriptions/${sub}/alerts`)).body.spend).toEqual([{ meter: long, amount: '5' }]);
  });

  it('are another tenant’s business only', async () => {
    const other = await api.tenant('alerts-other');
    expect((await jsonRequest(api.url, other.auth, 'GET', `/v1/subscriptions/${subId}/alerts`)).status).toBe(404);
    expect((await jsonRequest(api.url, other.auth, 'PUT', `/v1/subscriptions/${subId}/alerts`, { included_percents: [] })).status).toBe(404);
  });
});

describe('alert firings of ended periods', () => {
  it('are deleted once their period must have ended (it started over 367 days ago); the rest stay', async () => {
    const pg = api.stores.postgres;
    const at = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY);
    for (const daysAgo of [368, 366]) {
      await pg.query(
        `INSERT INTO alert_firings (tenant_id, subscription_id, period_start, meter, kind, threshold, quantity, amount) VALUES ($1, $2, $3, 'api_calls', 'included_percent', 75, 750, 0)`,
        [t.id, subId, at(daysAgo)],
      );
    }
    const before = (await call('GET', `/v1/subscriptions/${subId}/alerts`)).body.fired as unknown[];
    expect(before.length).toBeGreaterThan(0);
    const count = async () => Number((await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM alert_firings WHERE tenant_id = $1', [t.id])).rows[0]!.n);
    const total = await count();

    expect(await stack.pruneAlerts(Date.now())).toBe(1);
    expect(await count()).toBe(total - 1);
    const left = await pg.query<{ period_start: Date }>('SELECT period_start FROM alert_firings WHERE tenant_id = $1 AND period_start < $2', [t.id, at(300)]);
    expect(left.rows.map((r) => Math.round((Date.now() - r.period_start.getTime()) / DAY))).toEqual([366]);
    // The running period's firings are untouched.
    expect((await call('GET', `/v1/subscriptions/${subId}/alerts`)).body.fired).toEqual(before);
    expect(await stack.pruneAlerts(Date.now())).toBe(0);
  });
});
