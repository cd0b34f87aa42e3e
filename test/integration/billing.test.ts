import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { RetrySet } from '../../core/retry-set.js';
import { period } from '../../catalog/periods.js';
import { SubscriptionService } from '../../catalog/subscriptions.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';

/**
 * Events in → hourly rollups → rated usage → upcoming → close → invoices, with the numbers
 * worked out by hand. The subscription started 75 days ago (midnight UTC), so its first two
 * monthly periods have ended and the third is open.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;
const start = new Date(Math.floor((Date.now() - 75 * DAY) / DAY) * DAY);
const p0 = period(start, 'month', 0);
const p1 = period(start, 'month', 1);
const p2 = period(start, 'month', 2);
const change = new Date((p1.start.getTime() + p1.end.getTime()) / 2);
const iso = (ms: number) => new Date(ms).toISOString();

interface Invoice {
  period_start: string;
  total: string;
  lines: { type: string; meter: string | null; quantity: string | null; amount: string; description: string; adjusts_period_start?: string }[];
}

let api: TestApi;
let t: { id: string; key: string; auth: Record<string, string> };
let stack: RatingStack;
let subId: string;

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

let seq = 0;
async function usage(meter: string, value: string, at: number) {
  const r = await call('POST', '/v1/events', { id: `e${++seq}`, customer: 'acme', meter, value, timestamp: iso(at) });
  expect(r.body, JSON.stringify(r.body)).toMatchObject({ accepted: 1 });
}

const graduated = (price: string) => ({ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '100000', unit_price: '0' }, { up_to: null, unit_price: price }] });
const storage = { meter: 'storage_gb', model: 'per_unit', unit_price: '0.08', included: '1000', minimum: '5' };

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(200 * 86_400), TALLY_CLOSE_GRACE_SECONDS: '3600' } });
  t = await api.tenant('billing');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/meters', { key: 'storage_gb', name: 'Storage', aggregation: 'max' });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
  expect((await call('POST', '/v1/plans', { code: 'starter', name: 'Starter', currency: 'USD', interval: 'month', base_fee: '49.00', charges: [graduated('0.0008'), storage] })).status).toBe(201);
  expect((await call('POST', '/v1/plans', { code: 'pro', name: 'Professional', currency: 'USD', interval: 'month', base_fee: '199.00', charges: [graduated('0.0005'), storage] })).status).toBe(201);
  const sub = await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'starter', start_date: start.toISOString() });
  expect(sub.status).toBe(201);
  subId = sub.body.id;
  // The upgrade happened in the middle of the second period (through the service, to set its instant).
  await new SubscriptionService(api.stores.postgres).change(t.id, subId, { plan: 'pro', prorate: true, at: 'now' }, 'test', change);

  // Period 0: 150,000 calls (50,000 above the free tier at 0.0008 = 40), storage peaks at 1,500 GB (500 billable at 0.08 = 40).
  await usage('api_calls', '100000', p0.start.getTime() + DAY);
  await usage('api_calls', '50000', p0.start.getTime() + 2 * DAY);
  await usage('storage_gb', '1500', p0.start.getTime() + 3 * DAY);
  // Period 1: 120,000 calls on Starter (20,000 x 0.0008 = 16), then 130,000 on Professional (30,000 x 0.0005 = 15); no storage (minimum 5).
  await usage('api_calls', '120000', p1.start.getTime() + DAY);
  await usage('api_calls', '130000', change.getTime() + 2 * HOUR);
  // Period 2 so far: 200,000 calls on Professional (100,000 x 0.0005 = 50), 2,000 GB (1,000 x 0.08 = 80).
  await usage('api_calls', '200000', Math.max(p2.start.getTime() + HOUR, Date.now() - 2 * HOUR));
  await usage('storage_gb', '2000', Math.max(p2.start.getTime() + HOUR, Date.now() - 2 * HOUR));
  await testAggregator(api).runOnce();
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

const usageLine = (planName: string, code: string, quantity: string, amount: string, meter: string, from: Date, to: Date, model: string) => ({
  type: 'usage',
  meter,
  quantity,
  amount,
  description: `${meter} on ${planName} (${model}), ${iso(from.getTime()).slice(0, 10)} to ${iso(to.getTime()).slice(0, 10)}`,
  plan: { code, version: 1 },
  period: { start: from.toISOString(), end: to.toISOString() },
  pricing: expect.objectContaining({ model, billable: expect.any(String) }),
});

describe('upcoming invoice', () => {
  it('rates the open period so far, in the invoice shape', async () => {
    const r = await call('GET', `/v1/subscriptions/${subId}/upcoming`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: null,
      subscription: subId,
      customer: 'acme',
      currency: 'USD',
      period_start: p2.start.toISOString(),
      period_end: p2.end.toISOString(),
      status: 'draft',
      subtotal: '329.00',
      discount: '0.00',
      tax: '0.00',
      total: '329.00',
      stripe_invoice_id: null,
    });
    expect(r.body.lines).toEqual([
      expect.objectContaining({ type: 'base_fee', amount: '199.000000', plan: { code: 'pro', version: 1 } }),
      usageLine('Professional', 'pro', '200000', '50.000000', 'api_calls', p2.start, p2.end, 'graduated'),
      usageLine('Professional', 'pro', '2000', '80.000000', 'storage_gb', p2.start, p2.end, 'per_unit'),
    ]);
  });

  it('answers 404 for an unknown subscription and for another tenant’s', async () => {
    expect((await call('GET', '/v1/subscriptions/sub_nope/upcoming')).body.error.code).toBe('TALLY_ERR_NOT_FOUND');
    const other = await api.tenant('other');
    const res = await fetch(`${api.url}/v1/subscriptions/${subId}/upcoming`, { headers: other.auth });
    expect(res.status).toBe(404);
  });
});

describe('period close', () => {
  it('closes only periods that ended more than the grace period ago', async () => {
    const r = await stack.billing.close(new Date(p0.end.getTime() + 30 * 60_000));
    expect(r.invoices).toBe(0);
    expect((await call('GET', `/v1/invoices?subscription=${subId}`)).body.data).toEqual([]);
  });

  it('waits while a meter the plan charges has no hourly usage built yet (its backfill pending)', async () => {
    const pg = api.stores.postgres;
    const { rows } = await pg.query<{ b: Date }>("SELECT backfilled_through AS b FROM meters WHERE tenant_id = $1 AND key = 'storage_gb'", [t.id]);
    await pg.query("UPDATE meters SET backfilled_through = NULL WHERE tenant_id = $1 AND key = 'storage_gb'", [t.id]);
    try {
      const r = await stack.billing.close(new Date(p0.end.getTime() + 2 * HOUR));
      expect(r).toEqual({ invoices: 0, adjustments: 0, waiting: 1 });
      expect((await call('GET', `/v1/invoices?subscription=${subId}`)).body.data).toEqual([]);
    } finally {
      await pg.query("UPDATE meters SET backfilled_through = $2 WHERE tenant_id = $1 AND key = 'storage_gb'", [t.id, rows[0]!.b]);
    }
  });

  it('waits while a meter the plan charges is set aside by the aggregator from before the period ended', async () => {
    // The aggregator's watermark has moved on, but this meter's recompute failed: its hourly
    // usage is complete only up to the instant its events wait from.
    const retries = new RetrySet(api.stores.postgres, 'aggregator');
    const item = { tenantId: t.id, item: 'storage_gb', since: p0.end.getTime() - HOUR };
    await retries.add([item]);
    try {
      const r = await stack.billing.close(new Date(p0.end.getTime() + 2 * HOUR));
      expect(r).toEqual({ invoices: 0, adjustments: 0, waiting: 1 });
      expect((await call('GET', `/v1/invoices?subscription=${subId}`)).body.data).toEqual([]);
    } finally {
      await retries.done([item]);
    }
  });

  it('invoices the first period: base fee and usage (a meter set aside from its end on, or one the plan does not charge, does not hold it)', async () => {
    const retries = new RetrySet(api.stores.postgres, 'aggregator');
    const aside = [
      { tenantId: t.id, item: 'storage_gb', since: p0.end.getTime() },
      { tenantId: t.id, item: 'not_charged', since: p0.start.getTime() },
    ];
    await retries.add(aside);
    let r;
    try {
      r = await stack.billing.close(new Date(p0.end.getTime() + 2 * HOUR));
    } finally {
      await retries.done(aside);
    }
    expect(r).toEqual({ invoices: 1, adjustments: 0, waiting: 0 });
    const list = await call('GET', `/v1/invoices?subscription=${subId}`);
    expect(list.body.data).toHaveLength(1);
    const inv = list.body.data[0];
    expect(inv).toMatchObject({ subscription: subId, period_start: p0.start.toISOString(), period_end: p0.end.toISOString(), status: 'open', subtotal: '129.00', total: '129.00' });
    expect((inv as Invoice).lines.map((l) => [l.type, l.meter, l.quantity, l.amount])).toEqual([
      ['base_fee', null, null, '49.000000'],
      ['usage', 'api_calls', '150000', '40.000000'],
      ['usage', 'storage_gb', '1500', '40.000000'],
    ]);
    expect((await call('GET', `/v1/invoices/${inv.id}`)).body).toEqual(inv);
  });

  it('changes nothing when closing again', async () => {
    const r = await stack.billing.close(new Date(p0.end.getTime() + 2 * HOUR));
    expect(r.invoices).toBe(0);
    expect((await call('GET', `/v1/invoices?subscription=${subId}`)).body.data).toHaveLength(1);
  });

  it('bills late usage of a closed period as an adjustment on the next invoice; splits the upgraded period', async () => {
    // 10,000 more calls in period 0, arriving after it was invoiced: 10,000 x 0.0008 = 8.
    await usage('api_calls', '10000', p0.start.getTime() + 5 * DAY);
    await testAggregator(api).runOnce();
    const r = await stack.billing.close(new Date(p1.end.getTime() + 2 * HOUR));
    expect(r).toEqual({ invoices: 1, adjustments: 1, waiting: 0 });
    const inv = ((await call('GET', `/v1/invoices?subscription=${subId}`)).body.data as Invoice[]).find((i) => i.period_start === p1.start.toISOString())!;
    expect((inv).lines.map((l) => [l.type, l.meter, l.quantity, l.amount])).toEqual([
      ['base_fee', null, null, '49.000000'],
      ['proration', null, null, '75.000000'],
      ['usage', 'api_calls', '120000', '16.000000'],
      ['usage', 'storage_gb', '0', '0.000000'],
      ['usage', 'api_calls', '130000', '15.000000'],
      ['usage', 'storage_gb', '0', '0.000000'],
      ['minimum', 'storage_gb', null, '5.000000'],
      ['adjustment', 'api_calls', '10000', '8.000000'],
    ]);
    expect(inv.lines[1]?.description).toContain('Starter to Professional');
    expect(inv.lines[7]?.adjusts_period_start).toBe(p0.start.toISOString());
    // 49 + 75 + 16 + 15 + 5 + 8
    expect(inv.total).toBe('168.00');
    // The adjustment is billed once: the open period does not show it again.
    const upcoming = await call('GET', `/v1/subscriptions/${subId}/upcoming`);
    expect((upcoming.body as Invoice).lines.map((l) => l.type)).not.toContain('adjustment');
  });
});

describe('invoices API', () => {
  it('lists by customer and subscription, pages with limit and starting_after, and hides other tenants’ invoices', async () => {
    const all = (await call('GET', '/v1/invoices?customer=acme')).body;
    expect(all.data).toHaveLength(2);
    expect(all.has_more).toBe(false);
    const first = (await call('GET', '/v1/invoices?customer=acme&limit=1')).body;
    expect(first).toMatchObject({ data: [{ id: all.data[0].id }], has_more: true });
    const second = (await call('GET', `/v1/invoices?customer=acme&limit=1&starting_after=${first.data[0].id}`)).body;
    expect(second).toMatchObject({ data: [{ id: all.data[1].id }], has_more: false });
    expect((await call('GET', '/v1/invoices?customer=nobody')).body.data).toEqual([]);
    expect((await call('GET', '/v1/invoices?limit=0')).body.error.code).toBe('TALLY_ERR_INVALID_VALUE');
    expect((await call('GET', '/v1/invoices/in_nope')).status).toBe(404);
    const other = await api.tenant('other-invoices');
    expect((await fetch(`${api.url}/v1/invoices/${all.data[0].id}`, { headers: other.auth })).status).toBe(404);
    expect(((await (await fetch(`${api.url}/v1/invoices`, { headers: other.auth })).json()) as { data: unknown[] }).data).toEqual([]);
  });

  it('has no upcoming invoice for a canceled subscription', async () => {
    await call('POST', '/v1/customers', { id: 'gone', name: 'Gone', currency: 'USD' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'gone', plan: 'starter' })).body;
    expect((await call('GET', `/v1/subscriptions/${sub.id}/upcoming`)).body).toMatchObject({ status: 'draft', total: '54.00' }); // 49 + the storage minimum of 5
    await call('POST', `/v1/subscriptions/${sub.id}/cancel`, { at_period_end: false });
    const r = await call('GET', `/v1/subscriptions/${sub.id}/upcoming`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('TALLY_ERR_NO_UPCOMING_INVOICE');
  });
});

describe('hourly rated usage', () => {
  it('sums exactly to every segment’s amount', async () => {
    await stack.rater.rateRange(start, new Date());
    const rs = await api.stores.clickhouse.client.query({
      query: `SELECT meter, plan_code, toString(sum(amount)) AS amount, toString(argMax(quantity, hour)) AS quantity, count() AS hours
              FROM ${api.stores.clickhouse.table('rated_usage_v1')} FINAL WHERE subscription_id = {s:String}
              GROUP BY meter, plan_code, segment_start ORDER BY segment_start, meter`,
      query_params: { s: subId },
      format: 'JSONEachRow',
    });
    const rows = (await rs.json<{ meter: string; plan_code: string; amount: string; quantity: string }>()).map((r) => [r.meter, r.plan_code, r.quantity, r.amount]);
    expect(rows).toEqual([
      ['api_calls', 'starter', '160000', '48'],
      ['storage_gb', 'starter', '1500', '40'],
      ['api_calls', 'starter', '120000', '16'],
      ['api_calls', 'pro', '130000', '15'],
      ['api_calls', 'pro', '200000', '50'],
      ['storage_gb', 'pro', '2000', '80'],
    ]);
  });
});
