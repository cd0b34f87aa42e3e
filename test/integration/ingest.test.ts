import { pack } from '../support/msgpack.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, testAggregator, type TestApi } from '../support/api.js';

let api: TestApi;
let tenant: { id: string; key: string; auth: Record<string, string> };
const MAX_EVENTS = 50;

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_INGEST_MAX_EVENTS: String(MAX_EVENTS), TALLY_EVENT_MAX_PROPERTIES: '5', TALLY_EVENT_MAX_PROPERTIES_BYTES: '200' } });
  tenant = await api.tenant('ingest');
});
afterAll(async () => {
  await api.stop();
});

let seq = 0;
const uid = (p = 'evt') => `${p}_${Date.now()}_${seq++}`;
const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

async function post(body: string | Buffer | object, contentType = 'application/json', auth: Record<string, string> = tenant.auth) {
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const res = await fetch(`${api.url}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': contentType }, body: payload });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) };
}

interface StoredRow {
  tenant_id: string;
  id: string;
  customer: string;
  meter: string;
  value: string | null;
  timestamp: string;
  properties: string;
}

async function stored(ids: string[], tenantId = tenant.id): Promise<StoredRow[]> {
  await api.drain();
  const rs = await api.stores.clickhouse.client.query({
    query: `SELECT tenant_id, id, customer, meter, toString(value) AS value, toString(timestamp) AS timestamp, properties
            FROM ${api.stores.clickhouse.table('raw_events_v1')} WHERE tenant_id = {t:String} AND id IN {ids:Array(String)} ORDER BY id`,
    query_params: { t: tenantId, ids },
    format: 'JSONEachRow',
  });
  return rs.json<StoredRow>();
}

const event = (over: Record<string, unknown> = {}): Record<string, unknown> & { id: string } => ({ id: uid(), customer: 'acme', meter: 'api_calls', value: '1', ...over });

describe('formats', () => {
  it('one JSON object: accepted and stored exactly', async () => {
    const ts = iso(-60_000);
    const e = event({ value: '12.5', timestamp: ts, properties: { region: 'eu', n: 3 } });
    const r = await post(e);
    expect(r).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0, rejected: [] } });
    const [row] = await stored([e.id]);
    expect(row).toEqual({
      tenant_id: tenant.id,
      id: e.id,
      customer: 'acme',
      meter: 'api_calls',
      value: '12.5',
      timestamp: ts.replace('T', ' ').replace('Z', ''),
      properties: '{"region":"eu","n":3}',
    });
  });

  it('a JSON array with good and bad events: the bad ones never sink the batch', async () => {
    const good1 = event();
    const good2 = event({ value: 7 });
    const r = await post([good1, { id: 'bad1', customer: 'acme', meter: 'api_calls', value: 'abc' }, good2, 42]);
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected).toEqual([
      { index: 1, id: 'bad1', code: 'TALLY_ERR_VALUE_INVALID', message: expect.any(String) },
      { index: 3, code: 'TALLY_ERR_EVENT_INVALID', message: 'event must be an object, got a number' },
    ]);
    expect((await stored([good1.id, good2.id, 'bad1'])).map((x) => x.id)).toEqual([good1.id, good2.id].sort());
  });

  it('NDJSON: a line that is not JSON is rejected by its index, the others are kept', async () => {
    const a = event();
    const b = event();
    const body = `${JSON.stringify(a)}\n{"id": oops\n\n${JSON.stringify(b)}\n`;
    const r = await post(body, 'application/x-ndjson');
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected).toEqual([{ index: 1, code: 'TALLY_ERR_EVENT_INVALID', message: expect.stringMatching(/^line is not valid JSON/) }]);
    expect(await stored([a.id, b.id])).toHaveLength(2);
  });

  it('msgpack: one map, and an array of maps with native timestamps and 64-bit integers', async () => {
    const one = event({ value: 2.25 });
    expect((await post(pack(one), 'application/msgpack')).body).toMatchObject({ accepted: 1 });
    const when = new Date(Date.now() - 3_600_000);
    const big = event({ value: 12345678901234567890n, timestamp: when });
    const r = await post(pack([big, event({ value: '0.5' })]), 'application/msgpack');
    expect(r.body).toMatchObject({ accepted: 2, rejected: [] });
    const rows = await stored([one.id, big.id]);
    expect(rows.find((x) => x.id === one.id)!.value).toBe('2.25');
    const bigRow = rows.find((x) => x.id === big.id)!;
    expect(bigRow.value).toBe('12345678901234567890');
    expect(bigRow.timestamp).toBe(when.toISOString().replace('T', ' ').replace('Z', ''));
  });

  it('CloudEvents, single and batch: type is the meter, subject the customer, data the properties', async () => {
    const ce = { specversion: '1.0', id: uid('ce'), source: 'storage-svc', type: 'storage_gb', subject: 'acme', time: iso(-1000), data: { gb: '12.5', region: 'us' } };
    expect((await post(ce, 'application/cloudevents+json')).body).toMatchObject({ accepted: 1, rejected: [] });
    const batch = [
      { ...ce, id: uid('ce') },
      { ...ce, id: uid('ce'), specversion: '0.3' },
    ];
    const r = await post(batch, 'application/cloudevents-batch+json');
    expect(r.body).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: 'TALLY_ERR_CLOUDEVENT_INVALID' }] });
    const [row] = await stored([ce.id]);
    expect(row).toMatchObject({ meter: 'storage_gb', customer: 'acme', value: null, properties: '{"gb":"12.5","region":"us"}' });
  });

  it.each([
    ['malformed JSON', '{"id":', 'application/json', 'TALLY_ERR_INVALID_JSON'],
    ['a JSON scalar', '42', 'application/json', 'TALLY_ERR_INVALID_BODY'],
    ['an array for a single CloudEvent', '[]', 'application/cloudevents+json', 'TALLY_ERR_INVALID_BODY'],
    ['an object for a CloudEvents batch', '{}', 'application/cloudevents-batch+json', 'TALLY_ERR_INVALID_BODY'],
    ['msgpack that does not decode', Buffer.from([0xc1, 0xff, 0x00]), 'application/msgpack', 'TALLY_ERR_INVALID_BODY'],
  ])('a body that cannot be parsed at all (%s) is a 400', async (_what, body, type, code) => {
    const r = await post(body, type);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(code);
  });

  it('an unknown Content-Type is a 415 naming the accepted ones', async () => {
    const r = await post('id,customer\n', 'text/csv');
    expect(r.status).toBe(415);
    expect(r.body.error.message).toContain('application/x-ndjson');
  });

  it('events for meters that are not defined are kept', async () => {
    const e = event({ meter: 'not_defined_anywhere' });
    expect((await post(e)).body.accepted).toBe(1);
    expect(await stored([e.id])).toHaveLength(1);
  });

  it('an event without a timestamp gets the receive time', async () => {
    const before = Date.now();
    const e = event();
    await post(e);
    const [row] = await stored([e.id]);
    const t = Date.parse(`${row!.timestamp.replace(' ', 'T')}Z`);
    expect(t).toBeGreaterThanOrEqual(before - 1);
    expect(t).toBeLessThanOrEqual(Date.now());
  });
});

describe('rejection codes (each with a good event beside it)', () => {
  const long = 'x'.repeat(257);
  const manyProps = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`k${i}`, i]));
  it.each([
    ['not an object', 'str', 'TALLY_ERR_EVENT_INVALID'],
    ['an unknown field', { vaule: '1' }, 'TALLY_ERR_EVENT_UNKNOWN_FIELD'],
    ['no id', { id: undefined }, 'TALLY_ERR_ID_MISSING'],
    ['an empty id', { id: '' }, 'TALLY_ERR_ID_MISSING'],
    ['a numeric id', { id: 42 }, 'TALLY_ERR_ID_INVALID'],
    ['an id too long', { id: long }, 'TALLY_ERR_ID_INVALID'],
    ['an id with a control character', { id: 'a\u0000b' }, 'TALLY_ERR_ID_INVALID'],
    ['no customer', { customer: undefined }, 'TALLY_ERR_CUSTOMER_MISSING'],
    ['a customer object', { customer: { id: 1 } }, 'TALLY_ERR_CUSTOMER_INVALID'],
    ['no meter', { meter: undefined }, 'TALLY_ERR_METER_MISSING'],
    ['a meter with spaces', { meter: 'api calls' }, 'TALLY_ERR_METER_INVALID'],
    ['a value that is not a number', { value: 'ten' }, 'TALLY_ERR_VALUE_INVALID'],
    ['a value "NaN"', { value: 'NaN' }, 'TALLY_ERR_VALUE_INVALID'],
    ['a value "Infinity"', { value: 'Infinity' }, 'TALLY_ERR_VALUE_INVALID'],
    ['a value in exponent text', { value: '1e3' }, 'TALLY_ERR_VALUE_INVALID'],
    ['a value with spaces', { value: ' 1' }, 'TALLY_ERR_VALUE_INVALID'],
    ['a boolean value', { value: true }, 'TALLY_ERR_VALUE_INVALID'],
    ['seven decimals as text', { value: '0.0000001' }, 'TALLY_ERR_VALUE_TOO_PRECISE'],
    ['seven decimals as a number', { value: 0.1234567 }, 'TALLY_ERR_VALUE_TOO_PRECISE'],
    ['10^20 as text', { value: '100000000000000000000' }, 'TALLY_ERR_VALUE_OUT_OF_RANGE'],
    ['-10^20 as text', { value: '-100000000000000000000.5' }, 'TALLY_ERR_VALUE_OUT_OF_RANGE'],
    ['1e21 as a number', { value: 1e21 }, 'TALLY_ERR_VALUE_OUT_OF_RANGE'],
    ['a timestamp without a zone', { timestamp: '2026-11-22T10:00:00' }, 'TALLY_ERR_TIMESTAMP_INVALID'],
    ['a timestamp on Feb 30', { timestamp: '2026-02-30T10:00:00Z' }, 'TALLY_ERR_TIMESTAMP_INVALID'],
    ['a numeric timestamp', { timestamp: 1_700_000_000 }, 'TALLY_ERR_TIMESTAMP_INVALID'],
    ['a timestamp 36 days old', { timestamp: new Date(Date.now() - 36 * 86_400_000).toISOString() }, 'TALLY_ERR_TIMESTAMP_TOO_OLD'],
    ['a timestamp 10 minutes ahead', { timestamp: new Date(Date.now() + 600_000).toISOString() }, 'TALLY_ERR_TIMESTAMP_IN_FUTURE'],
    ['properties that are an array', { properties: [1, 2] }, 'TALLY_ERR_PROPERTIES_INVALID'],
    ['too many properties', { properties: manyProps }, 'TALLY_ERR_PROPERTIES_TOO_MANY'],
    ['properties too large', { properties: { big: 'y'.repeat(300) } }, 'TALLY_ERR_PROPERTIES_TOO_LARGE'],
  ])('%s → %s', async (_what, patch, code) => {
    const bad = typeof patch === 'string' ? patch : event(patch);
    const good = event();
    const r = await post([bad, good]);
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);
    expect(r.body.rejected).toHaveLength(1);
    expect(r.body.rejected[0]).toMatchObject({ index: 0, code });
    expect(r.body.rejected[0].message.length).toBeGreaterThan(10);
    expect(await stored([good.id])).toHaveLength(1);
  });

  it('properties nested deeper than the stack are one rejected event, not a failed request', async () => {
    const good = event();
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const r = await post(`[{"id":"deep1","customer":"c","meter":"m","value":"1","properties":{"x":${deep}}}, ${JSON.stringify(good)}]`);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, rejected: [{ index: 0, id: 'deep1', code: 'TALLY_ERR_PROPERTIES_INVALID' }] });
  });

  it.each([
    ['missing specversion', { specversion: undefined }],
    ['missing source', { source: undefined }],
    ['a non-JSON datacontenttype', { datacontenttype: 'text/xml' }],
  ])('CloudEvent with %s → TALLY_ERR_CLOUDEVENT_INVALID', async (_what, patch) => {
    const ce = { specversion: '1.0', id: uid('ce'), source: 's', type: 'm', subject: 'c', ...patch };
    const r = await post([ce], 'application/cloudevents-batch+json');
    expect(r.body.rejected[0]).toMatchObject({ index: 0, code: 'TALLY_ERR_CLOUDEVENT_INVALID' });
  });
});

describe('exact values', () => {
  it.each([
    ['"0.000001"', '"0.000001"', '0.000001'],
    ['"-5"', '"-5"', '-5'],
    ['"007.500000"', '"007.500000"', '7.5'],
    ['the largest', '"99999999999999999999.999999"', '99999999999999999999.999999'],
    ['a plain number', '0.1', '0.1'],
    ['a 16-digit number literal', '12345678901234.56', '12345678901234.56'],
    ['a 20-digit integer literal', '12345678901234567890', '12345678901234567890'],
    ['a number in exponent form', '2.5e3', '2500'],
  ])('%s is stored as %s', async (_what, literal, expected) => {
    const id = uid();
    const r = await post(`[{"id":"${id}","customer":"c","meter":"m","value":${literal}}]`);
    expect(r.body).toMatchObject({ accepted: 1, rejected: [] });
    expect((await stored([id]))[0]!.value).toBe(expected);
  });

  it('a long literal that a double would round is refused, not rounded', async () => {
    const r = await post(`[{"id":"${uid()}","customer":"c","meter":"m","value":0.1000000000000000001}]`);
    expect(r.body.rejected[0].code).toBe('TALLY_ERR_VALUE_TOO_PRECISE');
  });

  it('number literals in properties are kept exactly as written, and usage reads them back exactly', async () => {
    const meter = `props_${seq++}`;
    const created = await fetch(`${api.url}/v1/meters`, {
      method: 'POST',
      headers: { ...tenant.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ key: meter, name: 'props', aggregation: 'sum', value_property: 'gb', group_by: ['n'] }),
    });
    expect(created.status).toBe(201);
    const [a, b] = [uid(), uid()];
    // No value: the number is the value_property's. The 20-digit group value is a 64-bit integer.
    const body = `[{"id":"${a}","customer":"c","meter":"${meter}","properties":{"gb":"12345678901234.123456","n":18446744073709551615}},
                   {"id":"${b}","customer":"c","meter":"${meter}","properties":{"gb":0.5,"n":0.30000000000000004}}]`;
    expect((await post(body)).body).toMatchObject({ accepted: 2, rejected: [] });
    expect((await stored([a, b])).map((r) => r.properties).sort()).toEqual(
      ['{"gb":"12345678901234.123456","n":18446744073709551615}', '{"gb":0.5,"n":0.30000000000000004}'].sort(),
    );
    await testAggregator(api).runOnce();
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const q = new URLSearchParams({ meter, group_by: 'n', from: new Date(hour - 3_600_000).toISOString(), to: new Date(hour + 3_600_000).toISOString() });
    const usage = (await (await fetch(`${api.url}/v1/usage?${q.toString()}`, { headers: tenant.auth })).json()) as { data: { value: string; groups: { n: string } }[] };
    expect(usage.data.map((r) => [r.groups.n, r.value]).sort()).toEqual([
      ['0.30000000000000004', '0.5'],
      ['18446744073709551615', '12345678901234.123456'],
    ]);
  });

  it.each([
    ['an integer beyond 64 bits', '{"big":123456789012345678901234567890}', 'properties.big is the number 123456789012345678901234567890'],
    ['a decimal a double would round', '{"a":{"b":[1,123456789012345678.25]}}', 'properties.a.b[1] is the number 123456789012345678.25'],
    ['a number beyond a double', '{"x":1e400}', 'properties.x is the number 1e400'],
  ])('a number in properties the event store could not read exactly is refused, naming its path: %s', async (_what, props, message) => {
    const [bad, good] = [uid(), uid()];
    const r = await post(`[{"id":"${bad}","customer":"c","meter":"m","value":"1","properties":${props}},{"id":"${good}","customer":"c","meter":"m","value":"1"}]`);
    expect(r.body).toMatchObject({ accepted: 1, rejected: [{ index: 0, id: bad, code: 'TALLY_ERR_PROPERTIES_INVALID' }] });
    expect(r.body.rejected[0].message).toContain(message);
    expect(r.body.rejected[0].message).toContain('send it as a string');
    expect((await stored([bad, good])).map((row) => row.id)).toEqual([good]);
  });

  it('a CloudEvent names its data field', async () => {
    const id = uid();
    const r = await post(`{"specversion":"1.0","id":"${id}","source":"s","type":"m","subject":"c","data":{"tokens":99999999999999999999999}}`, 'application/cloudevents+json');
    expect(r.body.rejected[0]).toMatchObject({ code: 'TALLY_ERR_PROPERTIES_INVALID', message: expect.stringContaining('data.tokens is the number 99999999999999999999999') });
  });
});

describe('dedup by (tenant, id)', () => {
  it('a repeat in the same request and a resend with another timestamp are duplicates, stored once', async () => {
    const e = event({ timestamp: iso(-5000) });
    const first = await post([e, { ...e, value: '99' }]);
    expect(first.body).toMatchObject({ accepted: 1, duplicates: 1 });
    const resend = await post({ ...e, timestamp: iso(-1000), value: '5' });
    expect(resend.body).toMatchObject({ accepted: 0, duplicates: 1 });
    const rows = await stored([e.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).toBe('1'); // the first accepted copy wins
  });

  it('concurrent resends of one id: exactly one is accepted', async () => {
    const e = event();
    const results = await Promise.all(Array.from({ length: 8 }, () => post(e)));
    expect(results.reduce((n: number, r) => n + (r.body.accepted as number), 0)).toBe(1);
    expect(results.reduce((n: number, r) => n + (r.body.duplicates as number), 0)).toBe(7);
    expect(await stored([e.id])).toHaveLength(1);
  });

  it('copies ingest could not recognise (another node, a restart) collapse to the first accepted one in events_v1', async () => {
    const e = event({ value: '10' });
    expect((await post(e)).body.accepted).toBe(1);
    await api.drain();
    const raw = api.stores.clickhouse.table('raw_events_v1');
    // A later copy with other content, as another node would have written it.
    await api.stores.clickhouse.client.command({
      query: `INSERT INTO ${raw} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at) SELECT tenant_id, id, customer, meter, toDecimal128('99', 6), timestamp - INTERVAL 1 HOUR, '{"late":true}', ingested_at + INTERVAL 1 SECOND FROM ${raw} WHERE id = {id:String}`,
      query_params: { id: e.id },
    });
    const rs = await api.stores.clickhouse.client.query({
      query: `SELECT toString(value) AS value, properties, copies FROM ${api.stores.clickhouse.table('events_v1')} WHERE tenant_id = {t:String} AND id = {id:String}`,
      query_params: { t: tenant.id, id: e.id },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ value: '10', properties: '{}', copies: '2' }]);
  });

  it('the same id from another tenant is a different event', async () => {
    const other = await api.tenant('other');
    const e = event();
    expect((await post(e)).body.accepted).toBe(1);
    expect((await post(e, 'application/json', other.auth)).body.accepted).toBe(1);
    expect(await stored([e.id], tenant.id)).toHaveLength(1);
    expect(await stored([e.id], other.id)).toHaveLength(1);
  });
});

describe('limits and auth', () => {
  it(`more than ${MAX_EVENTS} events is a 413 naming the limit, and nothing is stored`, async () => {
    const events = Array.from({ length: MAX_EVENTS + 1 }, () => event());
    const r = await post(events);
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_BATCH_TOO_LARGE', message: expect.stringContaining(String(MAX_EVENTS)) });
    expect(await stored(events.map((e) => e.id))).toHaveLength(0);
    const nd = await post(events.map((e) => JSON.stringify(e)).join('\n'), 'application/x-ndjson');
    expect(nd.status).toBe(413);
  });

  it(`exactly ${MAX_EVENTS} events is fine`, async () => {
    expect((await post(Array.from({ length: MAX_EVENTS }, () => event()))).body.accepted).toBe(MAX_EVENTS);
  });

  it('a body over TALLY_MAX_BODY_BYTES is a 413', async () => {
    const r = await post('x'.repeat(api.stores.config.http.maxBodyBytes + 1));
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('TALLY_ERR_PAYLOAD_TOO_LARGE');
  });

  it('no key is a 401, the admin key a 403, and nothing is stored', async () => {
    const e = event();
    expect((await post(e, 'application/json', {})).status).toBe(401);
    expect((await post(e, 'application/json', api.admin)).status).toBe(403);
    expect(await stored([e.id])).toHaveLength(0);
  });
});

describe('metrics', () => {
  it('counts events by result and rejection code, log syncs, shipping and what is pending', async () => {
    await post([event(), { ...event(), value: 'x' }]);
    await api.drain();
    const text = await (await fetch(`${api.url}/metrics`)).text();
    expect(text).toMatch(/^tally_ingest_events_total\{result="accepted",code=""\} \d+/m);
    expect(text).toMatch(/^tally_ingest_events_total\{result="duplicate",code=""\} \d+/m);
    expect(text).toMatch(/^tally_ingest_events_total\{result="rejected",code="TALLY_ERR_VALUE_INVALID"\} \d+/m);
    expect(text).toMatch(/^tally_ingest_requests_refused_total\{reason="too_large"\} \d+/m);
    expect(text).toMatch(/^tally_eventlog_fsync_duration_seconds_count [1-9]/m);
    expect(text).toMatch(/^tally_eventlog_group_appends_count [1-9]/m);
    expect(text).toMatch(/^tally_eventlog_ship_duration_seconds_count\{outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^tally_eventlog_shipped_rows_total [1-9]/m);
    expect(text).toMatch(/^tally_eventlog_ship_lag_seconds_count [1-9]/m);
    expect(text).toMatch(/^tally_eventlog_pending_bytes 0$/m);
    expect(text).toMatch(/^tally_eventlog_pending_segments 0$/m);
    expect(text).toMatch(/^tally_eventlog_oldest_unshipped_seconds 0$/m);
    expect(text).toMatch(/^tally_eventlog_up 1$/m);
    expect(text).toMatch(/^tally_ingest_store_up 1$/m);
    expect(text).toMatch(/^tally_http_request_duration_seconds_count\{method="POST",route="\/v1\/events"\} \d+/m);
  });
});
