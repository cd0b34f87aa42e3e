import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRegistry, loopMetrics } from '../../core/metrics.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { meterEventName } from '../../stripe/meter-usage.js';
import { startStripeFake, type StripeFake } from '../../stripe-fake/index.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';
import { testSync } from '../support/sync.js';

/**
 * One tenant's meter pushes that Stripe refuses (its Stripe customer is gone) are set aside
 * and counted; another tenant's usage still reaches its Stripe meter in the same run.
 */
const HOUR = 3_600_000;
const start = new Date(Math.floor((Date.now() - 2 * 86_400_000) / HOUR) * HOUR);

let api: TestApi;
let fake: StripeFake;
let stack: RatingStack;
const tenants: { id: string; auth: Record<string, string> }[] = [];

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 100_000 });
  api = await startTestApi();
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  for (const name of ['poisoned', 'healthy']) {
    const t = await api.tenant(name);
    tenants.push(t);
    const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
    await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
    await call('POST', '/v1/customers', { id: 'c1', name: 'One', currency: 'USD' });
    await call('POST', '/v1/plans', { code: 'usage', name: 'Usage', currency: 'USD', interval: 'month', billing_mode: 'meter', charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.001' }] });
    expect((await call('POST', '/v1/subscriptions', { customer: 'c1', plan: 'usage', start_date: start.toISOString() })).status).toBe(201);
    const at = new Date(start.getTime() + HOUR + 60_000).toISOString();
    expect((await call('POST', '/v1/events', { id: 'e1', customer: 'c1', meter: 'api_calls', value: '5', timestamp: at })).status).toBe(202);
  }
  // The first tenant's customer points at a Stripe customer that does not exist (its
  // subscription comes first: subscriptions are pushed in tenant id order, and ids sort by time).
  await api.stores.postgres.query("UPDATE customers SET stripe_customer_id = 'cus_gone' WHERE tenant_id = $1", [tenants[0]!.id]);
  await testAggregator(api).runOnce();
  await stack.rater.runOnce();
});
afterAll(async () => {
  await stack?.pool.close();
  await fake?.close();
  await api?.stop();
});

it('set a refused subscription aside and push the others', async () => {
  const registry = createRegistry();
  const failures = loopMetrics(registry).itemFailures;
  await testSync(api, fake.url, { timeoutMs: 300, meters: true, itemFailures: failures }).runOnce();
  const { rows } = await api.stores.postgres.query<{ stripe_customer_id: string }>('SELECT stripe_customer_id FROM customers WHERE tenant_id = $1', [tenants[1]!.id]);
  expect(fake.state.meterTotal(meterEventName(tenants[1]!.id, 'api_calls'), rows[0]!.stripe_customer_id)).toBe(5_000_000n);
  expect(fake.state.meterEvents().filter((e) => e.event_name === meterEventName(tenants[0]!.id, 'api_calls'))).toHaveLength(0);
  const counted = (await failures.get()).values.find((v) => v.labels.loop === 'sync')?.value;
  expect(counted).toBe(1);
});
