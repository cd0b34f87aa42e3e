import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { createRegistry, loopMetrics } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { Aggregator, aggregatorMetrics } from '../../metering/aggregator.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { stripeGateway } from '../../stripe/gateway.js';
import { syncMetrics } from '../../stripe/metrics.js';
import { WriteLimiter } from '../../stripe/rate-limit.js';
import { BillingSync } from '../../stripe/sync.js';
import { startStripeFake, type StripeFake } from '../../stripe-fake/index.js';
import { faultySink, type SinkControl } from '../support/faulty-sink.js';
import { readFileSync } from 'node:fs';
import { WebhookDispatcher } from '../../webhooks/dispatcher.js';
import { webhookMetrics } from '../../webhooks/metrics.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

/**
 * Blast radius: tenant A's poisoned data — a subscription stored with a start in year 1, one on
 * a plan whose meter is gone, usage-alert settings that cannot be read, a Stripe customer that
 * Stripe does not know, webhook receivers that never answer, and an event the store refuses —
 * while tenant B's events are counted, its periods closed, its invoices synced to Stripe and its
 * webhooks delivered, each in the same runs as A's failures, and without waiting out A's
 * receivers. The per-loop failure counter
 * shows A's failures.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);
const p0 = period(start, 'month', 0);
const WEBHOOK_TIMEOUT_MS = 4_000;

type Tenant = { id: string; auth: Record<string, string> };
let api: TestApi;
let fake: StripeFake;
let a: Tenant;
let b: Tenant;
let stack: RatingStack;
const registry = createRegistry();
const { itemFailures } = loopMetrics(registry);
const control: SinkControl = { refuseIf: (bytes) => bytes.includes('poison') };

/** A webhook receiver: answers 200, or never answers. */
async function receiver(hang: boolean): Promise<{ url: string; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      received.push((JSON.parse(raw) as { type: string }).type);
      if (!hang) res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let hanging: Awaited<ReturnType<typeof receiver>>;
let healthy: Awaited<ReturnType<typeof receiver>>;

async function failures(): Promise<Record<string, number>> {
  return Object.fromEntries((await itemFailures.get()).values.map((v) => [String(v.labels.loop), v.value]));
}

async function setUp(t: Tenant, customer: Record<string, unknown>) {
  const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
  expect((await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' })).status).toBe(201);
  expect((await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD', ...customer })).status).toBe(201);
  const plan = { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10.00', charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.01' }] };
  expect((await call('POST', '/v1/plans', plan)).status).toBe(201);
  const sub = await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: start.toISOString(), trial_days: 0 });
  expect(sub.status).toBe(201);
  return sub.body.id as string;
}

let subB: string;

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 100_000 });
  api = await startTestApi({ env: { TALLY_WEBHOOK_ALLOW_PRIVATE_URLS: 'true', TALLY_EVENTLOG_SEAL_MS: '50' }, wrapSink: (s) => faultySink(s, control, (f) => readFileSync(f)) });
  a = await api.tenant('poisoned');
  b = await api.tenant('bystander');
  hanging = await receiver(true);
  healthy = await receiver(false);
  // Endpoints first, so the subscriptions' and invoices' events are delivered to them.
  // A has more receivers that hang than the dispatcher has senders.
  for (let i = 0; i < 10; i++) expect((await jsonRequest(api.url, a.auth, 'POST', '/v1/webhook_endpoints', { url: `${hanging.url}?n=${i}` })).status).toBe(201);
  expect((await jsonRequest(api.url, b.auth, 'POST', '/v1/webhook_endpoints', { url: healthy.url })).status).toBe(201);

  // A: a Stripe customer id that Stripe does not know (every invoice of it is refused)...
  const subA = await setUp(a, { stripe_customer_id: 'cus_doesnotexist' });
  subB = await setUp(b, {});
  const pg = api.stores.postgres;
  // Spend alerts for both; A's settings are corrupted in storage (its alert evaluation fails).
  for (const [t, sub] of [[a, subA], [b, subB]] as const) expect((await jsonRequest(api.url, t.auth, 'PUT', `/v1/subscriptions/${sub}/alerts`, { spend: [{ amount: '1.00' }] })).status).toBe(200);
  await pg.query(`UPDATE alert_settings SET spend = '[{"meter": null, "amount": "not a number"}]' WHERE tenant_id = $1`, [a.id]);
  // ...a subscription stored with a start in year 1...
  const yearOne = new Date('0001-01-01T00:00:00Z');
  await pg.query("INSERT INTO subscriptions (tenant_id, id, customer_id, interval, start_date) VALUES ($1, 'sub_year_one', 'acme', 'month', $2)", [a.id, yearOne]);
  await pg.query("INSERT INTO subscription_plans (tenant_id, subscription_id, effective_from, plan_code, plan_version) VALUES ($1, 'sub_year_one', $2, 'basic', 1)", [a.id, yearOne]);
  // ...and one on a plan whose meter is gone (rating it fails, whatever its dates).
  const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, a.auth, method, path, body);
  expect((await call('POST', '/v1/meters', { key: 'gone', name: 'Gone', aggregation: 'sum' })).status).toBe(201);
  expect((await call('POST', '/v1/plans', { code: 'ghostly', name: 'Ghostly', currency: 'USD', interval: 'month', charges: [{ meter: 'gone', model: 'per_unit', unit_price: '1' }] })).status).toBe(201);
  expect((await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'ghostly', start_date: start.toISOString(), trial_days: 0 })).status).toBe(201);
  await pg.query("DELETE FROM meters WHERE tenant_id = $1 AND key = 'gone'", [a.id]);

  stack = createRatingStack({ ...api.stores.config, stripe: { ...api.stores.config.stripe, secretKey: 'sk_test_blast' } }, api.stores, registry);
});
afterAll(async () => {
  await stack?.pool.close();
  await hanging?.close();
  await healthy?.close();
  await fake?.close();
  await api?.stop();
});

describe("one tenant's poisoned data", () => {
  it("does not keep the other tenant's events from being accepted and counted", async () => {
    const at = (ms: number) => new Date(ms).toISOString();
    const [fromA, fromB] = await Promise.all([
      jsonRequest(api.url, a.auth, 'POST', '/v1/events', [
        { id: 'a1', customer: 'acme', meter: 'api_calls', value: '5', timestamp: at(Date.now() - 2 * HOUR) },
        { id: 'poison1', customer: 'acme', meter: 'api_calls', value: '5', timestamp: at(Date.now() - 2 * HOUR) },
      ]),
      jsonRequest(api.url, b.auth, 'POST', '/v1/events', [
        { id: 'b0', customer: 'acme', meter: 'api_calls', value: '100', timestamp: at(p0.start.getTime() + 10 * DAY) },
        { id: 'b1', customer: 'acme', meter: 'api_calls', value: '300', timestamp: at(Date.now() - 2 * HOUR) },
      ]),
    ]);
    expect(fromB).toEqual({ status: 202, body: { accepted: 2, duplicates: 0, rejected: [] } });
    // The store refuses the poisoned event when its segment ships: it is set aside, the rest ships.
    expect(fromA).toEqual({ status: 202, body: { accepted: 2, duplicates: 0, rejected: [] } });
    await api.drain();
    expect(await (await fetch(`${api.url}/metrics`)).text()).toMatch(/^tally_eventlog_rows_refused_total\{reason="INCORRECT_DATA"\} 1$/m);

    const aggregator = new Aggregator({
      ch: api.stores.clickhouse,
      pg: api.stores.postgres,
      meters: pgMeterRepository(api.stores.postgres),
      logger: createLogger(api.stores.config),
      metrics: aggregatorMetrics(registry),
      itemFailures,
      overlapMs: 120_000,
      settleMs: 0,
      leaseSeconds: 5,
    });
    expect((await aggregator.runOnce()).setAside).toBeUndefined();
  });

  it("does not keep the other tenant's usage from being rated (A's bad subscriptions are set aside)", async () => {
    const r = await stack.rater.runOnce();
    expect(r.setAside).toBe(2);
    const rs = await api.stores.clickhouse.client.query({
      query: `SELECT toString(max(quantity)) AS q FROM ${api.stores.clickhouse.table('rated_usage_v1')} FINAL WHERE tenant_id = {t:String} AND subscription_id = {s:String} AND period_start > {p:DateTime64(3, 'UTC')}`,
      query_params: { t: b.id, s: subB, p: p0.start.toISOString().slice(0, 19).replace('T', ' ') },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ q: '300' }]);
    expect((await failures()).rater).toBe(2);
    // B's spend alert fired; A's could not be evaluated.
    const fired = await api.stores.postgres.query<{ tenant_id: string }>('SELECT tenant_id FROM alert_firings');
    expect(fired.rows.map((x) => x.tenant_id)).toEqual([b.id]);
    expect((await failures()).alerts).toBe(1);
  });

  it("does not keep the other tenant's periods from closing", async () => {
    const r = await stack.billing.close(new Date());
    // B's first period and A's healthy subscription's; A's two bad subscriptions are set aside.
    expect(r.invoices).toBe(2);
    expect(r.setAside).toBe(2);
    const invoices = (await jsonRequest(api.url, b.auth, 'GET', '/v1/invoices')).body.data as { subscription: string; total: string; period_start: string }[];
    expect(invoices.map((i) => [i.subscription, i.period_start, i.total])).toEqual([[subB, p0.start.toISOString(), '11.00']]);
    expect((await failures()).close).toBe(2);
  });

  it("does not keep the other tenant's invoices from reaching Stripe", async () => {
    const sync = new BillingSync({
      pg: api.stores.postgres,
      gateway: stripeGateway({ secretKey: 'sk_test_blast', apiBase: fake.url, timeoutMs: 2_000 }),
      limiter: new WriteLimiter(10_000),
      metrics: syncMetrics(registry),
      logger: createLogger(api.stores.config),
      leaseSeconds: 30,
      maxAttempts: 1_000,
      backoff: () => 0,
      itemFailures,
    });
    const r = await sync.runOnce();
    expect(r).toMatchObject({ claimed: 2, done: 1 });
    const { rows } = await api.stores.postgres.query<{ tenant_id: string; synced: boolean }>('SELECT tenant_id, synced_at IS NOT NULL AS synced FROM invoices ORDER BY tenant_id = $1', [b.id]);
    expect(rows.map((x) => [x.tenant_id, x.synced])).toEqual([
      [a.id, false],
      [b.id, true],
    ]);
    expect(fake.state.invoices()).toHaveLength(1);
    expect((await failures()).sync).toBe(1);
  });

  it("does not keep the other tenant's webhooks from being delivered on time", async () => {
    const dispatcher = new WebhookDispatcher({
      pg: api.stores.postgres,
      metrics: webhookMetrics(registry),
      logger: createLogger(api.stores.config),
      owner: 'blast',
      leaseSeconds: 30,
      timeoutMs: WEBHOOK_TIMEOUT_MS,
      allowPrivate: true,
      itemFailures,
    });
    const started = Date.now();
    const r = dispatcher.runOnce();
    // B's events arrive while A's receiver holds a delivery open.
    const expected = (await jsonRequest(api.url, b.auth, 'GET', '/v1/webhook_events?limit=100')).body.data.length as number;
    expect(expected).toBeGreaterThan(0);
    while (healthy.received.length < expected && Date.now() - started < WEBHOOK_TIMEOUT_MS) await new Promise((res) => setTimeout(res, 20));
    expect(healthy.received.length).toBe(expected);
    expect(Date.now() - started).toBeLessThan(WEBHOOK_TIMEOUT_MS);
    const report = await r;
    // A's receivers held half the senders (four) until they timed out; A's other deliveries were put back untried.
    expect(hanging.received).toHaveLength(4);
    expect(report.delivered).toBe(expected);
    expect(Date.now() - started).toBeLessThan(2 * WEBHOOK_TIMEOUT_MS);
    expect((await failures()).deliver).toBe(4);
    const { rows } = await api.stores.postgres.query<{ n: string }>("SELECT count(*)::text AS n FROM webhook_deliveries WHERE tenant_id = $1 AND state = 'pending' AND attempts = 0", [a.id]);
    expect(Number(rows[0]!.n)).toBe(6);
  });

  it('shows every failure in tally_loop_item_failures_total, per loop', async () => {
    expect(await failures()).toEqual({ aggregator: 0, rater: 2, close: 2, sync: 1, dunning: 0, deliver: 4, alerts: 1, entitlements: 0 });
  });
});
