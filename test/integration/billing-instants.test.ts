import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { SubscriptionService } from '../../catalog/subscriptions.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';

/**
 * Usage is split at exact instants, not at hours: a subscription that starts at 10:37, changes
 * plan at 08:20 and whose period ends at 10:37 bills each event by its own timestamp, for
 * counted meters and for time-weighted gauges alike.
 */
const MIN = 60_000;
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 60 * DAY) / DAY) * DAY + 10 * 3_600_000 + 37 * MIN); // 60 days ago, 10:37 UTC
const p0 = period(start, 'month', 0);
const change = new Date(start.getTime() + 5 * DAY - 2 * 3_600_000 - 17 * MIN); // 08:20, five days in
const iso = (ms: number) => new Date(ms).toISOString();

interface Invoice {
  period_start: string;
  total: string;
  lines: { type: string; meter: string | null; quantity: string | null; amount: string; description: string; adjusts_period_start?: string }[];
}

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let subId: string;

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
let seq = 0;
async function usage(meter: string, value: string, at: number) {
  const r = await call('POST', '/v1/events', { id: `e${++seq}`, customer: 'beta', meter, value, timestamp: iso(at) });
  expect(r.body, JSON.stringify(r.body)).toMatchObject({ accepted: 1 });
}

const calls = (price: string) => ({ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '100000', unit_price: '0' }, { up_to: null, unit_price: price }] });
const disk = { meter: 'disk_gb', model: 'per_unit', unit_price: '1' };

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(200 * 86_400) } });
  t = await api.tenant('instants');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/meters', { key: 'disk_gb', name: 'Disk', aggregation: 'weighted_sum' });
  await call('POST', '/v1/customers', { id: 'beta', name: 'Beta', currency: 'USD' });
  await call('POST', '/v1/plans', { code: 'starter', name: 'Starter', currency: 'USD', interval: 'month', base_fee: '49', charges: [calls('0.0008'), disk] });
  await call('POST', '/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '199', charges: [calls('0.0005'), disk] });
  subId = (await call('POST', '/v1/subscriptions', { customer: 'beta', plan: 'starter', start_date: start.toISOString() })).body.id;
  await new SubscriptionService(api.stores.postgres).change(t.id, subId, { plan: 'pro', prorate: false, at: 'now' }, 'test', change);

  const s = start.getTime();
  const c = change.getTime();
  const e = p0.end.getTime();
  await usage('api_calls', '500000', s - 10 * MIN); // before the subscription: not billed
  await usage('api_calls', '150000', s + 5 * MIN); // Starter
  await usage('api_calls', '100000', c - 5 * MIN); // Starter, the change's hour
  await usage('api_calls', '300000', c + 5 * MIN); // Pro, the same hour
  await usage('api_calls', '100000', e - 5 * MIN); // Pro, the period's last hour
  await usage('api_calls', '1000000', e + 5 * MIN); // the next period, the same hour
  await usage('disk_gb', '10', s - 30 * MIN); // in force when the subscription starts
  await usage('disk_gb', '20', c - 30 * MIN);
  await testAggregator(api).runOnce();
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

/** value x hours over [from, to), half-even to 6 places. */
const gbHours = (value: number, from: number, to: number) => new Dec(value).times(to - from).div(3_600_000).toDecimalPlaces(6, Dec.ROUND_HALF_EVEN);

describe('exact instants', () => {
  it('bill each event in the segment and period its timestamp falls in', async () => {
    const r = await stack.billing.close(new Date(p0.end.getTime() + 2 * 3_600_000));
    expect(r.invoices).toBe(1);
    const [inv] = (await call('GET', `/v1/invoices?subscription=${subId}`)).body.data;
    const s = start.getTime();
    const c = change.getTime();
    const e = p0.end.getTime();
    // Starter: 10 GB from the start until 30 minutes before the change, then 20 GB; Pro: 20 GB to the end.
    const starterDisk = gbHours(10, s, c - 30 * MIN).plus(gbHours(20, c - 30 * MIN, c));
    const proDisk = gbHours(20, c, e);
    expect((inv as Invoice).lines.map((l) => [l.type, l.meter, l.quantity, l.amount])).toEqual([
      ['base_fee', null, null, '49.000000'],
      ['usage', 'api_calls', '250000', '120.000000'],
      ['usage', 'disk_gb', starterDisk.toFixed(), starterDisk.toFixed(6)],
      ['usage', 'api_calls', '400000', '150.000000'],
      ['usage', 'disk_gb', proDisk.toFixed(), proDisk.toFixed(6)],
    ]);
    const total = new Dec(49).plus(120).plus(150).plus(starterDisk).plus(proDisk).toDecimalPlaces(2, Dec.ROUND_HALF_EVEN).toFixed(2);
    expect(inv.total).toBe(total);
  });

  it('write hourly rated rows whose amounts sum to each segment, the split hour once per segment', async () => {
    await stack.rater.rateRange(p0.start, p0.end);
    const rs = await api.stores.clickhouse.client.query({
      query: `SELECT plan_code, toString(sum(amount)) AS amount, countIf(hour = toStartOfHour({c:DateTime64(3, 'UTC')})) AS change_hour_rows
              FROM ${api.stores.clickhouse.table('rated_usage_v1')} FINAL WHERE subscription_id = {s:String} AND meter = 'api_calls'
              GROUP BY plan_code ORDER BY plan_code`,
      query_params: { s: subId, c: iso(change.getTime()).replace('T', ' ').replace('Z', '') },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([
      { plan_code: 'pro', amount: '150', change_hour_rows: '1' },
      { plan_code: 'starter', amount: '120', change_hour_rows: '1' },
    ]);
  });
});
