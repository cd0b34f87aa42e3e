import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgCustomerRepository } from '../../catalog/customers.js';
import { pgPlanRepository } from '../../catalog/plans.js';
import { SubscriptionService } from '../../catalog/subscriptions.js';
import { recordEntitlementEvents } from '../../alerts/entitlement-events.js';
import { EntitlementService } from '../../entitlements/service.js';
import type { WindowEvent } from '../../entitlements/window-events.js';
import { pgEntitlementStore } from '../../entitlements/store.js';
import { readMeterWatermark } from '../../metering/aggregator-state.js';
import { RetrySet } from '../../core/retry-set.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { clickhouseUsageQuerier } from '../../metering/usage-querier.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * Entitlements: features on plan versions, checked per customer with the usage of the current
 * reset window, counting events shipped a moment earlier (before any aggregator run) and, once
 * the aggregator ran, its rollups beside the raw events not rolled up yet without counting any
 * event twice; overrides and grants; a plan change; tenants kept apart.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// A 30-day month in the past (September), so the clock can place every check.
const year = new Date().getUTCFullYear() - 1;
const S = Date.UTC(year, 8, 1);
const iso = (t: number) => new Date(t).toISOString();

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let now = S + 10 * DAY + 12 * HOUR;
let seq = 0;
let sub: string;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
const check = async (feature: string): Promise<Record<string, unknown>> => {
  const r = await call('GET', `/v1/customers/acme/entitlements/${feature}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as Record<string, unknown>;
};
const features = async (): Promise<string[]> => ((await call('GET', '/v1/customers/acme/entitlements')).body.data as { feature: string }[]).map((e) => e.feature);

async function send(meter: string, value: string | undefined, at: number, id = `e${++seq}`): Promise<void> {
  const r = await call('POST', '/v1/events', { id, customer: 'acme', meter, ...(value === undefined ? {} : { value }), timestamp: iso(at) });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body, JSON.stringify(r.body)).toMatchObject({ accepted: 1 });
}

const pro = {
  code: 'pro',
  name: 'Pro',
  currency: 'EUR',
  interval: 'month',
  base_fee: '10',
  features: [
    { key: 'sso', name: 'Single sign-on', type: 'boolean' },
    { key: 'projects', type: 'static', value: 10 },
    { key: 'api_calls', type: 'metered', meter: 'api_calls', limit: '100' },
    { key: 'exports', type: 'metered', meter: 'exports', limit: '3', reset: 'day' },
  ],
};

beforeAll(async () => {
  // Answers are not cached here (each check sees the events just shipped), the rollups are
  // trusted as soon as the aggregator's watermark passes an hour's rows (no overlap), and ingest
  // remembers no ids, so resent copies reach the raw table.
  api = await startTestApi({
    env: { TALLY_EVENT_MAX_AGE_SECONDS: String(800 * 86_400), TALLY_ENTITLEMENT_CACHE_MS: '0', TALLY_AGGREGATOR_OVERLAP_SECONDS: '0', TALLY_INGEST_DEDUP_CACHE: '0' },
    clock: () => now,
  });
  t = await api.tenant('entitlements');
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/meters', { key: 'exports', name: 'Exports', aggregation: 'count' });
  await call('POST', '/v1/meters', { key: 'peak', name: 'Peak', aggregation: 'max' });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'EUR' });
  await call('POST', '/v1/customers', { id: 'idle', name: 'Idle', currency: 'EUR' });
}, 60_000);
afterAll(async () => {
  await api?.stop();
});

describe('entitlements', () => {
  it.each([
    ['a key twice', [pro.features[0], pro.features[0]], 'TALLY_ERR_DUPLICATE_FEATURE', 'features[1].key'],
    ['an unknown meter', [{ key: 'x', type: 'metered', meter: 'nope', limit: '1' }], 'TALLY_ERR_METER_NOT_FOUND', 'features[0].meter'],
    ['a max meter (usage does not add up)', [{ key: 'x', type: 'metered', meter: 'peak', limit: '1' }], 'TALLY_ERR_FEATURE_METER_AGGREGATION', 'features[0].meter'],
    ['a limit that is no decimal', [{ key: 'x', type: 'metered', meter: 'api_calls', limit: 'lots' }], 'TALLY_ERR_QUANTITY_INVALID', 'features[0].limit'],
    ['an unknown type', [{ key: 'x', type: 'quota' }], undefined, 'features[0].type'],
  ])('a plan with %s is refused, naming the field', async (_, features, code, field) => {
    const r = await call('POST', '/v1/plans', { ...pro, code: 'bad', features });
    expect(r.status).toBe(400);
    if (code !== undefined) expect(r.body.error.code).toBe(code);
    expect(r.body.error.field).toBe(field);
  });

  it('features are versioned with the plan; posting the same plan again changes nothing', async () => {
    const first = await call('POST', '/v1/plans', pro);
    expect(first.status).toBe(201);
    expect(first.body.features[2]).toEqual({ key: 'api_calls', type: 'metered', meter: 'api_calls', limit: '100', hard: true, reset: 'period' });
    const again = await call('POST', '/v1/plans', { ...pro, features: pro.features.map((f) => (f.key === 'api_calls' ? { ...f, hard: true, reset: 'period' } : f)) });
    expect([again.status, again.body.version]).toEqual([200, 1]);
    const r = await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'pro', start_date: iso(S) });
    expect(r.status).toBe(201);
    sub = r.body.id;
  });

  it('a boolean and a static feature', async () => {
    expect(await check('sso')).toEqual({ feature: 'sso', type: 'boolean', has_access: true, usage_as_of: iso(now) });
    expect(await check('projects')).toMatchObject({ type: 'static', has_access: true, value: 10 });
    expect(await features()).toEqual(['sso', 'projects', 'api_calls', 'exports']);
  });

  it('a hard limit is reached by events shipped a moment earlier, before any aggregator run', async () => {
    expect(await check('api_calls')).toMatchObject({ has_access: true, limit: '100', usage: '0', remaining: '100', resets_at: iso(S + 30 * DAY) });
    await send('api_calls', '60', now - 3 * HOUR, 'a1');
    await api.drain();
    expect(await check('api_calls')).toMatchObject({ has_access: true, usage: '60', remaining: '40' });
    await send('api_calls', '40', now - HOUR, 'a2');
    await api.drain();
    expect(await check('api_calls')).toMatchObject({ has_access: false, usage: '100', remaining: '0' });
  });

  it('after the aggregator ran, rollups and raw events not rolled up yet are counted once each, resent copies not at all', async () => {
    await testAggregator(api).runOnce();
    expect(await check('api_calls')).toMatchObject({ usage: '100' });
    // One hour from its rollup, the other raw again (a new event since the run).
    await send('api_calls', '5', now - HOUR + 60_000);
    await api.drain();
    expect(await check('api_calls')).toMatchObject({ usage: '105' });
    // Copies of events already counted make their hour raw again; only first copies count
    // (a copy with another value too: the first one accepted is the event).
    await send('api_calls', '60', now - 3 * HOUR, 'a1');
    await send('api_calls', '999', now - HOUR, 'a2');
    await api.drain();
    expect(await check('api_calls')).toMatchObject({ usage: '105', has_access: false });
    await testAggregator(api).runOnce();
    expect(await check('api_calls')).toMatchObject({ usage: '105' });
  });

  it('a daily limit resets at midnight UTC; the period limit at the end of the billing period', async () => {
    const midnight = S + 11 * DAY;
    for (let i = 0; i < 3; i++) await send('exports', undefined, now + i * 1000);
    await api.drain();
    expect(await check('exports')).toMatchObject({ has_access: false, usage: '3', limit: '3', resets_at: iso(midnight) });
    now = midnight + HOUR;
    expect(await check('exports')).toMatchObject({ has_access: true, usage: '0', resets_at: iso(midnight + DAY) });
    expect(await check('api_calls')).toMatchObject({ has_access: false, usage: '105' });
    now = S + 30 * DAY + HOUR; // October 1st, the next period
    expect(await check('api_calls')).toMatchObject({ has_access: true, usage: '0', resets_at: iso(S + 61 * DAY) });
  });

  it('an override raises the limit until it is removed', async () => {
    await send('api_calls', '100', now + 1000);
    await api.drain();
    expect(await check('api_calls')).toMatchObject({ has_access: false, usage: '100' });
    const set = await call('PUT', '/v1/customers/acme/entitlements/api_calls/override', { limit: '150' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ customer: 'acme', feature: 'api_calls', limit: '150', has_access: null, value: null });
    expect(await check('api_calls')).toMatchObject({ has_access: true, limit: '150', remaining: '50' });
    expect((await call('PUT', '/v1/customers/acme/entitlements/sso/override', { has_access: false })).status).toBe(200);
    expect(await check('sso')).toMatchObject({ has_access: false });
    expect((await call('PUT', '/v1/customers/acme/entitlements/api_calls/override', {})).body.error.field).toBe('limit');
    expect((await call('DELETE', '/v1/customers/acme/entitlements/api_calls/override')).body).toEqual({ id: 'api_calls', deleted: true });
    expect((await call('DELETE', '/v1/customers/acme/entitlements/api_calls/override')).status).toBe(404);
    expect(await check('api_calls')).toMatchObject({ has_access: false, limit: '100' });
  });

  it('a grant adds units until it expires', async () => {
    const bad = await call('POST', '/v1/customers/acme/entitlement_grants', { feature: 'api_calls', amount: '20', expires_at: iso(now - 1) });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'expires_at']);
    const g = await call('POST', '/v1/customers/acme/entitlement_grants', { feature: 'api_calls', amount: '20', expires_at: iso(now + 2 * DAY) });
    expect(g.status).toBe(201);
    expect(g.body).toMatchObject({ customer: 'acme', feature: 'api_calls', amount: '20', granted_at: iso(now), expires_at: iso(now + 2 * DAY) });
    expect(await check('api_calls')).toMatchObject({ has_access: true, limit: '120', remaining: '20' });
    expect((await call('GET', '/v1/customers/acme/entitlement_grants')).body.data).toHaveLength(1);
    now += 2 * DAY;
    expect(await check('api_calls')).toMatchObject({ has_access: false, limit: '100', remaining: '0' });
  });

  it("a plan change moves the customer to the new version's features", async () => {
    const v2 = await call('POST', '/v1/plans', {
      ...pro,
      features: [
        { key: 'audit_log', type: 'boolean' },
        { key: 'api_calls', type: 'metered', meter: 'api_calls', limit: '1000', hard: false },
      ],
    });
    expect([v2.status, v2.body.version]).toEqual([201, 2]);
    // Still on version 1 until the subscription changes.
    expect(await check('sso')).toMatchObject({ has_access: false });
    expect((await call('POST', `/v1/subscriptions/${sub}/change`, { plan: 'pro' })).body).toMatchObject({ plan: { code: 'pro', version: 2 } });
    expect(await features()).toEqual(['audit_log', 'api_calls']);
    expect(await check('api_calls')).toMatchObject({ has_access: true, limit: '1000', hard: false, usage: '100' });
    const gone = await call('GET', '/v1/customers/acme/entitlements/sso');
    expect([gone.status, gone.body.error.code]).toEqual([404, 'TALLY_ERR_FEATURE_NOT_FOUND']);
  });

  describe('from memory', () => {
    const pg = () => api.stores.postgres;
    let mono = 0;
    let reads = 0;
    /** A serving node's checks on the test's clocks, reading usage every 1 s (when `refreshDue` is called), counting its usage reads. */
    const node = (onWindowEvents?: (tenantId: string, events: readonly WindowEvent[]) => Promise<void>) => {
      const real = clickhouseUsageQuerier(api.stores.clickhouse);
      return new EntitlementService({
        customers: pgCustomerRepository(pg()),
        subscriptions: new SubscriptionService(pg()),
        plans: pgPlanRepository(pg()),
        meters: pgMeterRepository(pg()),
        usage: {
          ...real,
          liveTotals: (...args) => {
            reads++;
            return real.liveTotals(...args);
          },
        },
        store: pgEntitlementStore(pg()),
        watermark: (tenantId, meterKey) => readMeterWatermark(pg(), tenantId, meterKey),
        overlapMs: 0,
        cacheMs: 1_000,
        clock: () => now,
        monotonic: () => mono,
        ...(onWindowEvents === undefined ? {} : { onWindowEvents }),
      });
    };
    const sendFor = (customer: string, meter: string, value: string | undefined, at: number) =>
      call('POST', '/v1/events', { id: `m${++seq}`, customer, meter, ...(value === undefined ? {} : { value }), timestamp: iso(at) }).then((r) => expect(r.status).toBe(202));
    const customers = ['m1', 'm2', 'm3'];
    let a: EntitlementService;
    let b: EntitlementService;
    let subStart: number;
    let midnight: number;

    beforeAll(async () => {
      const plan = await call('POST', '/v1/plans', {
        code: 'mem',
        name: 'Memory',
        currency: 'EUR',
        interval: 'month',
        base_fee: '1',
        features: [
          { key: 'calls', type: 'metered', meter: 'api_calls', limit: '10' },
          { key: 'daily', type: 'metered', meter: 'exports', limit: '2', reset: 'day' },
          { key: 'sso', type: 'boolean' },
        ],
      });
      expect(plan.status).toBe(201);
      subStart = now - DAY;
      for (const c of customers) {
        expect((await call('POST', '/v1/customers', { id: c, name: c, currency: 'EUR' })).status).toBe(201);
        expect((await call('POST', '/v1/subscriptions', { customer: c, plan: 'mem', start_date: iso(subStart) })).status).toBe(201);
      }
      const events = (tenantId: string, found: readonly WindowEvent[]) => recordEntitlementEvents(pg(), tenantId, found).then(() => undefined);
      a = node(events);
      b = node(events);
    });

    it('one usage read per meter and refresh answers every check of every customer; new usage shows after the next refresh', async () => {
      const first = await a.check(t.id, 'm1', 'calls');
      expect(first).toMatchObject({ has_access: true, limit: '10', usage: '0', usage_as_of: iso(now) });
      expect(reads).toBe(2); // api_calls and exports, for every customer of the tenant at once
      for (const c of customers) for (const f of ['calls', 'daily', 'sso']) await a.check(t.id, c, f);
      expect((await a.list(t.id, 'm2')).map((e) => e.feature)).toEqual(['calls', 'daily', 'sso']);
      expect(reads).toBe(2);

      await sendFor('m1', 'api_calls', '4', now - 1000);
      await api.drain();
      now += 500;
      expect(await a.check(t.id, 'm1', 'calls')).toEqual(first); // the figures read, until the next refresh
      expect(await a.refreshDue()).toBe(0); // not due within 1 s
      mono += 1_000;
      expect(await a.refreshDue()).toBe(1);
      expect(reads).toBe(4);
      expect(await a.check(t.id, 'm1', 'calls')).toMatchObject({ has_access: true, usage: '4', remaining: '6', usage_as_of: iso(now) });
    });

    it('a hard limit is reached by events sent a second earlier', async () => {
      await sendFor('m1', 'api_calls', '6', now - 1000);
      await api.drain();
      now += 1_000;
      mono += 1_000;
      await a.refreshDue();
      expect(await a.check(t.id, 'm1', 'calls')).toMatchObject({ has_access: false, usage: '10', remaining: '0', usage_as_of: iso(now) });
    });

    it('two nodes give the same answers', async () => {
      for (const c of customers) {
        expect(await b.list(t.id, c)).toEqual(await a.list(t.id, c));
        for (const f of ['calls', 'daily', 'sso']) expect(await b.check(t.id, c, f)).toEqual(await a.check(t.id, c, f));
      }
      expect(await b.check(t.id, 'm1', 'calls')).toMatchObject({ has_access: false, usage: '10' });
    });

    it('a write through a node shows there at once, on the other node once it reads the customers again', async () => {
      await pgEntitlementStore(pg()).setOverride(t.id, 'm1', 'calls', { limit: '20' }, new Date(now));
      a.forget(t.id, 'm1');
      expect(await a.check(t.id, 'm1', 'calls')).toMatchObject({ has_access: true, limit: '20', usage: '10' });
      expect(await b.check(t.id, 'm1', 'calls')).toMatchObject({ has_access: false, limit: '10' });
      // The next usage refresh reads the written customer again: the write stays shown.
      mono += 1_000;
      await Promise.all([a.refreshDue(), b.refreshDue()]);
      expect(await a.check(t.id, 'm1', 'calls')).toMatchObject({ has_access: true, limit: '20' });
      expect(await b.check(t.id, 'm1', 'calls')).toMatchObject({ has_access: false, limit: '10' });
      mono += 4_000; // contexts are read again every 5 refreshes' time
      await Promise.all([a.refreshDue(), b.refreshDue()]);
      expect(await b.check(t.id, 'm1', 'calls')).toEqual(await a.check(t.id, 'm1', 'calls'));
      expect(await b.check(t.id, 'm1', 'calls')).toMatchObject({ has_access: true, limit: '20' });
      await pgEntitlementStore(pg()).deleteOverride(t.id, 'm1', 'calls');
      a.forget(t.id, 'm1');
    });

    it('a window that rolled over since the last read is read before it is answered', async () => {
      await sendFor('m2', 'exports', undefined, now - 2000);
      await sendFor('m2', 'exports', undefined, now - 1000);
      await api.drain();
      mono += 1_000;
      await a.refreshDue();
      midnight = Math.ceil(now / DAY) * DAY;
      expect(await a.check(t.id, 'm2', 'daily')).toMatchObject({ has_access: false, usage: '2', resets_at: iso(midnight) });
      now = midnight + 1_000;
      const before = reads;
      expect(await a.check(t.id, 'm2', 'daily')).toMatchObject({ has_access: true, usage: '0', resets_at: iso(midnight + DAY), usage_as_of: iso(now) });
      expect(reads).toBeGreaterThan(before);
    });

    it("a tenant whose read fails keeps its previous figures, is reported, and does not hold up another tenant's", async () => {
      const other = await api.tenant('entitlements-other');
      const theirs = (method: string, path: string, body?: unknown) => jsonRequest(api.url, other.auth, method, path, body);
      await theirs('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
      await theirs('POST', '/v1/plans', { code: 'p', name: 'P', currency: 'EUR', interval: 'month', features: [{ key: 'calls', type: 'metered', meter: 'api_calls', limit: '5' }] });
      await theirs('POST', '/v1/customers', { id: 'z', name: 'Z', currency: 'EUR' });
      await theirs('POST', '/v1/subscriptions', { customer: 'z', plan: 'p', start_date: iso(now - DAY) });
      const real = clickhouseUsageQuerier(api.stores.clickhouse);
      let poisoned = false;
      const failed: string[] = [];
      const service = new EntitlementService({
        customers: pgCustomerRepository(pg()),
        subscriptions: new SubscriptionService(pg()),
        plans: pgPlanRepository(pg()),
        meters: pgMeterRepository(pg()),
        usage: { ...real, liveTotals: (meter, ...rest) => (poisoned && meter.tenant_id === t.id ? Promise.reject(new Error('poisoned')) : real.liveTotals(meter, ...rest)) },
        store: pgEntitlementStore(pg()),
        watermark: (tenantId, meterKey) => readMeterWatermark(pg(), tenantId, meterKey),
        overlapMs: 0,
        cacheMs: 1_000,
        clock: () => now,
        monotonic: () => mono,
        onRefreshFailed: (tenantId) => failed.push(tenantId),
      });
      const before = await service.check(t.id, 'm1', 'calls');
      expect(await service.check(other.id, 'z', 'calls')).toMatchObject({ usage: '0' });
      poisoned = true;
      await sendFor('m1', 'api_calls', '1', now - 500);
      const r = await theirs('POST', '/v1/events', { id: 'z1', customer: 'z', meter: 'api_calls', value: '2', timestamp: iso(now - 500) });
      expect(r.status).toBe(202);
      await api.drain();
      mono += 1_000;
      expect(await service.refreshDue()).toBe(1);
      expect(failed).toEqual([t.id]);
      expect(await service.check(other.id, 'z', 'calls')).toMatchObject({ usage: '2', usage_as_of: iso(now) });
      expect(await service.check(t.id, 'm1', 'calls')).toEqual(before);
      poisoned = false;
      mono += 1_000;
      expect(await service.refreshDue()).toBe(2);
      expect((await service.check(t.id, 'm1', 'calls')).usage).toBe(String(Number(before.usage) + 1));
    });

    it('entitlement.limit_reached once per window and entitlement.reset when a window begins, whichever node finds them', async () => {
      for (let i = 0; i < 3; i++) {
        mono += 1_000;
        await Promise.all([a.refreshDue(), b.refreshDue()]);
      }
      const events = async (type: string) =>
        ((await call('GET', `/v1/webhook_events?type=${type}&limit=100`)).body.data as { data: { customer: string; feature: string; window: { start: string }; usage: string; limit: string } }[]).map((e) => e.data);
      // (The server's own refresh loop may have found acme's, earlier in this file.)
      const reached = (await events('entitlement.limit_reached')).filter((e) => customers.includes(e.customer));
      const key = (e: { customer: string; feature: string; window: { start: string } }) => `${e.customer} ${e.feature} ${e.window.start}`;
      expect(reached.map(key).sort()).toEqual([`m1 calls ${iso(subStart)}`, `m2 daily ${iso(midnight - DAY)}`]);
      expect(reached.find((e) => e.customer === 'm1' && e.feature === 'calls')).toMatchObject({ usage: '10', limit: '10' });
      expect(reached.find((e) => e.customer === 'm2' && e.feature === 'daily')).toMatchObject({ usage: '2', limit: '2' });
      const resets = (await events('entitlement.reset')).filter((e) => customers.includes(e.customer));
      // The subscriptions began the day before the first read: that day's window was the second, as is the one after midnight.
      expect(resets.map(key).sort()).toEqual(customers.flatMap((c) => [`${c} daily ${iso(midnight - DAY)}`, `${c} daily ${iso(midnight)}`]).sort());
    });

    it("a meter the aggregator set aside has its events read raw on a node's refresh", async () => {
      const calls = async () => {
        mono += 1_000;
        await a.refreshDue();
        return Number((await a.check(t.id, 'm2', 'calls')).usage);
      };
      const was = await calls();
      await sendFor('m2', 'api_calls', '1', now - 1000);
      await api.drain();
      // The watermark moves past the event while the meter's recompute fails: its rollups lack it.
      const { rows } = await pg().query<{ watermark: Date }>("SELECT watermark FROM aggregator_state WHERE name = 'hourly'");
      const before = rows[0]!.watermark;
      const retries = new RetrySet(pg(), 'aggregator');
      const item = { tenantId: t.id, item: 'api_calls', since: before.getTime() };
      await pg().query("UPDATE aggregator_state SET watermark = clock_timestamp() + interval '1 second' WHERE name = 'hourly'");
      await retries.add([item]);
      try {
        expect(await calls()).toBe(was + 1);
      } finally {
        await retries.done([item]);
        await pg().query("UPDATE aggregator_state SET watermark = $1 WHERE name = 'hourly'", [before]);
      }
    });
  });

  it("a daily limit resets at midnight in the customer's time zone", async () => {
    const bad = await call('POST', '/v1/customers', { id: 'tokyo', name: 'Tokyo KK', currency: 'EUR', timezone: 'Asia/Nowhere' });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'timezone']);
    const made = await call('POST', '/v1/customers', { id: 'tokyo', name: 'Tokyo KK', currency: 'EUR', timezone: 'asia/tokyo' });
    expect([made.status, made.body.timezone]).toEqual([201, 'Asia/Tokyo']);
    expect((await call('POST', '/v1/subscriptions', { customer: 'tokyo', plan: 'mem', start_date: iso(now - DAY) })).status).toBe(201);
    // Midnight in Tokyo (UTC+9) is 15:00 UTC.
    const localMidnight = Math.ceil((now + 9 * HOUR) / DAY) * DAY - 9 * HOUR;
    now = localMidnight - 10 * 60_000;
    for (const minutes of [30, 20]) {
      const r = await call('POST', '/v1/events', { id: `tk${minutes}`, customer: 'tokyo', meter: 'exports', timestamp: iso(localMidnight - minutes * 60_000) });
      expect(r.status).toBe(202);
    }
    await api.drain();
    const get = (f: string) => call('GET', `/v1/customers/tokyo/entitlements/${f}`).then((r) => r.body as Record<string, unknown>);
    expect(await get('daily')).toMatchObject({ has_access: false, usage: '2', resets_at: iso(localMidnight) });
    now = localMidnight + 1_000;
    expect(await get('daily')).toMatchObject({ has_access: true, usage: '0', resets_at: iso(localMidnight + DAY) });
    // Back in UTC, the same events fall in the UTC day, which has not ended.
    expect((await call('PATCH', '/v1/customers/tokyo', { timezone: null })).body.timezone).toBeNull();
    expect(await get('daily')).toMatchObject({ has_access: false, usage: '2', resets_at: iso(Math.ceil(now / DAY) * DAY) });
  });

  it("another tenant's customer, an unknown one and one without a subscription", async () => {
    const other = await api.tenant('other');
    const theirs = await jsonRequest(api.url, other.auth, 'GET', '/v1/customers/acme/entitlements/api_calls');
    expect([theirs.status, theirs.body.error.code]).toEqual([404, 'TALLY_ERR_NOT_FOUND']);
    expect((await jsonRequest(api.url, other.auth, 'GET', '/v1/customers/acme/entitlements')).status).toBe(404);
    expect((await jsonRequest(api.url, other.auth, 'PUT', '/v1/customers/acme/entitlements/api_calls/override', { limit: '5' })).status).toBe(404);
    expect((await call('GET', '/v1/customers/nobody/entitlements/api_calls')).status).toBe(404);
    expect((await call('GET', '/v1/customers/idle/entitlements')).body).toEqual({ customer: 'idle', data: [] });
    const none = await call('GET', '/v1/customers/idle/entitlements/api_calls');
    expect([none.status, none.body.error.code]).toEqual([404, 'TALLY_ERR_FEATURE_NOT_FOUND']);
  });

  it('a meter the aggregator set aside has its events read raw from the instant they wait from', async () => {
    const usage = async () => Number((await check('api_calls')).usage);
    const was = await usage();
    await send('api_calls', '7', now - HOUR + 120_000);
    await api.drain();
    // The watermark moves past the event while the meter's recompute fails: its rollups lack it.
    const pg = api.stores.postgres;
    const { rows } = await pg.query<{ watermark: Date }>("SELECT watermark FROM aggregator_state WHERE name = 'hourly'");
    const before = rows[0]!.watermark;
    const retries = new RetrySet(pg, 'aggregator');
    const item = { tenantId: t.id, item: 'api_calls', since: before.getTime() };
    await pg.query("UPDATE aggregator_state SET watermark = clock_timestamp() + interval '1 second' WHERE name = 'hourly'");
    await retries.add([item]);
    try {
      expect(await usage()).toBe(was + 7);
    } finally {
      await retries.done([item]);
      await pg.query("UPDATE aggregator_state SET watermark = $1 WHERE name = 'hourly'", [before]);
    }
    await testAggregator(api).runOnce();
    expect(await usage()).toBe(was + 7);
  });
});
