import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';

/**
 * A period's usage is a sum of events, so at the highest price a plan takes it can rate past
 * what invoices hold (Decimal(38, 6), below 10^32). That subscription is refused by name (the
 * rater sets it aside, the upcoming invoice answers 409) and every other is rated as ever.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 3 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
const subs: Record<string, string> = {};
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('bounds');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/meters', { key: 'units', name: 'Units', aggregation: 'sum' });
  await call('POST', '/v1/plans', { code: 'dear', name: 'Dear', currency: 'USD', interval: 'month', charges: [{ meter: 'units', model: 'per_unit', unit_price: '999999999999' }] });
  for (const c of ['huge', 'fine']) {
    await call('POST', '/v1/customers', { id: c, name: c, currency: 'USD' });
    subs[c] = (await call('POST', '/v1/subscriptions', { customer: c, plan: 'dear', start_date: start.toISOString() })).body.id as string;
  }
  // 1,000 events at the largest value an event takes: 10^23 units in the period.
  const at = new Date(start.getTime() + DAY + 3_600_000).toISOString();
  const events = Array.from({ length: 1000 }, (_, i) => ({ id: `h${i}`, customer: 'huge', meter: 'units', value: '99999999999999999999.999999', timestamp: at }));
  events.push({ id: 'f1', customer: 'fine', meter: 'units', value: '2', timestamp: at });
  expect((await call('POST', '/v1/events', events)).body).toMatchObject({ accepted: 1001 });
  await api.drain();
  await testAggregator(api).runOnce();
}, 120_000);
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('usage that rates past what invoices hold', () => {
  it('sets that subscription aside and rates the others', async () => {
    const r = await stack.rater.runOnce();
    expect(r.setAside).toBe(1);
    const rated = await api.stores.clickhouse.client.query({
      query: `SELECT subscription_id AS s, toString(max(amount)) AS amount FROM ${api.stores.clickhouse.table('rated_usage_v1')} FINAL WHERE tenant_id = {t:String} GROUP BY s`,
      query_params: { t: t.id },
      format: 'JSONEachRow',
    });
    expect(await rated.json()).toEqual([{ s: subs.fine, amount: '1999999999998' }]);
  });

  it('the upcoming invoice names the meter with a 409, and the other subscription has its own', async () => {
    const huge = await call('GET', `/v1/subscriptions/${subs.huge}/upcoming`);
    expect(huge.status).toBe(409);
    expect(huge.body.error).toMatchObject({ code: 'TALLY_ERR_AMOUNT_OUT_OF_RANGE', field: 'meter', message: expect.stringContaining('units') });
    const fine = await call('GET', `/v1/subscriptions/${subs.fine}/upcoming`);
    expect(fine.status).toBe(200);
    expect(fine.body.total).toBe('1999999999998.00');
  });
});
