import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRoutes } from '../../app/console.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';
import { faultySink, type SinkControl } from '../support/faulty-sink.js';
import { RetrySet } from '../../core/retry-set.js';

/** The endpoints the console reads beside the rest of the API, and the console's own files. */

let api: TestApi;
let acme: Awaited<ReturnType<TestApi['tenant']>>;
let globex: Awaited<ReturnType<TestApi['tenant']>>;

// A console build of two files, served by the test's own copy of the routes.
const built = mkdtempSync(path.join(tmpdir(), 'tally-console-'));
mkdirSync(path.join(built, 'assets'));
writeFileSync(path.join(built, 'index.html'), '<!doctype html><title>Tally</title><script type="module" src="/console/assets/app-1a2b3c.js"></script>');
writeFileSync(path.join(built, 'assets', 'app-1a2b3c.js'), 'console.log(1);\n');
writeFileSync(path.join(built, 'assets', 'notes.txt'), 'not served');
const extraRoutes = consoleRoutes(built).map((r) => ({ ...r, pattern: r.pattern.replace('/console', '/test-console') }));

// Shipping is held back by one test to see the log's backlog.
const sink: SinkControl = {};

beforeAll(async () => {
  api = await startTestApi({ extraRoutes, env: { TALLY_EVENTLOG_SEAL_MS: '50' }, wrapSink: (s) => faultySink(s, sink, (f) => readFileSync(f)) });
  acme = await api.tenant('acme-console');
  globex = await api.tenant('globex-console');
});
afterAll(async () => {
  await api.stop();
});

const post = (auth: Record<string, string>, body: unknown) => jsonRequest(api.url, auth, 'POST', '/v1/events', body);

describe('GET /v1/events/live', () => {
  it("counts this minute's events by result and lists the last ones with their results, for the tenant only", async () => {
    const ts = new Date().toISOString();
    const first = await post(acme.auth, [
      { id: 'live_1', customer: 'cus_a', meter: 'api_calls', timestamp: ts },
      { id: 'live_2', customer: 'cus_b', meter: 'api_calls', value: 'NaN', timestamp: ts },
      { id: 'live_1', customer: 'cus_a', meter: 'api_calls', timestamp: ts },
    ]);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ accepted: 1, duplicates: 1 });
    const resent = await post(acme.auth, { id: 'live_1', customer: 'cus_a', meter: 'api_calls', timestamp: ts });
    expect(resent.body).toMatchObject({ accepted: 0, duplicates: 1 });
    await post(globex.auth, { id: 'other_1', customer: 'cus_z', meter: 'api_calls', timestamp: ts });

    const { status, body } = await jsonRequest(api.url, acme.auth, 'GET', '/v1/events/live');
    expect(status).toBe(200);
    expect(body.window_seconds).toBe(60);
    expect(body.per_second).toHaveLength(60);
    expect(body.totals).toEqual({ accepted: 1, duplicates: 2, rejected: 1 });
    const code = first.body.rejected[0].code as string;
    expect(body.rejected_by_code).toEqual({ [code]: 1 });
    // Newest first: the resend, then the request's three in reverse.
    expect((body.recent as { id: string; result: string }[]).map((e) => [e.id, e.result])).toEqual([
      ['live_1', 'duplicate'],
      ['live_1', 'duplicate'],
      ['live_2', 'rejected'],
      ['live_1', 'accepted'],
    ]);
    expect(body.recent[2]).toMatchObject({ customer: 'cus_b', meter: 'api_calls', code, timestamp: ts });
    expect(body.recent[3]).toMatchObject({ customer: 'cus_a', meter: 'api_calls', code: null, timestamp: ts });
    const perSecond = (body.per_second as { accepted: number }[]).reduce((n, s) => n + s.accepted, 0);
    expect(perSecond).toBe(1);

    const other = await jsonRequest(api.url, globex.auth, 'GET', '/v1/events/live');
    expect((other.body.recent as { id: string }[]).map((e) => e.id)).toEqual(['other_1']);
    expect(other.body.totals).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
  });

  it('keeps the last 100 events of a large batch and counts them all', async () => {
    const fresh = await api.tenant('batch-console');
    const ts = new Date().toISOString();
    const events = Array.from({ length: 250 }, (_, i) => ({ id: `b_${i}`, customer: 'cus_a', meter: 'api_calls', timestamp: ts }));
    expect((await post(fresh.auth, events)).body.accepted).toBe(250);
    const { body } = await jsonRequest(api.url, fresh.auth, 'GET', '/v1/events/live');
    expect(body.totals.accepted).toBe(250);
    expect(body.recent).toHaveLength(100);
    expect(body.recent[0].id).toBe('b_249');
    expect(body.recent[99].id).toBe('b_150');
  });

  it('is refused without a tenant key', async () => {
    expect((await jsonRequest(api.url, api.admin, 'GET', '/v1/events/live')).status).toBe(403);
    expect((await fetch(`${api.url}/v1/events/live`)).status).toBe(401);
  });
});

describe('GET /v1/pipeline', () => {
  it("reports the aggregator, this node's log and the tenant's own outboxes", async () => {
    const before = await jsonRequest(api.url, acme.auth, 'GET', '/v1/pipeline');
    expect(before.status).toBe(200);
    expect(before.body.aggregator).toEqual({ watermark: null, lag_seconds: null, set_aside: [] });
    expect(before.body.event_log.node).toMatch(/\S/);
    expect(before.body.stripe_outbox).toEqual({ pending: 0, failed: 0, oldest_pending_age_seconds: null });
    expect(before.body.webhooks).toEqual({ pending: 0, failed: 0 });

    await api.stores.postgres.query("INSERT INTO stripe_outbox (tenant_id, kind, ref, created_at) VALUES ($1, 'invoice', 'inv_pipeline_1', now() - interval '90 seconds')", [acme.id]);
    await api.stores.postgres.query("INSERT INTO stripe_outbox (tenant_id, kind, ref, state) VALUES ($1, 'invoice', 'inv_pipeline_2', 'failed')", [acme.id]);
    await testAggregator(api).runOnce();
    const after = await jsonRequest(api.url, acme.auth, 'GET', '/v1/pipeline');
    expect(after.body.stripe_outbox.pending).toBe(1);
    expect(after.body.stripe_outbox.failed).toBe(1);
    expect(after.body.stripe_outbox.oldest_pending_age_seconds).toBeGreaterThanOrEqual(90);
    expect(after.body.event_log.pending_bytes).toBe(0);
    expect(after.body.event_log.oldest_unshipped_age_seconds).toBeNull();
    expect(Date.parse(after.body.aggregator.watermark)).toBeGreaterThan(0);
    expect(after.body.aggregator.lag_seconds).toBeGreaterThanOrEqual(0);

    const other = await jsonRequest(api.url, globex.auth, 'GET', '/v1/pipeline');
    expect(other.body.stripe_outbox).toEqual({ pending: 0, failed: 0, oldest_pending_age_seconds: null });
  });

  it("lists the tenant's meters the aggregator set aside, to that tenant only", async () => {
    const retries = new RetrySet(api.stores.postgres, 'aggregator');
    const item = { tenantId: acme.id, item: 'api_calls', since: Date.now() - 120_000 };
    await retries.add([item]);
    try {
      const mine = (await jsonRequest(api.url, acme.auth, 'GET', '/v1/pipeline')).body;
      expect(mine.aggregator.set_aside).toEqual([{ meter: 'api_calls', since: new Date(item.since).toISOString(), lag_seconds: expect.any(Number) }]);
      expect(mine.aggregator.set_aside[0].lag_seconds).toBeGreaterThanOrEqual(120);
      expect((await jsonRequest(api.url, globex.auth, 'GET', '/v1/pipeline')).body.aggregator.set_aside).toEqual([]);
    } finally {
      await retries.done([item]);
    }
  });

  it("shows the log's backlog and the age of its oldest event while shipping is held back", async () => {
    let release!: () => void;
    sink.hold = new Promise((r) => (release = r));
    try {
      expect((await post(acme.auth, { id: 'held_1', customer: 'cus_a', meter: 'api_calls' })).status).toBe(202);
      await new Promise((r) => setTimeout(r, 1_200));
      const held = (await jsonRequest(api.url, acme.auth, 'GET', '/v1/pipeline')).body;
      expect(held.event_log.pending_bytes).toBeGreaterThan(0);
      expect(held.event_log.pending_segments).toBeGreaterThan(0);
      expect(held.event_log.oldest_unshipped_age_seconds).toBeGreaterThanOrEqual(1);
      expect(held.event_log.oldest_unshipped_age_seconds).toBeLessThan(60);
    } finally {
      sink.hold = undefined;
      release();
    }
    await api.drain();
    const shipped = (await jsonRequest(api.url, acme.auth, 'GET', '/v1/pipeline')).body;
    expect(shipped.event_log).toMatchObject({ pending_bytes: 0, oldest_unshipped_age_seconds: null });
  });
});

describe('GET /v1/tenants', () => {
  it('lists tenants by id, page by page, for the admin key only', async () => {
    const first = await jsonRequest(api.url, api.admin, 'GET', '/v1/tenants?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.has_more).toBe(true);
    const rest = await jsonRequest(api.url, api.admin, 'GET', `/v1/tenants?limit=100&starting_after=${first.body.data[1].id}`);
    const ids = [...first.body.data, ...rest.body.data].map((t: { id: string }) => t.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining([acme.id, globex.id]));
    expect(first.body.data[0]).not.toHaveProperty('api_key');
    expect((await jsonRequest(api.url, acme.auth, 'GET', '/v1/tenants')).status).toBe(403);
  });
});

describe('the console files', () => {
  it('serve the page revalidated, with its security policy, and hashed assets cached for a year', async () => {
    for (const p of ['/test-console', '/test-console/']) {
      const page = await fetch(`${api.url}${p}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
      expect(await page.text()).toMatch(/app-1a2b3c\.js/);
      const again = await fetch(`${api.url}${p}`, { headers: { 'if-none-match': page.headers.get('etag')! } });
      expect(again.status).toBe(304);
    }
    const asset = await fetch(`${api.url}/test-console/assets/app-1a2b3c.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toBe('console.log(1);\n');
  });

  it('serve nothing else: unknown names, other extensions, escapes out of the folder', async () => {
    for (const p of ['/test-console/assets/nope.js', '/test-console/assets/notes.txt', '/test-console/assets/..%2Findex.html', '/test-console/assets/%2e%2e%2f%2e%2e%2fpackage.json']) {
      expect((await fetch(`${api.url}${p}`)).status, p).toBe(404);
    }
  });

  it('say so when the console is not built', () => {
    const [page] = consoleRoutes(path.join(built, 'missing'));
    expect(() => page!.handler({ headers: {} } as never)).toThrow(/not built: run `npm run build`/);
  });
});
