import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * GET /v1/usage under hostile parameters: ranges are capped per window (a thousand years of
 * days once held the event loop for seconds), time zones are used under their canonical name
 * (ClickHouse knows `UTC`, not `utc`), and instants outside the hours the store holds are 400s,
 * not 500s.
 */
let api: TestApi;
let t: { id: string; key: string; auth: Record<string, string> };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function get(path: string) {
  const res = await fetch(`${api.url}${path}`, { headers: t.auth });
  return { status: res.status, body: (await res.json()) as any };
}
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const rows = (body: any) => (body.data as { window_start: string; window_end: string; value: string }[]).map((r) => [r.window_start, r.window_end, r.value]);

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(10 * 365 * 86_400) } });
  t = await api.tenant('usage-hostile');
  await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: t.auth, body: JSON.stringify({ key: 'calls', name: 'Calls', aggregation: 'count' }) });
  await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: t.auth, body: JSON.stringify({ key: 'storage', name: 'Storage', aggregation: 'weighted_sum' }) });
  const events = [];
  for (let ms = Date.parse('2026-10-24T00:00:00Z'); ms < Date.parse('2026-10-27T00:00:00Z'); ms += HOUR) {
    events.push({ id: `c_${ms}`, customer: 'acme', meter: 'calls', value: '1', timestamp: new Date(ms + 60_000).toISOString() });
  }
  events.push({ id: 's1', customer: 'acme', meter: 'storage', value: '10', timestamp: '2026-10-24T00:00:00Z' });
  const res = await fetch(`${api.url}/v1/events`, { method: 'POST', headers: t.auth, body: JSON.stringify(events) });
  expect(((await res.json()) as { accepted: number }).accepted).toBe(events.length);
  await testAggregator(api).runOnce();
}, 120_000);
afterAll(async () => {
  await api.stop();
});

describe('ranges are capped per window', () => {
  it('130 years of day windows is a 400 on to, answered at once', async () => {
    const started = performance.now();
    const r = await get('/v1/usage?meter=calls&window=day&tz=Europe/Berlin&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_RANGE_TOO_LONG', field: 'to' });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it.each([
    ['hour', 93],
    ['day', 1_097],
    ['month', 1_828],
    ['none', 1_828],
  ])('window=%s covers at most %i days', async (window, days) => {
    const from = Date.parse('2024-01-01T00:00:00Z');
    const longest = await get(`/v1/usage?meter=calls&window=${window}&tz=America/New_York&from=${iso(from)}&to=${iso(from + days * DAY)}`);
    expect(longest.status).toBe(200);
    const over = await get(`/v1/usage?meter=calls&window=${window}&from=${iso(from)}&to=${iso(from + days * DAY + HOUR)}`);
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'TALLY_ERR_RANGE_TOO_LONG', field: 'to' });
  });
});

describe('time zones are used under their canonical name', () => {
  it('tz=utc is UTC', async () => {
    const r = await get('/v1/usage?meter=calls&window=day&tz=utc&from=2026-10-24T00:00:00Z&to=2026-10-26T00:00:00Z');
    expect(r.status).toBe(200);
    expect(r.body.tz).toBe('UTC');
    expect(rows(r.body)).toEqual([
      ['2026-10-24T00:00:00Z', '2026-10-25T00:00:00Z', '24'],
      ['2026-10-25T00:00:00Z', '2026-10-26T00:00:00Z', '24'],
    ]);
  });

  it('tz=europe/berlin is Europe/Berlin (25 October 2026 has 25 hours)', async () => {
    const r = await get('/v1/usage?meter=calls&window=day&tz=europe/berlin&from=2026-10-24T22:00:00Z&to=2026-10-25T23:00:00Z');
    expect(r.status).toBe(200);
    expect(r.body.tz).toBe('Europe/Berlin');
    expect(rows(r.body)).toEqual([['2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z', '25']]);
  });

  it.each(['US/Pacific', 'gmt', 'EST5EDT'])('the alias %s answers with its canonical zone', async (tz) => {
    const r = await get(`/v1/usage?meter=calls&window=month&tz=${encodeURIComponent(tz)}&from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z`);
    expect(r.status).toBe(200);
    expect(r.body.tz).toBe(new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone);
  });

  it.each(['', 'x'.repeat(65), '+01:00', 'UTC+1', 'localtime', 'SystemV/AST4', 'SystemV/PST8PDT'])('tz=%j is a 400 on tz', async (tz) => {
    const r = await get(`/v1/usage?meter=calls&tz=${encodeURIComponent(tz)}&from=2026-10-24T00:00:00Z&to=2026-10-26T00:00:00Z`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'tz' });
  });

  it('a zone is refused for day windows only where its offset is a fraction of an hour (Caracas: -4:30 from 2007 to 2016)', async () => {
    const q = (from: string, to: string) => get(`/v1/usage?meter=calls&window=day&tz=America/Caracas&from=${from}&to=${to}`);
    expect((await q('2020-01-01T04:00:00Z', '2020-02-01T04:00:00Z')).status).toBe(200);
    expect((await q('2006-01-01T04:00:00Z', '2007-12-01T04:00:00Z')).status).toBe(200);
    expect((await q('2010-01-01T04:00:00Z', '2010-02-01T04:00:00Z')).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'tz' });
    expect((await q('2016-04-01T04:00:00Z', '2016-06-01T04:00:00Z')).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'tz' });
    expect((await q('2007-12-01T04:00:00Z', '2007-12-31T04:00:00Z')).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'tz' });
  });
});

describe('instants outside the hours the store holds', () => {
  it.each([
    ['storage', 'from=1969-12-31T00:00:00Z&to=1970-01-02T00:00:00Z', 'from'],
    ['calls', 'from=1969-12-31T00:00:00Z&to=1970-01-02T00:00:00Z', 'from'],
    ['storage', 'from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z', 'from'],
    ['calls', 'from=2105-12-01T00:00:00Z&to=2106-02-07T00:00:00Z', 'to'],
  ])('%s with %s is a 400 on %s', async (meter, range, field) => {
    const r = await get(`/v1/usage?meter=${meter}&${range}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field });
  });

  it('the first hours the store holds can be asked for', async () => {
    const r = await get('/v1/usage?meter=storage&window=day&from=1970-01-01T00:00:00Z&to=1970-01-03T00:00:00Z');
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual([]);
  });

  it('a weighted_sum over the stored hours integrates as before', async () => {
    const r = await get('/v1/usage?meter=storage&from=2026-10-24T00:00:00Z&to=2026-10-24T03:00:00Z');
    expect(rows(r.body)).toEqual([['2026-10-24T00:00:00Z', '2026-10-24T03:00:00Z', '30']]);
  });
});
