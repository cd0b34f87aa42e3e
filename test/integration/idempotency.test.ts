import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TallyError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import type { Request, Route } from '../../http/types.js';
import { idempotencyKeys, requestHash } from '../../http/idempotency.js';
import { pgIdempotencyStore } from '../../http/idempotency-store.js';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * Idempotency keys on Tally's own writes: a retry with the same key gets the first answer and
 * changes nothing; a key is the tenant's; a reuse for another request, or while the first still
 * runs, is refused; 5xx answers are not kept; keys live at least 24 hours and are then pruned.
 */

interface Answer {
  status: number;
  text: string;
  body: any;
  contentType: string | null;
  replayed: string | null;
  retryAfter: string | null;
}

let api: TestApi;
let a: { id: string; auth: Record<string, string> };
let b: { id: string; auth: Record<string, string> };

/** The slow route runs until the test opens its gate. */
let slowRuns = 0;
let openGate: () => void = () => undefined;
let gate: Promise<void> = Promise.resolve();
let flakyRuns = 0;
let textRuns = 0;

const testRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/test/slow',
    access: 'tenant',
    handler: async () => {
      slowRuns++;
      await gate;
      return { status: 201, body: { run: slowRuns } };
    },
  },
  {
    method: 'POST',
    pattern: '/test/flaky',
    access: 'tenant',
    handler: () => {
      flakyRuns++;
      if (flakyRuns === 1) throw new TallyError('TALLY_ERR_STORE_UNAVAILABLE', 'store down', { headers: { 'Retry-After': '1' } });
      if (flakyRuns === 2) throw new Error('a bug');
      return { status: 200, body: { run: flakyRuns } };
    },
  },
  {
    method: 'POST',
    pattern: '/test/text',
    access: 'tenant',
    handler: () => {
      textRuns++;
      return { status: 202, body: `run ${textRuns}\n`, contentType: 'text/csv; charset=utf-8', headers: { Location: `/test/text/${textRuns}` } };
    },
  },
];

async function post(auth: Record<string, string>, path: string, body: unknown, key?: string): Promise<Answer> {
  const res = await fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { ...auth, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const contentType = res.headers.get('content-type');
  return {
    status: res.status,
    text,
    body: contentType?.startsWith('application/json') && text !== '' ? JSON.parse(text) : text,
    contentType,
    replayed: res.headers.get('idempotent-replayed'),
    retryAfter: res.headers.get('retry-after'),
  };
}

async function get(auth: Record<string, string>, path: string): Promise<any> {
  const res = await fetch(`${api.url}${path}`, { headers: auth });
  expect(res.status, path).toBe(200);
  return res.json();
}

let keys = 0;
const newKey = () => `key-${++keys}-${Date.now()}`;

beforeAll(async () => {
  api = await startTestApi({ extraRoutes: testRoutes });
  a = await api.tenant('idem-a');
  b = await api.tenant('idem-b');
  for (const t of [a, b]) {
    expect((await post(t.auth, '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10.00' })).status).toBe(201);
    expect((await post(t.auth, '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' })).status).toBe(201);
  }
});
afterAll(async () => {
  openGate();
  await api.stop();
});

describe('a retry with the same key', () => {
  it('gets the first answer (status, body, content type) and creates one customer', async () => {
    const key = newKey();
    const first = await post(a.auth, '/v1/customers', { id: 'once', name: 'Once', currency: 'USD' }, key);
    expect(first.status).toBe(201);
    expect(first.replayed).toBeNull();
    const again = await post(a.auth, '/v1/customers', { id: 'once', name: 'Once', currency: 'USD' }, key);
    expect(again).toMatchObject({ status: 201, text: first.text, contentType: first.contentType, replayed: 'true' });
    // Without the key the same request is a conflict: the retry above did not run again.
    expect((await post(a.auth, '/v1/customers', { id: 'once', name: 'Once', currency: 'USD' })).status).toBe(409);
    const ids = ((await get(a.auth, '/v1/customers?limit=1000')).data as { id: string }[]).map((c) => c.id);
    expect(ids.filter((id) => id === 'once')).toHaveLength(1);
  });

  it('creates one subscription', async () => {
    const key = newKey();
    await post(a.auth, '/v1/customers', { id: 'subs', name: 'Subs', currency: 'USD' });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await post(a.auth, '/v1/subscriptions', { customer: 'subs', plan: 'basic' }, key));
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(answers.map((r) => r.replayed)).toEqual([null, 'true', 'true']);
    expect(new Set(answers.map((r) => r.text)).size).toBe(1);
    const list = await get(a.auth, '/v1/subscriptions?customer=subs');
    expect((list.data as { id: string }[]).map((s) => s.id)).toEqual([answers[0]!.body.id]);
  });

  it('grants credit once', async () => {
    const key = newKey();
    const first = await post(a.auth, '/v1/customers/acme/credits', { amount: '25.00', reason: 'prepaid' }, key);
    const again = await post(a.auth, '/v1/customers/acme/credits', { amount: '25.00', reason: 'prepaid' }, key);
    expect(first.status).toBe(201);
    expect(again).toMatchObject({ status: 201, text: first.text, replayed: 'true' });
    const credits = await get(a.auth, '/v1/customers/acme/credits');
    expect(credits.balance).toBe('25.00');
    expect(credits.grants).toHaveLength(1);
  });

  it('redeems a coupon once (the retry is not a duplicate redemption)', async () => {
    await post(a.auth, '/v1/customers', { id: 'cpn', name: 'Coupon', currency: 'USD' });
    const sub = (await post(a.auth, '/v1/subscriptions', { customer: 'cpn', plan: 'basic' })).body.id as string;
    expect((await post(a.auth, '/v1/coupons', { code: 'TEN', name: 'Ten', percent_off: '10', duration: 'forever' })).status).toBe(201);
    const key = newKey();
    const first = await post(a.auth, `/v1/subscriptions/${sub}/coupons`, { coupon: 'TEN' }, key);
    expect(first.status).toBe(201);
    const again = await post(a.auth, `/v1/subscriptions/${sub}/coupons`, { coupon: 'TEN' }, key);
    expect(again).toMatchObject({ status: 201, text: first.text, replayed: 'true' });
    expect((await get(a.auth, '/v1/coupons/TEN')).times_redeemed).toBe(1);
  });

  it('replays a 4xx answer, even once the request would now succeed', async () => {
    await post(a.auth, '/v1/customers', { id: 'late', name: 'Late', currency: 'USD' });
    const sub = (await post(a.auth, '/v1/subscriptions', { customer: 'late', plan: 'basic' })).body.id as string;
    const key = newKey();
    const first = await post(a.auth, `/v1/subscriptions/${sub}/coupons`, { coupon: 'LATER' }, key);
    expect([first.status, first.body.error.code]).toEqual([400, 'TALLY_ERR_COUPON_NOT_FOUND']);
    expect((await post(a.auth, '/v1/coupons', { code: 'LATER', name: 'Later', percent_off: '5', duration: 'once' })).status).toBe(201);
    const again = await post(a.auth, `/v1/subscriptions/${sub}/coupons`, { coupon: 'LATER' }, key);
    expect(again).toMatchObject({ status: 400, text: first.text, contentType: 'application/json', replayed: 'true' });
    expect((await get(a.auth, '/v1/coupons/LATER')).times_redeemed).toBe(0);
  });

  it('replays a text answer with its content type and headers', async () => {
    const key = newKey();
    const first = await post(a.auth, '/test/text', '', key);
    const again = await post(a.auth, '/test/text', '', key);
    expect(first).toMatchObject({ status: 202, text: 'run 1\n', contentType: 'text/csv; charset=utf-8', replayed: null });
    expect(again).toMatchObject({ status: 202, text: 'run 1\n', contentType: 'text/csv; charset=utf-8', replayed: 'true' });
    expect(textRuns).toBe(1);
  });
});

describe('a key names one request', () => {
  it.each([
    ['another body', '/v1/customers/acme/credits', { amount: '2.00' }],
    ['the same body, written differently', '/v1/customers/acme/credits', '{"amount": "1.00"}'],
    ['another route', '/v1/coupons', { code: 'K1', name: 'K', percent_off: '5', duration: 'once' }],
    ['another path parameter', '/v1/customers/other/credits', { amount: '1.00' }],
    ['another query', '/v1/customers/acme/credits?x=1', { amount: '1.00' }],
  ])('refuses its reuse for %s with TALLY_ERR_IDEMPOTENCY_KEY_REUSED, running nothing', async (_what, path, body) => {
    const key = newKey();
    const before = (await get(b.auth, '/v1/customers/acme/credits')).grants.length as number;
    expect((await post(b.auth, '/v1/customers/acme/credits', { amount: '1.00' }, key)).status).toBe(201);
    const reused = await post(b.auth, path, body, key);
    expect([reused.status, reused.body.error.code]).toEqual([409, 'TALLY_ERR_IDEMPOTENCY_KEY_REUSED']);
    expect((await get(b.auth, '/v1/customers/acme/credits')).grants).toHaveLength(before + 1);
  });

  it('is the tenant’s own: another tenant’s same key is another key', async () => {
    const key = newKey();
    const first = await post(a.auth, '/v1/subscriptions', { customer: 'acme', plan: 'basic' }, key);
    const other = await post(b.auth, '/v1/subscriptions', { customer: 'acme', plan: 'basic' }, key);
    expect([first.status, other.status]).toEqual([201, 201]);
    expect(other.replayed).toBeNull();
    expect(other.body.id).not.toBe(first.body.id);
    expect(((await get(b.auth, '/v1/subscriptions?customer=acme')).data as unknown[]).length).toBe(1);
    // A different request under another tenant's key is no reuse either.
    const key2 = newKey();
    expect((await post(a.auth, '/v1/customers', { id: 'mine-a', name: 'A', currency: 'USD' }, key2)).status).toBe(201);
    expect(await post(b.auth, '/v1/customers', { id: 'mine-b', name: 'B', currency: 'USD' }, key2)).toMatchObject({ status: 201, replayed: null });
  });

  it.each([
    ['longer than 255 characters', 'k'.repeat(256)],
    ['holding a control character', 'a\tb'],
    // fetch sends a header value's characters as bytes: these two are the UTF-8 of é (inside the
    // value: uWS trims bytes above 0x7f from a value's end, as it trims spaces).
    ['not ASCII', 'cl\u00c3\u00a9s'],
  ])('refuses a key %s with TALLY_ERR_IDEMPOTENCY_KEY_INVALID', async (_what, key) => {
    const r = await post(a.auth, '/v1/customers', { id: 'never', name: 'Never', currency: 'USD' }, key);
    expect([r.status, r.body.error?.code], r.text).toEqual([400, 'TALLY_ERR_IDEMPOTENCY_KEY_INVALID']);
    const ids = ((await get(a.auth, '/v1/customers?limit=1000')).data as { id: string }[]).map((c) => c.id);
    expect(ids).not.toContain('never');
  });

  it('takes a key of 255 printable characters', async () => {
    const key = `${'x'.repeat(250)} ~!{}`;
    expect(key).toHaveLength(255);
    expect((await post(a.auth, '/test/text', 'long', key)).status).toBe(202);
    expect((await post(a.auth, '/test/text', 'long', key)).replayed).toBe('true');
  });

  it('is ignored by POST /v1/events, which dedups by event id', async () => {
    const key = newKey();
    const ts = new Date().toISOString();
    const one = await post(a.auth, '/v1/events', { id: 'e1', customer: 'acme', meter: 'calls', value: '1', timestamp: ts }, key);
    const two = await post(a.auth, '/v1/events', { id: 'e2', customer: 'acme', meter: 'calls', value: '1', timestamp: ts }, key);
    expect([one.status, two.status]).toEqual([202, 202]);
    expect([one.body.accepted, two.body.accepted]).toEqual([1, 1]);
    expect(two.replayed).toBeNull();
  });
});

describe('concurrent requests with one key', () => {
  it('run once: the others are told it is in progress (retryable), and a retry afterwards gets the answer', async () => {
    gate = new Promise((resolve) => (openGate = resolve));
    const runsBefore = slowRuns;
    const key = newKey();
    const pending = Array.from({ length: 6 }, () => post(a.auth, '/test/slow', { n: 1 }, key));
    // Five answer while the first is held at the gate.
    const settled: Answer[] = [];
    pending.forEach((p) => void p.then((r) => settled.push(r)));
    await expect.poll(() => settled.length, { timeout: 10_000 }).toBe(5);
    expect(slowRuns - runsBefore).toBe(1);
    for (const r of settled) {
      expect([r.status, r.body.error.code, r.retryAfter]).toEqual([409, 'TALLY_ERR_IDEMPOTENCY_IN_PROGRESS', '1']);
    }
    openGate();
    const all = await Promise.all(pending);
    expect(all.filter((r) => r.status === 201)).toHaveLength(1);
    const retry = await post(a.auth, '/test/slow', { n: 1 }, key);
    expect(retry).toMatchObject({ status: 201, replayed: 'true', body: { run: slowRuns } });
    expect(slowRuns - runsBefore).toBe(1);
  });

  it('create exactly one subscription on a real route', async () => {
    await post(a.auth, '/v1/customers', { id: 'race', name: 'Race', currency: 'USD' });
    const key = newKey();
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(a.auth, '/v1/subscriptions', { customer: 'race', plan: 'basic' }, key)));
    for (const r of answers) {
      expect(r.status === 201 || (r.status === 409 && r.body.error.code === 'TALLY_ERR_IDEMPOTENCY_IN_PROGRESS'), `${r.status} ${r.text}`).toBe(true);
    }
    const created = answers.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((r) => r.text)).size).toBe(1);
    const list = await get(a.auth, '/v1/subscriptions?customer=race');
    expect((list.data as { id: string }[]).map((s) => s.id)).toEqual([created[0]!.body.id]);
  });
});

describe('answers that are not kept', () => {
  it('a 503 and a 500 release the key, so the retry runs again; the first success is kept', async () => {
    const key = newKey();
    const down = await post(a.auth, '/test/flaky', {}, key);
    expect([down.status, down.body.error.code]).toEqual([503, 'TALLY_ERR_STORE_UNAVAILABLE']);
    const bug = await post(a.auth, '/test/flaky', {}, key);
    expect([bug.status, bug.body.error.code]).toEqual([500, 'TALLY_ERR_INTERNAL']);
    const ok = await post(a.auth, '/test/flaky', {}, key);
    expect([ok.status, ok.body, ok.replayed]).toEqual([200, { run: 3 }, null]);
    const again = await post(a.auth, '/test/flaky', {}, key);
    expect([again.status, again.body, again.replayed]).toEqual([200, { run: 3 }, 'true']);
    expect(flakyRuns).toBe(3);
  });
});

describe('the OpenAPI document', () => {
  it('lists the header and its errors on the routes that take it, and only there', async () => {
    const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as any;
    const takes = (method: string, path: string) => (doc.paths[path][method].parameters as { $ref?: string }[]).some((p) => p.$ref === '#/components/parameters/IdempotencyKey');
    expect(doc.components.parameters.IdempotencyKey).toMatchObject({ name: 'Idempotency-Key', in: 'header', required: false });
    for (const path of ['/v1/subscriptions', '/v1/customers/{id}/credits', '/v1/subscriptions/{id}/coupons']) {
      expect(takes('post', path), path).toBe(true);
      expect(doc.paths[path].post.responses['409'].description).toContain('TALLY_ERR_IDEMPOTENCY_KEY_REUSED');
      expect(doc.paths[path].post.responses['409'].headers['Retry-After']).toBeDefined();
    }
    expect(takes('post', '/v1/events')).toBe(false);
    expect(takes('post', '/v1/tenants')).toBe(false);
    expect(takes('get', '/v1/subscriptions')).toBe(false);
  });
});

describe('the key store', () => {
  const request = (tenantId: string, body: string): Request => ({
    method: 'POST',
    path: '/direct',
    route: '/direct',
    query: new URLSearchParams(),
    headers: { 'idempotency-key': 'direct' },
    params: {},
    body: Buffer.from(body),
    requestId: 'req_direct',
    principal: { kind: 'tenant', tenantId, keyId: 'k' },
  });

  it('lets a claim whose lease lapsed (its node died) be taken over, once', async () => {
    const store = pgIdempotencyStore(api.stores.postgres);
    const first = await store.claim('scope_lapse', 'k', 'h', 1);
    expect(first.kind).toBe('claimed');
    await new Promise((r) => setTimeout(r, 20));
    const takers = await Promise.all([store.claim('scope_lapse', 'k', 'h', 60_000), store.claim('scope_lapse', 'k', 'h', 60_000)]);
    expect(takers.map((c) => c.kind).sort()).toEqual(['claimed', 'in_progress']);
    expect(await store.claim('scope_lapse', 'k', 'other', 60_000)).toEqual({ kind: 'mismatch' });
    // The dead owner's late answer does not overwrite the new owner's claim.
    const answer = { status: 200, contentType: 'application/json', headers: {}, body: Buffer.from('{}') };
    if (first.kind === 'claimed') expect(await store.complete('scope_lapse', 'k', first.owner, answer)).toBe(false);
  });

  it('renews the lease of a request that runs longer than it, so no one takes it over', async () => {
    let release: () => void = () => undefined;
    let runs = 0;
    const route: Route = {
      method: 'POST',
      pattern: '/direct',
      access: 'tenant',
      handler: async () => {
        runs++;
        await new Promise<void>((r) => (release = r));
        return { status: 201, body: { runs } };
      },
    };
    const wrapped = idempotencyKeys({ store: pgIdempotencyStore(api.stores.postgres), logger: createLogger({ logLevel: 'silent' }), leaseMs: 600 }).wrap(route);
    const first = wrapped.handler(request('scope_renew', 'x'));
    await expect.poll(() => runs).toBe(1);
    await new Promise((r) => setTimeout(r, 2_000));
    await expect(wrapped.handler(request('scope_renew', 'x'))).rejects.toMatchObject({ code: 'TALLY_ERR_IDEMPOTENCY_IN_PROGRESS' });
    release();
    expect(await first).toMatchObject({ status: 201 });
    expect(await wrapped.handler(request('scope_renew', 'x'))).toMatchObject({ status: 201, headers: { 'Idempotent-Replayed': 'true' } });
    expect(runs).toBe(1);
  });

  it('keeps keys 24 hours, then a claim prunes them', async () => {
    const pg = api.stores.postgres;
    const store = pgIdempotencyStore(pg);
    const answer = { status: 201, contentType: 'application/json', headers: {}, body: Buffer.from('{"old":true}') };
    for (const [scope, hours] of [['scope_prune_old', 25], ['scope_prune_day', 23]] as const) {
      const c = await store.claim(scope, 'direct', requestHash(request(scope, 'x')), 60_000);
      if (c.kind !== 'claimed') throw new Error(`claim of ${scope}: ${c.kind}`);
      await store.complete(scope, 'direct', c.owner, answer);
      await pg.query(`UPDATE idempotency_keys SET created_at = now() - $2::int * interval '1 hour' WHERE scope = $1`, [scope, hours]);
    }
    const route: Route = { method: 'POST', pattern: '/direct', access: 'tenant', handler: () => ({ status: 201, body: { fresh: true } }) };
    const wrapped = idempotencyKeys({ store, logger: createLogger({ logLevel: 'silent' }), pruneEveryMs: 0 }).wrap(route);
    // A claim prunes first: the 25-hour-old key is gone, so the same key runs afresh...
    expect(await wrapped.handler(request('scope_prune_old', 'x'))).toMatchObject({ status: 201, body: Buffer.from('{"fresh":true}') });
    // ...while the 23-hour-old one still answers with its saved result.
    expect(await wrapped.handler(request('scope_prune_day', 'x'))).toMatchObject({ status: 201, body: Buffer.from('{"old":true}') });
    const left = await pg.query<{ scope: string }>(`SELECT scope FROM idempotency_keys WHERE scope LIKE 'scope_prune_%' ORDER BY scope`);
    expect(left.rows.map((r) => r.scope)).toEqual(['scope_prune_day', 'scope_prune_old']);
  });
});
