import { CloudEvent, HTTP, Mode, emitterFor, httpTransport } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * CloudEvents binary content mode, what the official JavaScript SDK sends by default:
 * attributes in `ce-*` headers, `data` as the body. The same rules as structured mode: `type`
 * is the meter, `subject` the customer, `time` the timestamp, `data` the properties.
 */
let api: TestApi;
let tenant: { id: string; key: string; auth: Record<string, string> };

beforeAll(async () => {
  api = await startTestApi();
  tenant = await api.tenant('cloudevents');
});
afterAll(async () => {
  await api.stop();
});

let seq = 0;
const uid = () => `ce_${Date.now()}_${seq++}`;

interface StoredRow {
  id: string;
  customer: string;
  meter: string;
  value: string | null;
  timestamp: string;
  properties: string;
}

async function stored(ids: string[]): Promise<StoredRow[]> {
  await api.drain();
  const rs = await api.stores.clickhouse.client.query({
    query: `SELECT id, customer, meter, toString(value) AS value, toString(timestamp) AS timestamp, properties
            FROM ${api.stores.clickhouse.table('raw_events_v1')} WHERE tenant_id = {t:String} AND id IN {ids:Array(String)} ORDER BY id`,
    query_params: { t: tenant.id, ids },
    format: 'JSONEachRow',
  });
  return rs.json<StoredRow>();
}

/** Posts a message the SDK built (headers and body) with the tenant's key. */
async function send(message: { headers: Record<string, unknown>; body: unknown }, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { authorization: tenant.auth.authorization! };
  for (const [k, v] of Object.entries(message.headers)) headers[k] = String(v);
  const res = await fetch(`${api.url}/v1/events`, { method: 'POST', headers: { ...headers, ...extra }, body: message.body as string });
  return { status: res.status, body: (await res.json()) as any };
}

/** Posts raw headers and body. */
async function sendRaw(headers: Record<string, string>, body: string) {
  const res = await fetch(`${api.url}/v1/events`, { method: 'POST', headers: { authorization: tenant.auth.authorization!, ...headers }, body });
  return { status: res.status, body: (await res.json()) as any };
}

const time = () => new Date(Date.now() - 60_000).toISOString();
const binaryHeaders = (over: Record<string, string | undefined> = {}) => {
  const h: Record<string, string | undefined> = {
    'ce-specversion': '1.0',
    'ce-id': uid(),
    'ce-source': '/tests',
    'ce-type': 'api_calls',
    'ce-subject': 'acme',
    'content-type': 'application/json',
    ...over,
  };
  return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>;
};

describe('binary content mode, sent by the CloudEvents SDK', () => {
  it("the SDK's emitter in binary mode: accepted and stored like structured mode", async () => {
    const emit = emitterFor(httpTransport(`${api.url}/v1/events`), { mode: Mode.BINARY });
    const at = time();
    const binary = new CloudEvent({ id: uid(), source: '/billing/tests', type: 'api_calls', subject: 'acme', time: at, data: { region: 'eu', calls: 3 } });
    const response = (await emit(binary, { headers: { authorization: tenant.auth.authorization! } })) as { body: string };
    expect(JSON.parse(response.body)).toEqual({ accepted: 1, duplicates: 0, rejected: [] });

    // The same event in structured mode, under another id: the two rows are the same.
    const twin = binary.cloneWith({ id: uid() });
    const structured = await send(HTTP.structured(twin));
    expect(structured).toEqual({ status: 202, body: { accepted: 1, duplicates: 0, rejected: [] } });

    const rows = await stored([binary.id, twin.id]);
    expect(rows).toHaveLength(2);
    const [fromBinary, fromStructured] = rows[0]!.id === binary.id ? [rows[0]!, rows[1]!] : [rows[1]!, rows[0]!];
    expect(fromBinary).toEqual({ ...fromStructured, id: binary.id });
    expect(fromBinary).toMatchObject({ customer: 'acme', meter: 'api_calls', value: null, timestamp: at.replace('T', ' ').replace('Z', '') });
    expect(JSON.parse(fromBinary.properties)).toEqual({ region: 'eu', calls: 3 });
  });

  it('HTTP.binary: a resend is a duplicate, whatever the mode', async () => {
    const event = new CloudEvent({ id: uid(), source: '/tests', type: 'storage_gb', subject: 'globex', data: { gb: '12.5' } });
    expect((await send(HTTP.binary(event))).body).toMatchObject({ accepted: 1 });
    expect((await send(HTTP.binary(event))).body).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await send(HTTP.structured(event))).body).toMatchObject({ accepted: 0, duplicates: 1 });
    const [row] = await stored([event.id]);
    expect(row).toMatchObject({ customer: 'globex', meter: 'storage_gb' });
    expect(JSON.parse(row!.properties)).toEqual({ gb: '12.5' });
  });

  it('an event without data has empty properties; the time defaults to receipt', async () => {
    const h = binaryHeaders();
    expect((await sendRaw(h, '')).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const [row] = await stored([h['ce-id']!]);
    expect(row!.properties).toBe('{}');
  });

  it('header values are percent-decoded (the binding encodes text outside printable ASCII)', async () => {
    const h = binaryHeaders({ 'ce-subject': 'caf%C3%A9%20bar', 'ce-id': `${uid()}%25` });
    expect((await sendRaw(h, '{}')).body).toMatchObject({ accepted: 1 });
    const [row] = await stored([h['ce-id']!.replace('%25', '%')]);
    expect(row!.customer).toBe('café bar');
  });
});

describe('binary content mode: per-event rejections, as structured mode gives', () => {
  it.each([
    ['no ce-id', { 'ce-id': undefined }, 'TALLY_ERR_ID_MISSING'],
    ['ce-specversion 0.3', { 'ce-specversion': '0.3' }, 'TALLY_ERR_CLOUDEVENT_INVALID'],
    ['no ce-specversion (another ce- header says it is a CloudEvent)', { 'ce-specversion': undefined }, 'TALLY_ERR_CLOUDEVENT_INVALID'],
    ['no ce-source', { 'ce-source': undefined }, 'TALLY_ERR_CLOUDEVENT_INVALID'],
    ['no ce-type', { 'ce-type': undefined }, 'TALLY_ERR_METER_MISSING'],
    ['a ce-type that is not a meter key', { 'ce-type': 'api calls!' }, 'TALLY_ERR_METER_INVALID'],
    ['no ce-subject', { 'ce-subject': undefined }, 'TALLY_ERR_CUSTOMER_MISSING'],
    ['a ce-time that is not RFC 3339', { 'ce-time': 'yesterday' }, 'TALLY_ERR_TIMESTAMP_INVALID'],
    ['a ce-time a year ago', { 'ce-time': new Date(Date.now() - 365 * 86_400_000).toISOString() }, 'TALLY_ERR_TIMESTAMP_TOO_OLD'],
    ['data that is not JSON (Content-Type text/plain)', { 'content-type': 'text/plain' }, 'TALLY_ERR_CLOUDEVENT_INVALID'],
    ['a ce-id whose percent-escapes are not UTF-8', { 'ce-id': 'x%ED%A0%80' }, 'TALLY_ERR_CLOUDEVENT_INVALID'],
    ['a ce-subject with a NUL', { 'ce-subject': 'a%00b' }, 'TALLY_ERR_CUSTOMER_INVALID'],
    // Sent raw, as the byte E9 (Latin-1) and the bytes C3 A9 (UTF-8): the binding percent-encodes them.
    ['a ce-id with a byte beyond ASCII', { 'ce-id': 'caf\u00e9-1' }, 'TALLY_ERR_CLOUDEVENT_INVALID'],
    ['a ce-subject with UTF-8 bytes not percent-encoded', { 'ce-subject': Buffer.from('café bar').toString('latin1') }, 'TALLY_ERR_CLOUDEVENT_INVALID'],
  ])('%s → %s', async (_what, over, code) => {
    const r = await sendRaw(binaryHeaders(over), '{"n":1}');
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(0);
    expect(r.body.rejected).toHaveLength(1);
    expect(r.body.rejected[0]).toMatchObject({ index: 0, code });
  });

  it('data that is an array is refused as structured mode refuses it', async () => {
    const r = await sendRaw(binaryHeaders(), '[1,2]');
    expect(r.body.rejected[0]).toMatchObject({ index: 0, code: 'TALLY_ERR_PROPERTIES_INVALID' });
  });

  it('a JSON body that does not parse is a 400, as in structured mode', async () => {
    const r = await sendRaw(binaryHeaders(), '{"n":');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('TALLY_ERR_INVALID_JSON');
  });

  it('ce-* headers on a structured-mode body are not attributes: the body is the event', async () => {
    const id = uid();
    const body = JSON.stringify({ specversion: '1.0', id, source: '/s', type: 'api_calls', subject: 'acme' });
    const r = await sendRaw({ 'content-type': 'application/cloudevents+json', 'ce-id': 'ignored', 'ce-specversion': '0.3' }, body);
    expect(r.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await stored([id])).toHaveLength(1);
  });
});
