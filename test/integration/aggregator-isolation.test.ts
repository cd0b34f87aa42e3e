import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import type { Registry } from 'prom-client';
import { createRegistry, loopMetrics } from '../../core/metrics.js';
import type { ClickHouseStore } from '../../core/clickhouse.js';
import { Aggregator, aggregatorMetrics } from '../../metering/aggregator.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { type TestApi, jsonRequest, startTestApi } from '../support/api.js';

/**
 * The aggregator isolates a failing tenant's meter: while one tenant's rollups cannot be
 * written (the store refuses them; both stores answer), the other tenant's are, the
 * watermark moves on, the failure is counted — and the skipped meter is recomputed by a later
 * run although the watermark has passed its events.
 */
let api: TestApi;
let a: { id: string; auth: Record<string, string> };
let b: { id: string; auth: Record<string, string> };

/** The store's client, refusing the commands `refuses` picks (both stores still answer). */
function refusing(ch: ClickHouseStore, refuses: (query: string, tenant: unknown) => boolean): ClickHouseStore {
  const client = new Proxy(ch.client, {
    get(target, prop, receiver) {
      if (prop !== 'command') return Reflect.get(target, prop, receiver) as unknown;
      return (params: { query: string; query_params?: Record<string, unknown> }) => {
        if (refuses(params.query, params.query_params?.t)) return Promise.reject(new Error('the store refused it'));
        return target.command(params);
      };
    },
  });
  return { ...ch, client, table: (n: string) => ch.table(n) };
}

/** An aggregator on `ch` that re-reads nothing and waits for nothing, its metrics in `registry`. */
function isolatedAggregator(ch: ClickHouseStore, registry: Registry): Aggregator {
  return new Aggregator({
    ch,
    pg: api.stores.postgres,
    meters: pgMeterRepository(api.stores.postgres),
    logger: createLogger(api.stores.config),
    metrics: aggregatorMetrics(registry),
    itemFailures: loopMetrics(registry).itemFailures,
    overlapMs: 0,
    settleMs: 0,
    leaseSeconds: 5,
  });
}

/** The API's set-aside gauges for the aggregator, as Prometheus scrapes them. */
async function setAsideMetrics(): Promise<{ items: number; oldestSeconds: number }> {
  const text = await (await fetch(`${api.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1]);
  return { items: value('tally_aggregator_meters_set_aside'), oldestSeconds: value('tally_aggregator_set_aside_lag_seconds') };
}

/** Whether the usage API calls the tenant's usage over [from, from + 2 h) complete. */
async function complete(t: { auth: Record<string, string> }, from: Date): Promise<boolean> {
  const q = new URLSearchParams({ meter: 'api_calls', from: from.toISOString(), to: new Date(from.getTime() + 7_200_000).toISOString() });
  const r = await jsonRequest(api.url, t.auth, 'GET', `/v1/usage?${q.toString()}`);
  expect(r.status).toBe(200);
  return (r.body as { complete: boolean }).complete;
}

/** The tenant's rolled-up total, or undefined with no rollup. */
async function usage(t: { id: string }): Promise<string | undefined> {
  const rs = await api.stores.clickhouse.client.query({
    query: `SELECT toString(sum(sum_value)) AS v, count() AS n FROM ${api.stores.clickhouse.table('usage_hourly_v1')} FINAL WHERE tenant_id = {t:String} AND events > 0`,
    query_params: { t: t.id },
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ v: string; n: number | string }>();
  return row === undefined || Number(row.n) === 0 ? undefined : row.v;
}

beforeAll(async () => {
  api = await startTestApi();
  a = await api.tenant('poisoned');
  b = await api.tenant('healthy');
  for (const t of [a, b]) {
    await jsonRequest(api.url, t.auth, 'POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  }
});
afterAll(async () => {
  await api?.stop();
});

describe('aggregator', () => {
  it('sets a failing meter aside, aggregates the others, and redoes it once it works', async () => {
    const registry = createRegistry();
    const refuse = { on: true };
    // Every rollup write of tenant A, while on.
    const aggregator = isolatedAggregator(
      refusing(api.stores.clickhouse, (query, tenant) => refuse.on && query.includes('usage_hourly_v1') && tenant === a.id),
      registry,
    );
    // The meters' first runs mark them backfilled (nothing to backfill yet).
    refuse.on = false;
    await aggregator.runOnce();
    refuse.on = true;
    const at = new Date(Date.now() - 3_600_000).toISOString();
    expect((await jsonRequest(api.url, a.auth, 'POST', '/v1/events', { id: 'a1', customer: 'c', meter: 'api_calls', value: '5', timestamp: at })).status).toBe(202);
    expect((await jsonRequest(api.url, b.auth, 'POST', '/v1/events', { id: 'b1', customer: 'c', meter: 'api_calls', value: '7', timestamp: at })).status).toBe(202);
    // Acknowledged means in the node's log; the aggregator sees events once shipped.
    await api.drain();

    expect(await setAsideMetrics()).toEqual({ items: 0, oldestSeconds: 0 });
    const first = await aggregator.runOnce();
    expect(first.setAside).toBe(1);
    // The watermark moved on past the meter; the set-aside gauges show it, behind since the run's window began.
    const aside = await setAsideMetrics();
    expect(aside.items).toBe(1);
    expect(aside.oldestSeconds).toBeGreaterThan(0);
    expect(aside.oldestSeconds).toBeLessThan(3_600);
    // The watermark has passed A's event, which its usage does not count yet: not complete.
    const hour = new Date(Math.floor((Date.parse(at) - 1) / 3_600_000) * 3_600_000);
    expect(await complete(a, hour)).toBe(false);
    expect(await complete(b, hour)).toBe(true);
    expect(await usage(b)).toBe('7');
    expect(await usage(a)).toBeUndefined();
    const failures = (await loopMetrics(registry).itemFailures.get()).values.find((v) => v.labels.loop === 'aggregator')?.value;
    expect(failures).toBe(1);

    // Still refused: set aside again, kept from where it first failed.
    await new Promise((r) => setTimeout(r, 20));
    expect((await aggregator.runOnce()).setAside).toBe(1);

    // The store takes it again: the watermark has long passed A's event, and it is counted all the same.
    refuse.on = false;
    await new Promise((r) => setTimeout(r, 20));
    const third = await aggregator.runOnce();
    expect(third.setAside).toBeUndefined();
    expect(third.watermark.getTime()).toBeGreaterThan(first.watermark.getTime());
    expect(await usage(a)).toBe('5');
    expect(await usage(b)).toBe('7');
    expect(await complete(a, hour)).toBe(true);
    const { rows } = await api.stores.postgres.query("SELECT name FROM aggregator_state WHERE name LIKE 'retry%'");
    expect(rows).toEqual([]);
    expect(await setAsideMetrics()).toEqual({ items: 0, oldestSeconds: 0 });
  });

  it("holds back a tenant whose later copies cannot be recorded, with its meters, and counts each event once when they are", async () => {
    const ch = api.stores.clickhouse;
    const c = await api.tenant('unrecorded');
    const d = await api.tenant('recorded');
    for (const t of [c, d]) await jsonRequest(api.url, t.auth, 'POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
    const refuse = { on: false };
    // Refuses the record's writes for tenant C, and for all tenants at once (C among them).
    const records = `INSERT INTO ${ch.table('later_copy_keys_v1')}`;
    const registry = createRegistry();
    const aggregator = isolatedAggregator(
      refusing(ch, (query, tenant) => refuse.on && query.includes(records) && (tenant === undefined || tenant === c.id)),
      registry,
    );
    await aggregator.runOnce();
    refuse.on = true;
    const at = new Date(Date.now() - 3_600_000).toISOString();
    for (const [t, value] of [[c, '5'], [d, '7']] as const) {
      expect((await jsonRequest(api.url, t.auth, 'POST', '/v1/events', { id: 'e1', customer: 'c', meter: 'api_calls', value, timestamp: at })).status).toBe(202);
    }
    await api.drain();
    // A later copy of each tenant's event, with other content (as another node would have taken it).
    await ch.client.command({
      query: `INSERT INTO ${ch.table('raw_events_v1')} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at, visible_at)
              SELECT tenant_id, id, customer, meter, value + 100, timestamp, properties, ingested_at + toIntervalSecond(1), now64(6)
              FROM ${ch.table('raw_events_v1')} WHERE tenant_id IN ({c:String}, {d:String})`,
      query_params: { c: c.id, d: d.id },
    });

    const first = await aggregator.runOnce();
    expect(first.setAside).toBe(1); // C's meter, waiting with its record
    expect(await usage(d)).toBe('7');
    expect(await usage(c)).toBeUndefined();
    expect(await setAsideMetrics()).toEqual({ items: 1, oldestSeconds: expect.any(Number) });
    const failures = (await loopMetrics(registry).itemFailures.get()).values.find((v) => v.labels.loop === 'aggregator')?.value;
    expect(failures).toBe(1);

    // C keeps sending while its record fails: its run is set aside again, and the watermark
    // moves on for every tenant.
    expect((await jsonRequest(api.url, c.auth, 'POST', '/v1/events', { id: 'e2', customer: 'c', meter: 'api_calls', value: '1', timestamp: at })).status).toBe(202);
    await api.drain();
    await new Promise((r) => setTimeout(r, 20));
    const second = await aggregator.runOnce();
    expect(second.setAside).toBe(1);
    expect(second.watermark.getTime()).toBeGreaterThan(first.watermark.getTime());

    // The record is taken again from where it first failed: C's copy is left out, its event counted once.
    refuse.on = false;
    await new Promise((r) => setTimeout(r, 20));
    expect((await aggregator.runOnce()).setAside).toBeUndefined();
    expect(await usage(c)).toBe('6');
    expect(await usage(d)).toBe('7');
    const { rows } = await api.stores.postgres.query("SELECT name FROM aggregator_state WHERE name LIKE 'retry%'");
    expect(rows).toEqual([]);
  });
});
