import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { meterEventName } from '../../stripe/meter-usage.js';
import { startStripeFake, type StripeFake } from '../../stripe-fake/index.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';
import { testSync } from '../support/sync.js';

/**
 * Meter keys may be 128 characters, Stripe's meter names and event identifiers at most 100: two
 * long keys that differ only at the end reach Stripe as two meters, each summing exactly to
 * its rated quantity. (The local Stripe server refuses longer names as Stripe does.)
 */
const HOUR = 3_600_000;
const start = new Date(Math.floor((Date.now() - 2 * 86_400_000) / HOUR) * HOUR);
const keyA = `${'storage.bytes.'.repeat(9).slice(0, 126)}-a`;
const keyB = `${keyA.slice(0, 126)}-b`;

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let fake: StripeFake;
let stack: RatingStack;

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 100_000 });
  api = await startTestApi();
  t = await api.tenant('long-keys');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  for (const key of [keyA, keyB]) expect((await call('POST', '/v1/meters', { key, name: key.slice(-8), aggregation: 'sum' })).status).toBe(201);
  await call('POST', '/v1/customers', { id: 'c1', name: 'One', currency: 'USD' });
  const plan = await call('POST', '/v1/plans', {
    code: 'usage', name: 'Usage', currency: 'USD', interval: 'month', billing_mode: 'meter',
    charges: [keyA, keyB].map((meter) => ({ meter, model: 'per_unit', unit_price: '0.001' })),
  });
  expect(plan.status).toBe(201);
  expect((await call('POST', '/v1/subscriptions', { customer: 'c1', plan: 'usage', start_date: start.toISOString() })).status).toBe(201);
  let seq = 0;
  for (const [meter, value] of [[keyA, '7'], [keyB, '11.5'], [keyA, '1']] as const) {
    const at = new Date(start.getTime() + ++seq * HOUR + 60_000).toISOString();
    expect((await call('POST', '/v1/events', { id: `e${seq}`, customer: 'c1', meter, value, timestamp: at })).status).toBe(202);
  }
  await testAggregator(api).runOnce();
  await stack.rater.runOnce();
});
afterAll(async () => {
  await stack?.pool.close();
  await fake?.close();
  await api?.stop();
});

it('push usage of two 128-character meter keys to two Stripe meters, each exact', async () => {
  await testSync(api, fake.url, { timeoutMs: 300, meters: true }).runOnce();
  const events = fake.state.meterEvents();
  expect(events).toHaveLength(3);
  expect(events.every((e) => e.identifier.length <= 100 && e.event_name.length <= 100)).toBe(true);
  const { rows } = await api.stores.postgres.query<{ stripe_customer_id: string }>("SELECT stripe_customer_id FROM customers WHERE id = 'c1'");
  const customer = rows[0]!.stripe_customer_id;
  expect(meterEventName(t.id, keyA)).not.toBe(meterEventName(t.id, keyB));
  expect(fake.state.meterTotal(meterEventName(t.id, keyA), customer)).toBe(8_000_000n);
  expect(fake.state.meterTotal(meterEventName(t.id, keyB), customer)).toBe(11_500_000n);
});
