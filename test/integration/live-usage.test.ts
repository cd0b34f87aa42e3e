import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWatermark } from '../../metering/aggregator-state.js';
import type { LiveWindow } from '../../metering/live-usage.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { clickhouseUsageQuerier } from '../../metering/usage-querier.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * Live usage of many windows at once (liveTotals, what entitlement checks read) against a
 * count made by hand from the first copy of every event: thousands of random windows (starting
 * and ending inside hours or on them, from 7 ms to 3 days, several per customer, a customer id
 * with ':'), on a sum and a count meter, with resent copies (some with other values), before the
 * aggregator ever ran, right after a run, and with hours made dirty after it.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const year = new Date().getUTCFullYear() - 1;
const S = Date.UTC(year, 8, 1);
const iso = (t: number) => new Date(t).toISOString();
let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let now = S + 5 * DAY;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
// A fixed linear congruential sequence: the same windows and events every run.
let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const customers = ['c1', 'c2', 'c3', 'c:4'];
interface Sent {
  id: string;
  customer: string;
  meter: string;
  value: string;
  ts: number;
}
/** The first copy of every event, by id: what usage counts. */
const first = new Map<string, Sent>();

/** One request of `n` events; about 15 % are copies of events of earlier requests (half of them with another value). */
async function sendBatch(n: number): Promise<void> {
  const earlier = [...first.values()];
  const batch: Sent[] = [];
  for (let i = 0; i < n; i++) {
    if (earlier.length > 0 && rnd() < 0.15) {
      const o = pick(earlier);
      batch.push({ ...o, value: rnd() < 0.5 ? o.value : String(Math.floor(rnd() * 100)) });
    } else {
      const e = { id: `e${first.size}_${Math.floor(rnd() * 1e9)}`, customer: pick(customers), meter: rnd() < 0.5 ? 'sums' : 'counts', value: String(Math.floor(rnd() * 100)), ts: S + Math.floor(rnd() * 4 * DAY) };
      first.set(e.id, e);
      batch.push(e);
    }
  }
  const r = await call('POST', '/v1/events', batch.map((e) => ({ id: e.id, customer: e.customer, meter: e.meter, value: e.value, timestamp: iso(e.ts) })));
  expect(r.status).toBe(202);
  expect(r.body).toMatchObject({ accepted: n });
  await api.drain();
}

function byHand(meter: string, w: LiveWindow): number {
  let total = 0;
  for (const e of first.values()) if (e.meter === meter && e.customer === w.customer && e.ts >= w.from && e.ts < w.to) total += meter === 'sums' ? Number(e.value) : 1;
  return total;
}

async function compare(): Promise<void> {
  const usage = clickhouseUsageQuerier(api.stores.clickhouse);
  const meters = pgMeterRepository(api.stores.postgres);
  for (const key of ['sums', 'counts']) {
    const meter = (await meters.record(t.id, key))!;
    const windows: LiveWindow[] = [];
    for (let i = 0; i < 2100; i++) {
      const from = S - DAY + Math.floor((rnd() * 5 * DAY) / 60_000) * 60_000 + (rnd() < 0.2 ? 1 : 0);
      windows.push({ customer: pick(customers), from, to: from + pick([30 * 60_000, HOUR, DAY, 23 * HOUR + 30 * 60_000, 3 * DAY, 7]) });
    }
    const got = await usage.liveTotals(meter, windows, await readWatermark(api.stores.postgres));
    const wrong = windows.map((w, i) => ({ w, got: got[i], want: String(byHand(key, w)) })).filter((x) => x.got !== x.want);
    expect(wrong.slice(0, 3), `${key}: ${wrong.length} of ${windows.length} windows wrong`).toEqual([]);
  }
}

beforeAll(async () => {
  // No overlap (rollups are trusted as soon as the watermark passes them), and no ids
  // remembered at ingest, so every resent copy reaches the raw table.
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(800 * 86_400), TALLY_AGGREGATOR_OVERLAP_SECONDS: '0', TALLY_INGEST_DEDUP_CACHE: '0' }, clock: () => now });
  t = await api.tenant('live-usage');
  expect((await call('POST', '/v1/meters', { key: 'sums', name: 'Sums', aggregation: 'sum' })).status).toBe(201);
  expect((await call('POST', '/v1/meters', { key: 'counts', name: 'Counts', aggregation: 'count' })).status).toBe(201);
  for (const c of customers) await call('POST', '/v1/customers', { id: c, name: c, currency: 'EUR' });
}, 120_000);
afterAll(async () => {
  await api?.stop();
});

describe('live usage of many windows', () => {
  it('equals the first copies counted by hand: all raw, after an aggregator run, and with dirty hours after it', async () => {
    await sendBatch(300);
    await sendBatch(100);
    await compare();
    now += 1000;
    await testAggregator(api).runOnce();
    await compare();
    await sendBatch(150);
    await compare();
    await testAggregator(api).runOnce();
    await sendBatch(50);
    await compare();
  }, 120_000);
});
