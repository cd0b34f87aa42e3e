import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { createRegistry } from '../../core/metrics.js';
import { WebhookDispatcher, type DispatcherDeps } from '../../webhooks/dispatcher.js';
import { webhookMetrics } from '../../webhooks/metrics.js';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

/**
 * Outbound webhooks are shared fairly between tenants. Tenant C's receivers are slow but
 * succeed, and C has hundreds of deliveries waiting; tenant D's one delivery, made while C's
 * backlog is being sent, arrives within a few of C's answer times, long before C's backlog is
 * done, because idle senders take it instead of waiting for C's work. A claim never outlives
 * its lease: two dispatchers with a lease shorter than the send never send a delivery twice.
 */
const SLOW_MS = 1_500;
const SLOW_ENDPOINTS = 8;
const CANCELS = 30; // × 8 endpoints: 240 deliveries

type Tenant = { id: string; auth: Record<string, string> };
let api: TestApi;
let slowTenant: Tenant;
let promptTenant: Tenant;

interface Receiver {
  url: string;
  /** `event id endpoint` of each request, in arrival order. */
  received: string[];
  /** The most requests open at once, in all and to one endpoint. */
  peak: { all: number; perEndpoint: number };
  close(): Promise<void>;
}

/** Answers 200 after `delayMs`; endpoints are told apart by the query (`?n=3`). */
async function receiver(delayMs: number): Promise<Receiver> {
  const open = new Map<string, number>();
  let all = 0;
  const r: Receiver = { url: '', received: [], peak: { all: 0, perEndpoint: 0 }, close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    const endpoint = req.url ?? '';
    req.resume();
    req.on('end', () => {
      r.received.push(`${String(req.headers['tally-event-id'])} ${endpoint}`);
      open.set(endpoint, (open.get(endpoint) ?? 0) + 1);
      all++;
      r.peak = { all: Math.max(r.peak.all, all), perEndpoint: Math.max(r.peak.perEndpoint, open.get(endpoint)!) };
      setTimeout(() => {
        open.set(endpoint, open.get(endpoint)! - 1);
        all--;
        res.writeHead(200).end('ok');
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  r.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

const receivers: Receiver[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pending(tenantId: string): Promise<number> {
  const { rows } = await api.stores.postgres.query<{ n: string }>("SELECT count(*)::text AS n FROM webhook_deliveries WHERE tenant_id = $1 AND state = 'pending'", [tenantId]);
  return Number(rows[0]!.n);
}

/** A tenant with `endpoints` endpoints at `url`, a plan and a customer. */
async function setUp(name: string, url: string, endpoints: number): Promise<Tenant> {
  const t = await api.tenant(name);
  const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
  for (let i = 0; i < endpoints; i++) expect((await call('POST', '/v1/webhook_endpoints', { url: `${url}?n=${i}` })).status).toBe(201);
  expect((await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10.00' })).status).toBe(201);
  expect((await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' })).status).toBe(201);
  return t;
}

/** Creates and cancels a subscription: one subscription.canceled event, delivered to every endpoint. */
async function cancelOne(t: Tenant): Promise<string> {
  const sub = await jsonRequest(api.url, t.auth, 'POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' });
  expect(sub.status).toBe(201);
  expect((await jsonRequest(api.url, t.auth, 'POST', `/v1/subscriptions/${sub.body.id}/cancel`, { at_period_end: false })).status).toBe(200);
  const [event] = (await jsonRequest(api.url, t.auth, 'GET', '/v1/webhook_events?type=subscription.canceled&limit=1')).body.data as { id: string }[];
  return event!.id;
}

const dispatcher = (owner: string, o: Partial<DispatcherDeps> = {}) =>
  new WebhookDispatcher({
    pg: api.stores.postgres,
    metrics: webhookMetrics(createRegistry()),
    logger: createLogger(api.stores.config),
    owner,
    leaseSeconds: 30,
    timeoutMs: 4 * SLOW_MS,
    allowPrivate: true,
    concurrency: 8,
    ...o,
  });

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_WEBHOOK_ALLOW_PRIVATE_URLS: 'true' } });
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await api?.stop();
});

describe('outbound webhook delivery between tenants', () => {
  it("sends another tenant's delivery while a slow tenant's backlog is being sent, and refreshes the gauges meanwhile", async () => {
    const slow = await receiver(SLOW_MS);
    const prompt = await receiver(0);
    receivers.push(slow, prompt);
    slowTenant = await setUp('slow', slow.url, SLOW_ENDPOINTS);
    promptTenant = await setUp('prompt', prompt.url, 1);
    for (let i = 0; i < CANCELS; i++) await cancelOne(slowTenant);
    expect(await pending(slowTenant.id)).toBe(CANCELS * SLOW_ENDPOINTS);

    const registry = createRegistry();
    const metrics = webhookMetrics(registry);
    const d = dispatcher('fair', { metrics, gaugeIntervalMs: 500 });
    const stop = new AbortController();
    const run = d.runOnce(undefined, { signal: stop.signal });
    let ended: string | undefined;
    run.then((r) => (ended = `the run ended early: ${JSON.stringify(r)}`), (e: unknown) => (ended = `the run failed: ${String(e)}`));
    /** Waits for `cond` while the run goes on; a run that ended first is the failure, named. */
    const until = async (cond: () => boolean, ms: number) => {
      while (!cond()) {
        if (ended !== undefined) throw new Error(`${ended} (${slow.received.length} sends to C received)`);
        await sleep(ms);
      }
    };
    try {
      // C's backlog is being sent...
      await until(() => slow.received.length > 0, 20);
      // ...when D's one delivery falls due.
      const event = await cancelOne(promptTenant);
      const due = Date.now();
      while (!prompt.received.some((r) => r.startsWith(`${event} `)) && Date.now() - due < 4 * SLOW_MS) await sleep(20);
      expect(prompt.received.map((r) => r.split(' ')[0])).toEqual([event]);
      expect(Date.now() - due).toBeLessThan(4 * SLOW_MS);
      // Long before C's backlog is done (it takes a minute at half the senders).
      expect(await pending(slowTenant.id)).toBeGreaterThan(CANCELS * SLOW_ENDPOINTS - 100);

      // The gauges show the run's progress while it goes on.
      await until(() => slow.received.length >= 12, 50);
      await sleep(700);
      const delivered = (await metrics.deliveries.get()).values.find((v) => v.labels.state === 'delivered');
      expect(delivered?.value).toBeGreaterThanOrEqual(8);
    } finally {
      stop.abort();
    }
    const stopped = Date.now();
    const report = await run;
    // Stopping waits for the sends in flight only, and leaves nothing claimed.
    expect(Date.now() - stopped).toBeLessThan(2 * SLOW_MS);
    expect(report.claimed).toBe(report.delivered);
    const { rows } = await api.stores.postgres.query<{ n: string }>('SELECT count(*)::text AS n FROM webhook_deliveries WHERE locked_by IS NOT NULL');
    expect(rows[0]!.n).toBe('0');
    // C had at most half the senders, and each endpoint one request at a time.
    expect(slow.peak).toEqual({ all: 4, perEndpoint: 1 });
    expect(new Set(slow.received).size).toBe(slow.received.length);
    // Ninety API calls to set up and rounds of 1.5 s answers: well under a minute alone, more
    // on a busy machine. Nothing here is timed but D's wait, which is bounded above.
  }, 150_000);

  it('never sends a delivery twice when two dispatchers run with a lease shorter than a send', async () => {
    // What the test before left pending is no one's business here.
    await api.stores.postgres.query("UPDATE webhook_deliveries SET state = 'failed' WHERE state = 'pending'");
    const slow = await receiver(SLOW_MS);
    receivers.push(slow);
    const t = await setUp('leases', slow.url, 4);
    for (let i = 0; i < 4; i++) await cancelOne(t);
    // Leases of a second, sends of 1.5 s: a claim held past its lease would be taken by the other.
    const one = dispatcher('one', { leaseSeconds: 1, timeoutMs: 3 * SLOW_MS });
    const two = dispatcher('two', { leaseSeconds: 1, timeoutMs: 3 * SLOW_MS });
    const keepRunning = async (d: WebhookDispatcher) => {
      const started = Date.now();
      while ((await pending(t.id)) > 0 && Date.now() - started < 30_000) {
        await d.runOnce();
        await sleep(100);
      }
    };
    await Promise.all([keepRunning(one), sleep(300).then(() => keepRunning(two))]);
    expect(await pending(t.id)).toBe(0);
    expect(slow.received).toHaveLength(16);
    expect(new Set(slow.received).size).toBe(16);
  }, 120_000);
});
