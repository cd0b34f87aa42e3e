import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';

/**
 * Subscription dates the stores cannot hold. A start in year 1 used to be accepted, and then
 * every rating run failed (negative epoch seconds into a UInt32 parameter) for every tenant,
 * for good. Such dates are refused where they come in; and one already stored (written here
 * straight into Postgres) is set aside by the rater and close while every other subscription
 * is rated and invoiced.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);
const p0 = period(start, 'month', 0);

let api: TestApi;
let a: { id: string; auth: Record<string, string> };
let b: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let registry: ReturnType<typeof createRegistry>;

async function failures(loop: string): Promise<number> {
  const metric = await registry.getSingleMetric('tally_loop_item_failures_total')!.get();
  return metric.values.find((v) => v.labels.loop === loop)?.value ?? 0;
}

async function setUp(t: { auth: Record<string, string> }) {
  const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10.00', charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.01' }] });
}

beforeAll(async () => {
  api = await startTestApi();
  a = await api.tenant('poisoned');
  b = await api.tenant('healthy');
  await setUp(a);
  await setUp(b);
  registry = createRegistry();
  stack = createRatingStack(api.stores.config, api.stores, registry);
});
afterAll(async () => {
  await stack?.pool.close();
  await api?.stop();
});

describe('subscription dates', () => {
  const years = (n: number) => new Date(Date.now() - n * 365 * DAY).toISOString();

  it.each([
    ['in year 1', '0001-01-01T00:00:00Z'],
    ['before 1970', '1969-12-31T23:59:59Z'],
    ['at 1970, beyond the import horizon', '1970-01-01T00:00:00Z'],
    ['six years back, beyond the import horizon', years(6)],
    ['in year 9999', '9999-12-31T23:59:59Z'],
  ])('refuses a start date %s with 400 naming start_date', async (_what, startDate) => {
    const r = await jsonRequest(api.url, a.auth, 'POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: startDate });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'start_date' });
  });

  it('accepts a start backdated within the horizon (four years)', async () => {
    const c = await api.tenant('importer');
    await setUp(c);
    const r = await jsonRequest(api.url, c.auth, 'POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: years(4), trial_days: 0 });
    expect(r.status).toBe(201);
    // Out of the way of the runs below.
    await api.stores.postgres.query('DELETE FROM subscription_plans WHERE tenant_id = $1', [c.id]);
    await api.stores.postgres.query('DELETE FROM subscriptions WHERE tenant_id = $1', [c.id]);
  });
});

describe('a subscription stored with a start in year 1', () => {
  let good: string;

  beforeAll(async () => {
    // Tenant A's poisoned subscription, as an older version of Tally stored it.
    const bad = new Date('0001-01-01T00:00:00Z');
    await api.stores.postgres.query("INSERT INTO subscriptions (tenant_id, id, customer_id, interval, start_date) VALUES ($1, 'sub_year_one', 'acme', 'month', $2)", [a.id, bad]);
    await api.stores.postgres.query("INSERT INTO subscription_plans (tenant_id, subscription_id, effective_from, plan_code, plan_version) VALUES ($1, 'sub_year_one', $2, 'basic', 1)", [a.id, bad]);
    good = (await jsonRequest(api.url, b.auth, 'POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: start.toISOString(), trial_days: 0 })).body.id;
    const e = await jsonRequest(api.url, b.auth, 'POST', '/v1/events', { id: 'b1', customer: 'acme', meter: 'api_calls', value: '300', timestamp: new Date(Date.now() - 2 * HOUR).toISOString() });
    expect(e.status).toBe(202);
    const old = await jsonRequest(api.url, a.auth, 'POST', '/v1/events', { id: 'a1', customer: 'acme', meter: 'api_calls', value: '5', timestamp: new Date(Date.now() - 2 * HOUR).toISOString() });
    expect(old.status).toBe(202);
    await testAggregator(api).runOnce();
  });

  it('does not stop the rater: the other subscriptions are rated, the bad one is set aside and counted', async () => {
    const r = await stack.rater.runOnce();
    expect(r.setAside).toBe(1);
    expect(await failures('rater')).toBe(1);
    const rs = await api.stores.clickhouse.client.query({
      query: `SELECT toString(max(quantity)) AS q FROM ${api.stores.clickhouse.table('rated_usage_v1')} FINAL WHERE subscription_id = {s:String}`,
      query_params: { s: good },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ q: '300' }]);
  });

  it('is tried again on the next run (kept in the retry set), and set aside again', async () => {
    const r = await stack.rater.runOnce();
    expect(r.setAside).toBe(1);
    expect(await failures('rater')).toBe(2);
  });

  it('does not stop close: the other subscription is invoiced', async () => {
    const r = await stack.billing.close(new Date(p0.end.getTime() + 2 * HOUR));
    expect(r.invoices).toBe(1);
    expect(r.setAside).toBe(1);
    expect(await failures('close')).toBe(1);
    const invoices = await jsonRequest(api.url, b.auth, 'GET', '/v1/invoices');
    expect((invoices.body.data as { subscription: string }[]).map((i) => i.subscription)).toEqual([good]);
  });

  it('still reads, lists and cancels through the API', async () => {
    expect((await jsonRequest(api.url, a.auth, 'GET', '/v1/subscriptions/sub_year_one')).status).toBe(200);
    // It cannot be rated, so it has no upcoming invoice (a 404 saying why, not a 500).
    const upcoming = await jsonRequest(api.url, a.auth, 'GET', '/v1/subscriptions/sub_year_one/upcoming');
    expect(upcoming.status).toBe(404);
    expect(upcoming.body.error).toMatchObject({ code: 'TALLY_ERR_NO_UPCOMING_INVOICE', field: 'start_date' });
    expect((await jsonRequest(api.url, a.auth, 'GET', '/v1/subscriptions')).status).toBe(200);
    expect((await jsonRequest(api.url, a.auth, 'POST', '/v1/subscriptions/sub_year_one/cancel', {})).status).toBe(200);
    expect((await stack.rater.runOnce()).setAside).toBe(1);
  });
});
