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
});
