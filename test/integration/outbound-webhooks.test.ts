import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { createLogger } from '../../core/log.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { WebhookDispatcher } from '../../webhooks/dispatcher.js';
import { webhookMetrics } from '../../webhooks/metrics.js';
import { EndpointService } from '../../webhooks/endpoints.js';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

/**
 * Outbound webhooks: endpoints per tenant, events written with the changes that cause them,
 * delivered signed and at least once, retried until the receiver answers 2xx, logged per
 * attempt, and redelivered on demand.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

/** A receiver verifying signatures as the README tells one to, answering from a script. */
interface Receiver {
  url: string;
  received: { id: string; type: string; attempt: string; verified: boolean; body: { data: Record<string, unknown> } }[];
  answer: (n: number) => number | 'hang' | 'drop';
  close(): Promise<void>;
}

async function receiver(secret: () => string): Promise<Receiver> {
  const r: Receiver = { url: '', received: [], answer: () => 200, close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      // README: split Tally-Signature on commas into t= and v1=; HMAC-SHA256 of `${t}.${raw body}` with the secret, hex; compare; check t is recent.
      const parts = Object.fromEntries(String(req.headers['tally-signature']).split(',').map((p) => p.split('=') as [string, string]));
      const mac = createHmac('sha256', secret()).update(`${parts.t}.${raw}`).digest('hex');
      const verified = parts.v1 !== undefined && parts.v1.length === mac.length && timingSafeEqual(Buffer.from(parts.v1), Buffer.from(mac)) && Math.abs(Date.now() / 1000 - Number(parts.t)) < 300;
      const body = JSON.parse(raw) as { id: string; type: string; data: Record<string, unknown> };
      r.received.push({ id: body.id, type: body.type, attempt: String(req.headers['tally-delivery-attempt']), verified, body });
      const a = r.answer(r.received.length);
      if (a === 'drop') req.socket.destroy();
      // 'hang' never answers: the sender times out.
      else if (a !== 'hang') res.writeHead(a, { 'content-type': 'text/plain' }).end('ok');
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

const dispatcher = (owner = 'test', retentionMs?: number, delays = [30, 30, 30, 30]) =>
  new WebhookDispatcher({
    pg: api.stores.postgres,
    metrics: webhookMetrics(createRegistry()),
    logger: createLogger(api.stores.config),
    owner,
    leaseSeconds: 30,
    timeoutMs: 1_000, // generous: receiver, dispatcher and embedded Postgres share one event loop here
    delays,
    allowPrivate: true,
    ...(retentionMs === undefined ? {} : { retentionMs }),
  });

/** Runs the dispatcher until nothing is pending (each run sends what is due). */
async function drain(d = dispatcher(), rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await d.runOnce();
    const { rows } = await api.stores.postgres.query<{ n: string }>("SELECT count(*)::text AS n FROM webhook_deliveries WHERE state = 'pending'");
    if (rows[0]!.n === '0') return;
    await new Promise((r) => setTimeout(r, 40));
  }
}

let secret = '';
let rcv: Receiver;
let endpointId = '';

beforeAll(async () => {
  // The receivers of these tests listen on 127.0.0.1.
  api = await startTestApi({ env: { TALLY_WEBHOOK_ALLOW_PRIVATE_URLS: 'true' } });
  t = await api.tenant('outbound');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  rcv = await receiver(() => secret);
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10.00' });
  await call('POST', '/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '20.00' });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
});
afterAll(async () => {
  await rcv?.close();
  await stack?.pool.close();
  await api.stop();
});

describe('webhook endpoints', () => {
  it('are created with a secret shown once, listed, updated and read back', async () => {
    const r = await call('POST', '/v1/webhook_endpoints', { url: rcv.url, description: 'billing' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ id: expect.stringMatching(/^we_/), url: rcv.url, events: ['*'], disabled: false, secret: expect.stringMatching(/^whsec_/) });
    secret = r.body.secret as string;
    endpointId = r.body.id as string;
    const got = await call('GET', `/v1/webhook_endpoints/${endpointId}`);
    expect(got.body.secret).toBeUndefined();
    expect(got.body.secret_hint).toBe(`whsec_…${secret.slice(-4)}`);
    expect((await call('GET', '/v1/webhook_endpoints')).body.data).toHaveLength(1);
    const off = await call('POST', '/v1/webhook_endpoints', { url: `${rcv.url}?other`, events: ['invoice.paid'] });
    expect((await call('PATCH', `/v1/webhook_endpoints/${off.body.id}`, { disabled: true })).body).toMatchObject({ disabled: true, events: ['invoice.paid'] });
  });

  it.each([
    ['a URL that is not http(s)', { url: 'ftp://example.com/x' }, 'url'],
    ['a URL with credentials', { url: 'https://user:pw@example.com/x' }, 'url'],
    ['an unknown event type', { url: 'https://example.com/x', events: ['invoice.exploded'] }, 'events[0]'],
    ['no event types', { url: 'https://example.com/x', events: [] }, 'events'],
    ['an unknown field', { url: 'https://example.com/x', secret: 'mine' }, 'secret'],
  ])('refuse %s', async (_name, body, field) => {
    const r = await call('POST', '/v1/webhook_endpoints', body);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
  });

  it('are invisible to another tenant', async () => {
    const other = await api.tenant('outbound-other');
    expect((await jsonRequest(api.url, other.auth, 'GET', `/v1/webhook_endpoints/${endpointId}`)).status).toBe(404);
    expect((await jsonRequest(api.url, other.auth, 'GET', '/v1/webhook_endpoints')).body.data).toEqual([]);
    expect((await jsonRequest(api.url, other.auth, 'DELETE', `/v1/webhook_endpoints/${endpointId}`)).status).toBe(404);
  });
});

describe('events and their delivery', () => {
  it('write invoice events at close and subscription events on changes, and deliver them signed', async () => {
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: start.toISOString() })).body;
    await api.stores.postgres.query("UPDATE aggregator_state SET watermark = now() WHERE name = 'hourly'");
    expect((await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000))).invoices).toBe(1);
    // Closing again emits nothing more.
    await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000));
    expect((await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' })).status).toBe(200);
    expect((await call('POST', `/v1/subscriptions/${sub.id}/cancel`, { at_period_end: false })).status).toBe(200);

    const events = (await call('GET', '/v1/webhook_events')).body.data as { id: string; type: string; data: Record<string, unknown>; deliveries: { endpoint: string; state: string }[] }[];
    // Newest first; no billing sync configured, so the invoice is final as it is written.
    expect(events.map((e) => e.type)).toEqual(['subscription.canceled', 'subscription.updated', 'invoice.finalized', 'invoice.created']);
    expect(events[3]!.data).toMatchObject({ subscription: sub.id, customer: 'acme', currency: 'USD', total: '10.00', status: 'open' });
    expect(events[1]!.data).toMatchObject({ id: sub.id, plan: { code: 'pro' } });
    expect(events[0]!.data).toMatchObject({ id: sub.id, status: 'canceled' });
    // Only the enabled endpoint taking every type gets deliveries.
    for (const e of events) expect(e.deliveries.map((d) => [d.endpoint, d.state])).toEqual([[endpointId, 'pending']]);

    await drain();
    expect(rcv.received.map((r) => r.type).sort()).toEqual(events.map((e) => e.type).sort());
    expect(rcv.received.every((r) => r.verified)).toBe(true);
    const after = (await call('GET', '/v1/webhook_events')).body.data as { deliveries: { state: string; attempts: number; last_status: number }[] }[];
    for (const e of after) expect(e.deliveries).toEqual([expect.objectContaining({ state: 'delivered', attempts: 1, last_status: 200 })]);
  });

  it('retry an unanswered or failing delivery until the receiver answers 2xx, logging each attempt', async () => {
    rcv.received.length = 0;
    const answers: (number | 'hang' | 'drop')[] = [500, 'drop', 'hang', 302, 204];
    rcv.answer = (n) => answers[n - 1] ?? 200;
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
    await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' });
    await drain();
    expect(rcv.received.map((r) => `${r.type} ${r.id} ${r.attempt}`)).toHaveLength(5);
    // The same event each time, attempts counted, every one signed afresh.
    expect(new Set(rcv.received.map((r) => r.id)).size).toBe(1);
    expect(rcv.received.map((r) => r.attempt)).toEqual(['1', '2', '3', '4', '5']);
    expect(rcv.received.every((r) => r.verified)).toBe(true);
    const event = (await call('GET', `/v1/webhook_events/${rcv.received[0]!.id}`)).body as { deliveries: { state: string; log: { attempt: number; status: number | null; error: string | null }[] }[] };
    expect(event.deliveries[0]!.state).toBe('delivered');
    expect(event.deliveries[0]!.log.map((a) => [a.attempt, a.status])).toEqual([
      [1, 500],
      [2, null],
      [3, null],
      [4, 302],
      [5, 204],
    ]);
    expect(event.deliveries[0]!.log[2]!.error).toMatch(/no answer in 1000 ms/);
    rcv.answer = () => 200;
  });

  it('fail a delivery once the schedule runs out, and send it again on a manual redelivery', async () => {
    rcv.received.length = 0;
    rcv.answer = () => 503;
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
    await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' });
    await drain();
    expect(rcv.received).toHaveLength(5); // the first try and the 4 retries of the test schedule
    const id = rcv.received[0]!.id;
    expect((await call('GET', `/v1/webhook_events/${id}`)).body.deliveries[0]).toMatchObject({ state: 'failed', attempts: 5, last_status: 503 });

    rcv.answer = () => 200;
    const again = await call('POST', `/v1/webhook_events/${id}/redeliver`);
    expect(again.status).toBe(202);
    expect(again.body.deliveries[0]).toMatchObject({ state: 'pending' });
    await drain();
    expect(rcv.received).toHaveLength(6);
    expect((await call('GET', `/v1/webhook_events/${id}`)).body.deliveries[0]).toMatchObject({ state: 'delivered', attempts: 6, last_status: 200 });
    expect((await call('POST', '/v1/webhook_events/evt_nope/redeliver')).status).toBe(404);
    // A disabled endpoint is sent nothing: redelivering to it is refused, naming it, and a
    // redelivery of the whole event leaves its delivery as it was.
    expect((await call('PATCH', `/v1/webhook_endpoints/${endpointId}`, { disabled: true })).status).toBe(200);
    const refused = await call('POST', `/v1/webhook_events/${id}/redeliver`, { endpoint: endpointId });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_TRANSITION', field: 'endpoint' });
    expect((await call('POST', `/v1/webhook_events/${id}/redeliver`)).body.deliveries[0]).toMatchObject({ state: 'delivered' });
    expect((await call('PATCH', `/v1/webhook_endpoints/${endpointId}`, { disabled: false })).status).toBe(200);
  });

  it('send each delivery once when two dispatchers run at the same time', async () => {
    rcv.received.length = 0;
    rcv.answer = () => 200;
    for (let i = 0; i < 12; i++) {
      const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
      await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' });
    }
    await Promise.all([dispatcher('a').runOnce(2), dispatcher('b').runOnce(2)]);
    expect(rcv.received).toHaveLength(12);
    expect(new Set(rcv.received.map((r) => r.id)).size).toBe(12);
  });

  it('fail the pending deliveries of a deleted endpoint, keeping their log', async () => {
    rcv.answer = () => 500;
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
    await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' });
    // A retry an hour away: with the test schedule's 30 ms, a slow machine let this run's
    // second look find the retry already due and send it.
    await dispatcher('test', undefined, [3_600_000]).runOnce();
    const [event] = (await call('GET', '/v1/webhook_events?type=subscription.updated&limit=1')).body.data as { id: string }[];
    expect((await call('DELETE', `/v1/webhook_endpoints/${endpointId}`)).body).toEqual({ id: endpointId, deleted: true });
    const d = (await call('GET', `/v1/webhook_events/${event!.id}`)).body.deliveries[0];
    expect(d).toMatchObject({ state: 'failed', last_error: 'endpoint deleted' });
    expect(d.log).toHaveLength(1);
  });

  it('delete events past the retention period with their log, keeping any with a delivery still pending', async () => {
    // One event whose delivery is still pending: a new endpoint, and a change not dispatched yet.
    expect((await call('POST', '/v1/webhook_endpoints', { url: rcv.url })).status).toBe(201);
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
    await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' });
    const all = (await call('GET', '/v1/webhook_events?limit=500')).body.data as { id: string; deliveries: { state: string }[] }[];
    const finished = all.find((e) => e.deliveries.every((d) => d.state !== 'pending'))!;
    const pending = all.find((e) => e.deliveries.some((d) => d.state === 'pending'))!;
    expect(finished).toBeDefined();
    expect(pending).toBeDefined();
    await api.stores.postgres.query("UPDATE webhook_events SET created_at = now() - interval '40 days' WHERE tenant_id = $1 AND id = ANY($2)", [t.id, [finished.id, pending.id]]);
    // Its delivery is not due yet (a minute from now): this run only prunes.
    await api.stores.postgres.query("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 minute' WHERE tenant_id = $1 AND state = 'pending'", [t.id]);
    await dispatcher('prune', 30 * 86_400_000).runOnce();
    expect((await call('GET', `/v1/webhook_events/${finished.id}`)).status).toBe(404);
    expect((await call('GET', `/v1/webhook_events/${pending.id}`)).status).toBe(200);
    const { rows } = await api.stores.postgres.query<{ n: string }>('SELECT count(*)::text AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1', [finished.id]);
    expect(rows[0]!.n).toBe('0');
  });
});

describe('addresses inside the network', () => {
  it.each(['http://127.0.0.1:8080/x', 'http://localhost/x', 'https://api.localhost/x', 'http://10.1.2.3/x', 'http://192.168.0.10/x', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:8080/x', 'http://[::ffff:10.0.0.1]/x'])(
    'are refused for an endpoint by default: %s',
    async (url) => {
      const strict = new EndpointService(api.stores.postgres);
      await expect(strict.create(t.id, { url })).rejects.toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'url' });
    },
  );

  it('are not delivered to by default, whatever name leads there', async () => {
    const strict = new EndpointService(api.stores.postgres);
    const ep = await strict.create(t.id, { url: 'https://hooks.example.com/tally' });
    // A public name that now resolves inside the network (here: localhost, put in its place).
    await api.stores.postgres.query('UPDATE webhook_endpoints SET url = $3 WHERE tenant_id = $1 AND id = $2', [t.id, ep.id, rcv.url.replace('127.0.0.1', 'localhost')]);
    rcv.received.length = 0;
    rcv.answer = () => 200;
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
    await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' });
    await new WebhookDispatcher({ pg: api.stores.postgres, metrics: webhookMetrics(createRegistry()), logger: createLogger(api.stores.config), owner: 'strict', leaseSeconds: 30, timeoutMs: 2_000, delays: [] }).runOnce();
    const [event] = (await call('GET', '/v1/webhook_events?type=subscription.updated&limit=1')).body.data as { id: string }[];
    const d = ((await call('GET', `/v1/webhook_events/${event!.id}`)).body.deliveries as { endpoint: string; state: string; last_error: string }[]).find((x) => x.endpoint === ep.id)!;
    expect(d.state).toBe('failed');
    expect(d.last_error).toMatch(/localhost resolves to (127\.0\.0\.1|::1), an address inside the network: refused/);
    expect(rcv.received).toEqual([]);
  });
});

