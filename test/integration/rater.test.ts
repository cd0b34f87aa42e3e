import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, loopMetrics } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { SubscriptionService } from '../../catalog/subscriptions.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { Rater } from '../../invoicing/rating-runs.js';
import { raterMetrics } from '../../invoicing/metrics.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { clickhouseUsageQuerier } from '../../metering/usage-querier.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';

/**
 * The incremental rater: `tally rate` keeps the hourly rated usage current as late events
 * arrive and subscriptions change, and a run that finds nothing new changes nothing.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;
const start = new Date(Math.floor((Date.now() - 20 * DAY) / DAY) * DAY);
const p0 = period(start, 'month', 0);
const iso = (ms: number) => new Date(ms).toISOString();

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let subId: string;

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
let seq = 0;
async function usage(value: string, at: number, id = `e${++seq}`) {
  const r = await call('POST', '/v1/events', { id, customer: 'gamma', meter: 'api_calls', value, timestamp: iso(at) });
  expect(r.status).toBe(202);
}

async function rated(): Promise<{ plan: string; hour: string; quantity: string; amount: string }[]> {
  const rs = await api.stores.clickhouse.client.query({
    query: `SELECT plan_code AS plan, toString(hour) AS hour, toString(quantity) AS quantity, toString(amount) AS amount
            FROM ${api.stores.clickhouse.table('rated_usage_v1')} FINAL WHERE subscription_id = {s:String} ORDER BY segment_start, hour`,
    query_params: { s: subId },
    format: 'JSONEachRow',
  });
  return rs.json();
}
const total = (rows: { amount: string }[]) => rows.reduce((s, r) => s + Number(r.amount) * 1e6, 0) / 1e6;

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('rater');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/customers', { id: 'gamma', name: 'Gamma', currency: 'USD' });
  const card = (price: string) => [{ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '1000', unit_price: '0' }, { up_to: null, unit_price: price }] }];
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', charges: card('0.01') });
  await call('POST', '/v1/plans', { code: 'plus', name: 'Plus', currency: 'USD', interval: 'month', charges: card('0.005') });
  subId = (await call('POST', '/v1/subscriptions', { customer: 'gamma', plan: 'basic', start_date: start.toISOString() })).body.id;
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('incremental rating', () => {
  it('rates the hours with usage, the amounts adding up to the period so far', async () => {
    await usage('600', p0.start.getTime() + 2 * HOUR);
    await usage('600', p0.start.getTime() + 5 * HOUR);
    await testAggregator(api).runOnce();
    const r = await stack.rater.runOnce();
    expect(r.periods).toBe(1);
    expect((await rated()).map((x) => [x.quantity, x.amount])).toEqual([
      ['600', '0'],
      ['1200', '2'],
    ]);
  });

  it('rates a late event into its hour and every later cumulative quantity', async () => {
    await usage('500', p0.start.getTime() + 1 * HOUR);
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
    const rows = await rated();
    expect(rows.map((x) => [x.quantity, x.amount])).toEqual([
      ['500', '0'],
      ['1100', '1'],
      ['1700', '6'],
    ]);
    expect(total(rows)).toBe(7); // (1700 - 1000) x 0.01
  });

  it('does not count a resent event twice', async () => {
    await usage('999999', p0.start.getTime() + 3 * HOUR, 'e1');
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
    expect(total(await rated())).toBe(7);
  });

  it('re-rates a subscription whose plan changed, each part on its own plan', async () => {
    const at = new Date(p0.start.getTime() + 4 * HOUR);
    await new SubscriptionService(api.stores.postgres).change(t.id, subId, { plan: 'plus', prorate: false, at: 'now' }, 'test', at);
    await stack.rater.runOnce();
    const rows = await rated();
    // Basic until hour 4: 1100 (100 x 0.01 = 1); its hour-5 row from before the change now adds
    // nothing. Plus from hour 4: 600 (all inside its 1000 free).
    expect(rows.map((x) => [x.plan, x.quantity, x.amount])).toEqual([
      ['basic', '500', '0'],
      ['basic', '1100', '1'],
      ['basic', '1100', '0'],
      ['plus', '600', '0'],
    ]);
    expect(total(rows)).toBe(1);
  });

  it('changes nothing when run again', async () => {
    const before = await rated();
    await stack.rater.runOnce();
    expect(await rated()).toEqual(before);
  });

  it('re-rates a range on request and writes only its hours', async () => {
    const versions = async () => {
      const rs = await api.stores.clickhouse.client.query({
        query: `SELECT toString(hour) AS hour, toString(max(version)) AS v FROM ${api.stores.clickhouse.table('rated_usage_v1')} WHERE subscription_id = {s:String} GROUP BY hour ORDER BY hour`,
        query_params: { s: subId },
        format: 'JSONEachRow',
      });
      return new Map((await rs.json<{ hour: string; v: string }>()).map((x) => [x.hour, x.v]));
    };
    const before = await versions();
    const r = await stack.rater.rateRange(new Date(p0.start.getTime() + 3 * HOUR), new Date(p0.start.getTime() + 6 * HOUR));
    expect(r.periods).toBe(1);
    const after = await versions();
    const changed = [...after].filter(([h, v]) => before.get(h) !== v).map(([h]) => h);
    expect(changed).toEqual([iso(p0.start.getTime() + 5 * HOUR).replace('T', ' ').slice(0, 19)]);
    expect((await rated()).length).toBe(4);
    expect(total(await rated())).toBe(1);
  });
});

describe('rating in batches', () => {
  const subs: string[] = [];
  const everything = async () => {
    const rs = await api.stores.clickhouse.client.query({
      query: `SELECT subscription_id AS s, toString(hour) AS hour, toString(quantity) AS quantity, toString(amount) AS amount
              FROM ${api.stores.clickhouse.table('rated_usage_v1')} FINAL WHERE tenant_id = {t:String} ORDER BY s, segment_start, hour`,
      query_params: { t: t.id },
      format: 'JSONEachRow',
    });
    return rs.json();
  };
  const rater = (ch = api.stores.clickhouse, metrics = stack.metrics) =>
    new Rater({ ch, usage: clickhouseUsageQuerier(ch), pg: api.stores.postgres, pool: stack.pool, meters: pgMeterRepository(api.stores.postgres), metrics, batchSize: 1 });

  beforeAll(async () => {
    for (let i = 0; i < 6; i++) {
      await call('POST', '/v1/customers', { id: `lane${i}`, name: `Lane ${i}`, currency: 'USD' });
      subs.push((await call('POST', '/v1/subscriptions', { customer: `lane${i}`, plan: 'basic', start_date: start.toISOString() })).body.id);
      const r = await call('POST', '/v1/events', { id: `lane-e${i}`, customer: `lane${i}`, meter: 'api_calls', value: String(1000 + 100 * i), timestamp: iso(p0.start.getTime() + (2 + i) * HOUR) });
      expect(r.status).toBe(202);
    }
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
  });

  it('one period per batch, several batches at once: the same rows as one batch', async () => {
    const before = await everything();
    expect(before.length).toBeGreaterThanOrEqual(6);
    const r = await rater().rateRange(p0.start, new Date());
    expect(r.periods).toBeGreaterThanOrEqual(7);
    expect(await everything()).toEqual(before);
  });

  it('a write that fails with the store down fails the run, once every batch in flight has settled', async () => {
    const ch = api.stores.clickhouse;
    let inserts = 0;
    let settledAfterFailure = 0;
    const client = new Proxy(ch.client, {
      get(target, prop, receiver) {
        if (prop !== 'command') return Reflect.get(target, prop, receiver) as unknown;
        return async (params: { query: string }) => {
          if (!params.query.includes('rated_input_v1')) return target.command(params);
          if (++inserts === 2) throw new Error('the store refused the insert');
          const out = await target.command(params);
          if (inserts > 2) settledAfterFailure++;
          return out;
        };
      },
    });
    // The store does not answer a ping either: the failure is not the subscription's.
    const failing = { ...ch, client, table: (n: string) => ch.table(n), ping: () => Promise.reject(new Error('ClickHouse is down')) };
    const metrics = raterMetrics(createRegistry());
    await expect(rater(failing, metrics).rateRange(p0.start, new Date())).rejects.toThrow(/refused the insert/);
    expect(inserts).toBeGreaterThanOrEqual(2);
    expect((await metrics.runs.get()).values.find((v) => v.labels.outcome === 'error')?.value).toBe(1);
    // Nothing is still writing once the run has failed.
    const settled = settledAfterFailure;
    await new Promise((r) => setTimeout(r, 200));
    expect(settledAfterFailure).toBe(settled);
  });

  it('a write refused while the store is up sets that subscription aside; the others are written and the run succeeds', async () => {
    const before = await everything();
    const ch = api.stores.clickhouse;
    const poisoned = subs[2]!;
    const written = new Set<string>();
    const client = new Proxy(ch.client, {
      get(target, prop, receiver) {
        if (prop !== 'command') return Reflect.get(target, prop, receiver) as unknown;
        return (params: { query: string }) => {
          if (params.query.includes('rated_input_v1') && params.query.includes(poisoned)) return Promise.reject(new Error('the store refused the insert'));
          for (const sub of subs) if (params.query.includes('rated_input_v1') && params.query.includes(sub)) written.add(sub);
          return target.command(params);
        };
      },
    });
    const metrics = raterMetrics(createRegistry());
    const registry = createRegistry();
    const { itemFailures } = loopMetrics(registry);
    const writer = { ...ch, client, table: (n: string) => ch.table(n) };
    const r = await new Rater({ ch: writer, usage: clickhouseUsageQuerier(writer), pg: api.stores.postgres, pool: stack.pool, meters: pgMeterRepository(api.stores.postgres), metrics, batchSize: 4, itemFailures }).rateRange(
      p0.start,
      new Date(),
    );
    expect(r.setAside).toBe(1);
    expect([...written].sort()).toEqual(subs.filter((s) => s !== poisoned).sort());
    expect((await itemFailures.get()).values.find((v) => v.labels.loop === 'rater')?.value).toBe(1);
    expect((await metrics.runs.get()).values.find((v) => v.labels.outcome === 'ok')?.value).toBe(1);
    expect(await everything()).toEqual(before);
  });
});
