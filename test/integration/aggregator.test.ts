import { Dec } from '../../core/money.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Aggregator } from '../../metering/aggregator.js';
import { startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * The property of the aggregator: for random events — random hours, customers, values and
 * groups, resends with other timestamps and values written as another node would, and late
 * events after a first run — every GET /v1/usage answer equals a reference computed here, in
 * decimal.js, from the raw table with an explicit first-copy dedup.
 */
let api: TestApi;
let t: { id: string; key: string; auth: Record<string, string> };
let aggregator: Aggregator;
const HOUR = 3_600_000;
const now = Date.now();
const base = Math.floor(now / HOUR) * HOUR - 72 * HOUR; // three days of hours before the current one
let seed = 42;
const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const METERS = [
  { key: 'm_sum', name: 'sum', aggregation: 'sum', group_by: ['region'] },
  { key: 'm_count', name: 'count', aggregation: 'count' },
  { key: 'm_max', name: 'max', aggregation: 'max' },
  { key: 'm_min', name: 'min', aggregation: 'min' },
  { key: 'm_latest', name: 'latest', aggregation: 'latest' },
  { key: 'm_unique', name: 'unique', aggregation: 'unique_count', value_property: 'user' },
  { key: 'm_prop', name: 'sum of a property', aggregation: 'sum', value_property: 'gb' },
  { key: 'm_gauge', name: 'storage', aggregation: 'weighted_sum', group_by: ['region'] },
] as const;

function randomEvent(i: number, meter: string, late = false) {
  const hour = late ? base + Math.floor(rand() * 24) * HOUR : base + Math.floor(rand() * 72) * HOUR;
  const value = (rand() < 0.5 ? '-' : '') + String(Math.floor(rand() * 1000)) + '.' + String(Math.floor(rand() * 1e6)).padStart(6, '0');
  const event: Record<string, unknown> = {
    id: `${meter}_${late ? 'late' : 'e'}${i}`,
    customer: pick(['c0', 'c1', 'c2', 'c3']),
    meter,
    timestamp: new Date(hour + Math.floor(rand() * HOUR)).toISOString(),
    properties: { region: pick(['eu', 'us', 'ap']), user: pick(['u0', 'u1', 'u2', 'u3', 'u4', 'u5']), gb: String(Math.floor(rand() * 100)) + '.5' },
  };
  if (meter !== 'm_prop' && meter !== 'm_count') event.value = value;
  return event;
}

async function post(events: object[]) {
  const res = await fetch(`${api.url}/v1/events`, { method: 'POST', headers: t.auth, body: JSON.stringify(events) });
  const body = (await res.json()) as { accepted: number; rejected: unknown[] };
  expect(body.rejected).toEqual([]);
}

/** Copies of existing events with other content and a later acceptance time, as another node would write them. */
async function writeResends(fraction: number) {
  const raw = api.stores.clickhouse.table('raw_events_v1');
  await api.stores.clickhouse.client.command({
    query: `INSERT INTO ${raw} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at)
      SELECT tenant_id, id, customer, meter, if(isNull(value), NULL, value + toDecimal128(7, 6)),
             timestamp + toIntervalMinute(97), '{"region":"zz","user":"resend","gb":"999.5"}', ingested_at + toIntervalMicrosecond(1)
      FROM ${raw} WHERE tenant_id = {t:String} AND cityHash64(id) % 100 < {p:UInt8}`,
    query_params: { t: t.id, p: Math.round(fraction * 100) },
  });
}

interface RawRow {
  id: string;
  customer: string;
  meter: string;
  value: string | null;
  ts: number;
  ingested: string;
  properties: string;
}

async function referenceRows(meter: string): Promise<RawRow[]> {
  const rs = await api.stores.clickhouse.client.query({
    query: `SELECT id, customer, meter, toString(value) AS value, toUnixTimestamp64Milli(timestamp) AS ts, toString(ingested_at) AS ingested, properties
            FROM ${api.stores.clickhouse.table('raw_events_v1')} WHERE tenant_id = {t:String} AND meter = {m:String}`,
    query_params: { t: t.id, m: meter },
    format: 'JSONEachRow',
  });
  const all = (await rs.json<RawRow & { ts: string }>()).map((r) => ({ ...r, ts: Number(r.ts) }));
  // Explicit dedup: per id, the copy accepted first.
  const first = new Map<string, RawRow>();
  for (const r of all) {
    const cur = first.get(r.id);
    if (cur === undefined || r.ingested < cur.ingested) first.set(r.id, r);
  }
  return [...first.values()];
}

function localKey(ms: number, window: string, tz: string): string {
  if (window === 'none') return 'all';
  if (window === 'hour') return new Date(Math.floor(ms / HOUR) * HOUR).toISOString();
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
  return window === 'day' ? parts : parts.slice(0, 7);
}

function reference(rows: RawRow[], meter: (typeof METERS)[number], window: string, tz: string, from: number, to: number, groupBy: boolean): Map<string, string> {
  const buckets = new Map<string, RawRow[]>();
  for (const r of rows) {
    if (r.ts < from || r.ts >= to) continue;
    const props = JSON.parse(r.properties) as Record<string, string>;
    const key = `${localKey(r.ts, window, tz)}|${r.customer}|${groupBy ? props.region : ''}`;
    buckets.set(key, [...(buckets.get(key) ?? []), r]);
  }
  const out = new Map<string, string>();
  for (const [key, rs] of buckets) {
    const nums = rs.map((r) => {
      if (r.value !== null) return new Dec(r.value);
      const vp = 'value_property' in meter ? (JSON.parse(r.properties) as Record<string, string>)[meter.value_property] : undefined;
      return vp === undefined ? null : new Dec(vp);
    });
    const present = nums.filter((n): n is Dec => n !== null);
    let v: string;
    switch (meter.aggregation) {
      case 'sum':
        v = present.reduce((a, b) => a.plus(b), new Dec(0)).toString();
        break;
      case 'count':
        v = String(rs.length);
        break;
      case 'max':
        v = Dec.max(...present).toString();
        break;
      case 'min':
        v = Dec.min(...present).toString();
        break;
      case 'latest': {
        let best = 0;
        rs.forEach((r, i) => {
          const b = rs[best]!;
          if (r.ts > b.ts || (r.ts === b.ts && r.ingested > b.ingested)) best = i;
        });
        v = nums[best]!.toString();
        break;
      }
      case 'unique_count':
        v = String(new Set(rs.map((r) => (JSON.parse(r.properties) as Record<string, string>).user)).size);
        break;
      case 'weighted_sum':
        throw new Error('weighted_sum has its own reference');
    }
    out.set(key, v);
  }
  return out;
}

/**
 * weighted_sum reference: per series (customer, region) the gauge holds each number from its
 * timestamp until the next event's; integrate it over [a, b) in value x ms, exactly.
 */
function gaugeIntegral(rows: RawRow[], a: number, b: number): Dec {
  const sorted = [...rows].sort((x, y) => x.ts - y.ts || (x.ingested < y.ingested ? -1 : 1));
  let cur = new Dec(0);
  let t = a;
  let total = new Dec(0);
  for (const r of sorted) {
    if (r.ts <= a) {
      cur = new Dec(r.value!);
      continue;
    }
    if (r.ts >= b) break;
    total = total.plus(cur.times(r.ts - t));
    cur = new Dec(r.value!);
    t = r.ts;
  }
  return total.plus(cur.times(b - t));
}

function gaugeReference(rows: RawRow[], windows: Map<string, [number, number]>, groupBy: boolean): Map<string, string> {
  const series = new Map<string, RawRow[]>();
  for (const r of rows) {
    const key = `${r.customer}|${(JSON.parse(r.properties) as Record<string, string>).region}`;
    series.set(key, [...(series.get(key) ?? []), r]);
  }
  const sums = new Map<string, Dec>();
  for (const [sk, rs] of series) {
    const [customer, region] = sk.split('|');
    for (const [wk, [a, b]] of windows) {
      const key = `${wk}|${customer}|${groupBy ? region : ''}`;
      sums.set(key, (sums.get(key) ?? new Dec(0)).plus(gaugeIntegral(rs, a, b)));
    }
  }
  return new Map([...sums].map(([k, v]) => [k, v.div(3_600_000).toDecimalPlaces(6, Dec.ROUND_HALF_EVEN).toFixed()]));
}

async function usage(params: Record<string, string>) {
  const res = await fetch(`${api.url}/v1/usage?${new URLSearchParams(params).toString()}`, { headers: t.auth });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    complete: boolean;
    data: { window_start: string; window_end: string; customer: string; value: string; groups?: Record<string, string> }[];
    next_page_token: string | null;
  };
}

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('agg');
  aggregator = testAggregator(api);
  // Events first, some meters defined only afterwards (backfill).
  for (const m of METERS.slice(0, 3)) {
    const r = await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: t.auth, body: JSON.stringify(m) });
    expect(r.status).toBe(201);
  }
  for (const m of METERS) await post(Array.from({ length: 150 }, (_, i) => randomEvent(i, m.key)));
  await writeResends(0.1);
  const first = await aggregator.runOnce();
  expect(first.ran).toBe(true);
  for (const m of METERS.slice(3)) {
    const r = await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: t.auth, body: JSON.stringify(m) });
    expect(r.status).toBe(201);
  }
  // Late events into hours already aggregated, then another run.
  for (const m of METERS) await post(Array.from({ length: 30 }, (_, i) => randomEvent(i, m.key, true)));
  await writeResends(0.05);
  await aggregator.runOnce();
}, 240_000);

afterAll(async () => {
  await api.stop();
});

const from = new Date(base).toISOString();
const to = new Date(base + 72 * HOUR).toISOString();

describe('usage equals the deduplicated raw events', () => {
  for (const meter of METERS) {
    for (const [window, tz] of [
      ['none', 'UTC'],
      ['hour', 'UTC'],
      ['day', 'UTC'],
      ['day', 'America/New_York'],
      ['month', 'Europe/Berlin'],
    ] as const) {
      it(`${meter.key} (${meter.aggregation}), window ${window}, ${tz}`, async () => {
        const groupBy = meter.key === 'm_sum' || meter.key === 'm_gauge';
        const params: Record<string, string> = { meter: meter.key, from, to, window, tz };
        if (groupBy) params.group_by = 'region';
        const answer = await usage(params);
        expect(answer.complete).toBe(true);
        const got = new Map(answer.data.map((r) => [`${localKey(Date.parse(r.window_start), window, tz)}|${r.customer}|${r.groups?.region ?? ''}`, r.value]));
        let want: Map<string, string>;
        if (meter.aggregation === 'weighted_sum') {
          // Every window of the range, with the bounds the API reports (checked by the key comparison).
          const windows = new Map<string, [number, number]>();
          for (let h = Date.parse(from); h < Date.parse(to); h += HOUR) windows.set(localKey(h, window, tz), [0, 0]);
          for (const r of answer.data) windows.set(localKey(Date.parse(r.window_start), window, tz), [Date.parse(r.window_start), Date.parse(r.window_end)]);
          want = gaugeReference(await referenceRows(meter.key), windows, groupBy);
        } else want = reference(await referenceRows(meter.key), meter, window, tz, Date.parse(from), Date.parse(to), groupBy);
        expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [k, v] of want) expect(new Dec(got.get(k)!).equals(new Dec(v)), `${k}: got ${got.get(k)}, want ${v}`).toBe(true);
      });
    }
  }

  it('one customer, and a sub-range', async () => {
    const subFrom = new Date(base + 10 * HOUR).toISOString();
    const subTo = new Date(base + 30 * HOUR).toISOString();
    const answer = await usage({ meter: 'm_count', from: subFrom, to: subTo, customer: 'c1' });
    const want = reference(await referenceRows('m_count'), METERS[1], 'none', 'UTC', Date.parse(subFrom), Date.parse(subTo), false);
    expect(answer.data).toHaveLength(1);
    expect(answer.data[0]!.value).toBe(want.get('all|c1|'));
  });

  it('rerunning the aggregator changes nothing', async () => {
    const q = { meter: 'm_sum', from, to, window: 'hour', group_by: 'region', limit: '10000' };
    const before = await usage(q);
    expect((await aggregator.runOnce()).ran).toBe(true);
    const after = await usage(q);
    expect(after.data).toEqual(before.data);
    expect(after.complete).toBe(true);
  });

  it('pages through results', async () => {
    const all = await usage({ meter: 'm_count', from, to, window: 'hour', limit: '10000' });
    const seen: unknown[] = [];
    let token: string | null = null;
    do {
      const page = await usage({ meter: 'm_count', from, to, window: 'hour', limit: '37', ...(token ? { page_token: token } : {}) });
      seen.push(...page.data);
      token = page.next_page_token;
    } while (token !== null);
    expect(seen).toEqual(all.data);
  });

  it('exports the aggregator lag from the stored watermark', async () => {
    await aggregator.runOnce();
    const text = await (await fetch(`${api.url}/metrics`)).text();
    const lag = Number(/^tally_aggregator_lag_seconds ([\d.e+-]+)$/m.exec(text)?.[1]);
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(60);
  });

  it('says complete: false while events of the range wait for the aggregator', async () => {
    await post([randomEvent(9999, 'm_count')]);
    // Once shipped from the node's log the event is visible, and waits for the aggregator.
    await api.drain();
    expect((await usage({ meter: 'm_count', from, to })).complete).toBe(false);
    await aggregator.runOnce();
    expect((await usage({ meter: 'm_count', from, to })).complete).toBe(true);
  });
});
