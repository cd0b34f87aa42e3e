import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, testAggregator, type TestApi } from '../support/api.js';

/** Day and month windows follow the zone's calendar across DST changes (23- and 25-hour days). */
let api: TestApi;
let t: { id: string; key: string; auth: Record<string, string> };
const HOUR = 3_600_000;

async function get(path: string, auth = t.auth) {
  const res = await fetch(`${api.url}${path}`, { headers: auth });
  return { status: res.status, body: (await res.json()) as any };
}

/** One event per UTC hour over [from, to). */
async function hourly(meter: string, from: string, to: string) {
  const events = [];
  for (let ms = Date.parse(from); ms < Date.parse(to); ms += HOUR) {
    events.push({ id: `${meter}_${ms}`, customer: 'acme', meter, value: '1', timestamp: new Date(ms + 60_000).toISOString() });
  }
  const res = await fetch(`${api.url}/v1/events`, { method: 'POST', headers: t.auth, body: JSON.stringify(events) });
  expect(((await res.json()) as { accepted: number }).accepted).toBe(events.length);
}

beforeAll(async () => {
  // Fixed dates in 2026; the age limit is lifted so the test means the same on any day.
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(10 * 365 * 86_400) } });
  t = await api.tenant('tz');
  for (const key of ['fall', 'spring', 'berlin']) {
    await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: t.auth, body: JSON.stringify({ key, name: key, aggregation: 'count', group_by: ['g'] }) });
  }
  await hourly('fall', '2026-10-30T00:00:00Z', '2026-11-04T00:00:00Z');
  await hourly('spring', '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z');
  await hourly('berlin', '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z');
  await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: t.auth, body: JSON.stringify({ key: 'storage', name: 'Storage', aggregation: 'weighted_sum', unit: 'GB' }) });
  await fetch(`${api.url}/v1/events`, {
    method: 'POST',
    headers: t.auth,
    body: JSON.stringify([
      { id: 's1', customer: 'acme', meter: 'storage', value: '10', timestamp: '2026-10-30T00:30:00Z' },
      { id: 's2', customer: 'acme', meter: 'storage', value: '20', timestamp: '2026-10-30T02:00:00Z' },
      { id: 's3', customer: 'acme', meter: 'storage', value: '0.000001', timestamp: '2026-10-30T05:59:59.999Z' },
    ]),
  });
  await testAggregator(api).runOnce();
}, 120_000);
afterAll(async () => {
  await api.stop();
});

const rows = (body: any) => (body.data as { window_start: string; window_end: string; value: string }[]).map((r) => [r.window_start, r.window_end, r.value]);

describe('time zones', () => {
  it('New York, autumn: 1 November 2026 has 25 hours', async () => {
    const r = await get('/v1/usage?meter=fall&window=day&tz=America/New_York&from=2026-10-31T04:00:00Z&to=2026-11-03T05:00:00Z');
    expect(r.status).toBe(200);
    expect(rows(r.body)).toEqual([
      ['2026-10-31T04:00:00Z', '2026-11-01T04:00:00Z', '24'],
      ['2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z', '25'],
      ['2026-11-02T05:00:00Z', '2026-11-03T05:00:00Z', '24'],
    ]);
  });

  it('New York, spring: 8 March 2026 has 23 hours', async () => {
    const r = await get('/v1/usage?meter=spring&window=day&tz=America/New_York&from=2026-03-07T05:00:00Z&to=2026-03-09T04:00:00Z');
    expect(rows(r.body)).toEqual([
      ['2026-03-07T05:00:00Z', '2026-03-08T05:00:00Z', '24'],
      ['2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z', '23'],
    ]);
  });

  it('Berlin, autumn: 25 October 2026 has 25 hours; UTC days have 24', async () => {
    const berlin = await get('/v1/usage?meter=berlin&window=day&tz=Europe/Berlin&from=2026-10-24T22:00:00Z&to=2026-10-25T23:00:00Z');
    expect(rows(berlin.body)).toEqual([['2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z', '25']]);
    const utc = await get('/v1/usage?meter=berlin&window=day&from=2026-10-24T00:00:00Z&to=2026-10-26T00:00:00Z');
    expect(rows(utc.body)).toEqual([
      ['2026-10-24T00:00:00Z', '2026-10-25T00:00:00Z', '24'],
      ['2026-10-25T00:00:00Z', '2026-10-26T00:00:00Z', '24'],
    ]);
  });

  it('month windows start at local midnight of the 1st and are clipped to the range', async () => {
    const r = await get('/v1/usage?meter=fall&window=month&tz=America/New_York&from=2026-10-30T00:00:00Z&to=2026-11-04T00:00:00Z');
    expect(rows(r.body)).toEqual([
      ['2026-10-30T00:00:00Z', '2026-11-01T04:00:00Z', String(24 * 2 + 4)],
      ['2026-11-01T04:00:00Z', '2026-11-04T00:00:00Z', String(24 * 3 - 4)],
    ]);
  });

  it('hour windows are UTC hours', async () => {
    const r = await get('/v1/usage?meter=fall&window=hour&tz=America/New_York&from=2026-11-01T05:00:00Z&to=2026-11-01T07:00:00Z');
    expect(rows(r.body)).toEqual([
      ['2026-11-01T05:00:00Z', '2026-11-01T06:00:00Z', '1'],
      ['2026-11-01T06:00:00Z', '2026-11-01T07:00:00Z', '1'],
    ]);
  });
});

describe('weighted_sum', () => {
  it('integrates the gauge in value x hours, carried across hours without events', async () => {
    const none = await get('/v1/usage?meter=storage&from=2026-10-30T00:00:00Z&to=2026-10-30T04:00:00Z');
    expect(rows(none.body)).toEqual([['2026-10-30T00:00:00Z', '2026-10-30T04:00:00Z', '55']]); // 10 x 1.5 h + 20 x 2 h
    const hours = await get('/v1/usage?meter=storage&window=hour&from=2026-10-30T00:00:00Z&to=2026-10-30T04:00:00Z');
    expect(rows(hours.body).map((r) => r[2])).toEqual(['5', '10', '20', '20']);
  });

  it('rounds half-even to 6 decimals only at the end', async () => {
    // 10 GB x 1.5 h + 20 GB x 3 h 59 min 59.999 s + 0.000001 GB x 1 ms
    // = 15 + 79.99999444... + 0.000000000000277... = 94.99999444... GB-hours.
    const r = await get('/v1/usage?meter=storage&from=2026-10-30T00:00:00Z&to=2026-10-30T06:00:00Z');
    expect(rows(r.body)[0]![2]).toBe('94.999994');
  });
});

describe('GET /v1/usage refuses bad queries with the field at fault', () => {
  const ok = 'from=2026-10-31T00:00:00Z&to=2026-11-01T00:00:00Z';
  it.each([
    [`${ok}`, 'TALLY_ERR_MISSING_FIELD', 'meter'],
    ['meter=fall&to=2026-11-01T00:00:00Z', 'TALLY_ERR_MISSING_FIELD', 'from'],
    [`meter=fall&from=yesterday&to=2026-11-01T00:00:00Z`, 'TALLY_ERR_INVALID_VALUE', 'from'],
    [`meter=fall&from=2026-10-31T00:30:00Z&to=2026-11-01T00:00:00Z`, 'TALLY_ERR_INVALID_VALUE', 'from'],
    [`meter=fall&from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z`, 'TALLY_ERR_INVALID_VALUE', 'to'],
    [`meter=fall&${ok}&window=week`, 'TALLY_ERR_INVALID_VALUE', 'window'],
    [`meter=fall&${ok}&tz=Mars/Olympus`, 'TALLY_ERR_INVALID_VALUE', 'tz'],
    [`meter=fall&${ok}&window=day&tz=Asia/Kolkata`, 'TALLY_ERR_INVALID_VALUE', 'tz'],
    [`meter=fall&${ok}&group_by=region`, 'TALLY_ERR_INVALID_VALUE', 'group_by'],
    [`meter=fall&${ok}&limit=0`, 'TALLY_ERR_INVALID_VALUE', 'limit'],
    [`meter=fall&${ok}&limit=1e3`, 'TALLY_ERR_INVALID_VALUE', 'limit'],
    [`meter=fall&${ok}&limit=0x10`, 'TALLY_ERR_INVALID_VALUE', 'limit'],
    [`meter=fall&${ok}&customer=`, 'TALLY_ERR_INVALID_VALUE', 'customer'],
    [`meter=fall&${ok}&page_token=!!`, 'TALLY_ERR_INVALID_VALUE', 'page_token'],
  ])('%s → %s on %s', async (query, code, field) => {
    const r = await get(`/v1/usage?${query}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field });
  });

  it("an unknown meter, or another tenant's, is a 404", async () => {
    expect((await get('/v1/usage?meter=nope&from=2026-10-31T00:00:00Z&to=2026-11-01T00:00:00Z')).status).toBe(404);
    const other = await api.tenant('other');
    const r = await get('/v1/usage?meter=fall&from=2026-10-31T00:00:00Z&to=2026-11-01T00:00:00Z', other.auth);
    expect(r.status).toBe(404);
  });

  it('hour windows in a half-hour zone are fine', async () => {
    expect((await get('/v1/usage?meter=fall&window=hour&tz=Asia/Kolkata&from=2026-10-31T00:00:00Z&to=2026-11-01T00:00:00Z')).status).toBe(200);
  });

  it('group_by splits by a meter property', async () => {
    const r = await get('/v1/usage?meter=fall&group_by=g&from=2026-10-31T00:00:00Z&to=2026-11-01T00:00:00Z');
    expect(r.body.data).toEqual([{ window_start: '2026-10-31T00:00:00Z', window_end: '2026-11-01T00:00:00Z', customer: 'acme', value: '24', groups: { g: '' } }]);
  });
});
