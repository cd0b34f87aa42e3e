import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { createRegistry } from '../../core/metrics.js';
import { Aggregator, aggregatorMetrics } from '../../metering/aggregator.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { faultySink, type SinkControl } from '../support/faulty-sink.js';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * Events reach the store long after they were acknowledged when the shipper is held back (a
 * ClickHouse outage). The aggregator runs many times meanwhile, its watermark passing far
 * beyond the events' acceptance time and its re-read margin; it must still count them once
 * they are shipped, because it follows when rows became visible, not when they were accepted.
 */
const HOUR = 3_600_000;
const OVERLAP_MS = 200;
let api: TestApi;
let auth: Record<string, string>;
const control: SinkControl = {};
let aggregator: Aggregator;
const hour = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
const from = new Date(hour).toISOString();
const to = new Date(hour + HOUR).toISOString();

beforeAll(async () => {
  api = await startTestApi({ wrapSink: (s) => faultySink(s, control, (f) => readFileSync(f)) });
  auth = (await api.tenant('late')).auth;
  expect((await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: auth, body: JSON.stringify({ key: 'calls', name: 'Calls', aggregation: 'sum' }) })).status).toBe(201);
  aggregator = new Aggregator({
    ch: api.stores.clickhouse,
    pg: api.stores.postgres,
    meters: pgMeterRepository(api.stores.postgres),
    logger: createLogger(api.stores.config),
    metrics: aggregatorMetrics(createRegistry()),
    overlapMs: OVERLAP_MS,
    settleMs: 0,
    leaseSeconds: 5,
  });
});
afterAll(async () => {
  await api?.stop();
});

async function post(id: string, value: string) {
  const res = await fetch(`${api.url}/v1/events`, { method: 'POST', headers: auth, body: JSON.stringify([{ id, customer: 'acme', meter: 'calls', value, timestamp: new Date(hour + 60_000).toISOString() }]) });
  expect(res.status).toBe(202);
}

async function total(): Promise<string> {
  const res = await fetch(`${api.url}/v1/usage?${new URLSearchParams({ meter: 'calls', from, to, window_size: 'hour' }).toString()}`, { headers: auth });
  const body = (await res.json()) as { data: { value: string }[] };
  return body.data.map((d) => d.value).join(',') || '0';
}

describe('a shipper held back while the aggregator runs', () => {
  it('counts the held events once they ship, however far the watermark moved meanwhile', async () => {
    await post('on-time', '1');
    await api.drain();
    await aggregator.runOnce();
    expect(await total()).toBe('1');

    let release!: () => void;
    control.hold = new Promise<void>((resolve) => (release = resolve));
    await post('held-1', '10');
    await post('held-2', '100');
    // The aggregator runs on, well past the events' acceptance time plus its margin.
    const acceptedBy = Date.now();
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, OVERLAP_MS));
      expect((await aggregator.runOnce()).ran).toBe(true);
    }
    expect((await aggregator.watermark()).getTime()).toBeGreaterThan(acceptedBy + 4 * OVERLAP_MS);
    expect(await total()).toBe('1');

    control.hold = undefined;
    release();
    await api.drain();
    await aggregator.runOnce();
    expect(await total()).toBe('111');
    // And once only: later runs change nothing.
    await aggregator.runOnce();
    expect(await total()).toBe('111');
  });

  it('a copy accepted first but made visible later replaces the copy already counted, in another hour or meter', async () => {
    // Two nodes took the same event ids; one node's log shipped minutes late. Its copies were
    // accepted first, so they are the first copies; the copies counted meanwhile, in another
    // hour (no timestamp sent, either side of an hour) or another meter, must stop counting.
    expect((await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: auth, body: JSON.stringify({ key: 'calls_b', name: 'Calls B', aggregation: 'sum' }) })).status).toBe(201);
    await aggregator.runOnce(); // backfills the new meter (no events yet)
    const ch = api.stores.clickhouse;
    const tenant = (await api.stores.postgres.query<{ id: string }>("SELECT id FROM tenants WHERE name = 'late'")).rows[0]!.id;
    const now = Date.now();
    const write = (id: string, meter: string, ts: number, acceptedAt: number, value: string) =>
      ch.client.command({
        query: `INSERT INTO ${ch.table('raw_events_v1')} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at, visible_at)
                VALUES ({t:String}, {id:String}, 'acme', {m:String}, {v:Decimal(38, 6)}, fromUnixTimestamp64Milli({ts:Int64}), '{}', fromUnixTimestamp64Micro({at:Int64}), now64(6))`,
        query_params: { t: tenant, id, m: meter, v: value, ts, at: acceptedAt * 1000 },
      });
    const usage = async (meter: string, start: number) => {
      const q = new URLSearchParams({ meter, from: new Date(start).toISOString(), to: new Date(start + HOUR).toISOString(), window_size: 'hour' });
      const body = (await (await fetch(`${api.url}/v1/usage?${q.toString()}`, { headers: auth })).json()) as { data: { value: string }[] };
      return body.data.map((d) => d.value).join(',') || '0';
    };
    const next = hour + HOUR;
    // The later copies, from the node that shipped on time: counted by a run.
    await write('moved-hour', 'calls', hour + 30 * 60_000, now - 10_000, '1000');
    await write('moved-meter', 'calls', hour + 40 * 60_000, now - 10_000, '20000');
    await new Promise((r) => setTimeout(r, 2 * OVERLAP_MS));
    await aggregator.runOnce();
    expect(await usage('calls', hour)).toBe('21111');
    // Runs go on past the re-read margin.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, OVERLAP_MS));
      await aggregator.runOnce();
    }
    // The first copies, accepted 10 s earlier, arrive: one in the next hour, one in another meter.
    await write('moved-hour', 'calls', next + 5 * 60_000, now - 20_000, '3');
    await write('moved-meter', 'calls_b', hour + 40 * 60_000, now - 20_000, '7');
    await aggregator.runOnce();
    expect(await usage('calls', hour)).toBe('111');
    expect(await usage('calls', next)).toBe('3');
    expect(await usage('calls_b', hour)).toBe('7');
    await aggregator.runOnce();
    expect(await usage('calls', hour)).toBe('111');
  });

  it('the same when the first copy was accepted just before the window (found among the rows made visible just before it)', async () => {
    const ch = api.stores.clickhouse;
    const tenant = (await api.stores.postgres.query<{ id: string }>("SELECT id FROM tenants WHERE name = 'late'")).rows[0]!.id;
    const write = (id: string, ts: number, acceptedAt: number, value: string) =>
      ch.client.command({
        query: `INSERT INTO ${ch.table('raw_events_v1')} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at, visible_at)
                VALUES ({t:String}, {id:String}, 'acme', 'calls', {v:Decimal(38, 6)}, fromUnixTimestamp64Milli({ts:Int64}), '{}', fromUnixTimestamp64Micro({at:Int64}), now64(6))`,
        query_params: { t: tenant, id, v: value, ts, at: acceptedAt * 1000 },
      });
    const usage = async (start: number) => {
      const q = new URLSearchParams({ meter: 'calls', from: new Date(start).toISOString(), to: new Date(start + HOUR).toISOString(), window_size: 'hour' });
      const body = (await (await fetch(`${api.url}/v1/usage?${q.toString()}`, { headers: auth })).json()) as { data: { value: string }[] };
      return body.data.map((d) => d.value).join(',') || '0';
    };
    const early = hour - 2 * HOUR;
    const t0 = Date.now();
    await write('moved-recent', early + 10 * 60_000, t0 - 500, '40'); // the later copy, counted first
    await new Promise((r) => setTimeout(r, 2 * OVERLAP_MS));
    await aggregator.runOnce();
    expect(await usage(early)).toBe('40');
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, OVERLAP_MS));
      await aggregator.runOnce();
    }
    // Accepted 400 ms before it, made visible over a second later: within RECENT_MS of the window.
    await write('moved-recent', early + HOUR + 10 * 60_000, t0 - 900, '2');
    await aggregator.runOnce();
    expect(await usage(early)).toBe('0');
    expect(await usage(early + HOUR)).toBe('2');
  });

  it('a copy recorded twice among the event ids (as by a re-run of migration 0003) still counts once', async () => {
    const ch = api.stores.clickhouse;
    const ids = ch.table('event_ids_v1');
    await ch.client.command({ query: `INSERT INTO ${ids} SELECT * FROM ${ids} WHERE id = 'held-1'` });
    // Another event in the hour has it recomputed.
    await post('after-dup', '10000');
    await api.drain();
    await aggregator.runOnce();
    expect(await total()).toBe('10111');
  });
});
