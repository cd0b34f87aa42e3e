import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApi, jsonRequest, startTestApi } from '../support/api.js';

let api: TestApi;
let t: { id: string; key: string; auth: Record<string, string> };
beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('meters');
});
afterAll(async () => {
  await api.stop();
});

const call = (method: string, path: string, body?: unknown, auth = t.auth) => jsonRequest(api.url, auth, method, path, body);

describe('meters', () => {
  it('creates, reads, lists and renames a meter', async () => {
    const created = await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum', value_property: 'n', unit: 'calls', group_by: ['region'] });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      key: 'api_calls',
      name: 'API calls',
      aggregation: 'sum',
      value_property: 'n',
      unit: 'calls',
      group_by: ['region'],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect((await call('GET', '/v1/meters/api_calls')).body).toEqual(created.body);
    await call('POST', '/v1/meters', { key: 'seats', name: 'Seats', aggregation: 'max' });
    const list = await call('GET', '/v1/meters');
    expect((list.body.data as { key: string }[]).map((m) => m.key)).toEqual(['api_calls', 'seats']);
    expect(list.body.has_more).toBe(false);

    const renamed = await call('PATCH', '/v1/meters/api_calls', { name: 'Requests', unit: null });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Requests', unit: null, aggregation: 'sum', group_by: ['region'] });
  });

  it('every aggregation type can be created', async () => {
    for (const aggregation of ['sum', 'count', 'max', 'min', 'unique_count', 'latest', 'weighted_sum']) {
      const body: Record<string, unknown> = { key: `m_${aggregation}`, name: aggregation, aggregation };
      if (aggregation === 'unique_count') body.value_property = 'user';
      expect((await call('POST', '/v1/meters', body)).status, aggregation).toBe(201);
    }
  });

  it('a second meter with the same key is a 409', async () => {
    await call('POST', '/v1/meters', { key: 'dup', name: 'A', aggregation: 'count' });
    const again = await call('POST', '/v1/meters', { key: 'dup', name: 'B', aggregation: 'sum' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'TALLY_ERR_ALREADY_EXISTS', field: 'key' });
    expect((await call('GET', '/v1/meters/dup')).body.name).toBe('A');
  });

  it.each([
    ['no key', { name: 'x', aggregation: 'sum' }, 'TALLY_ERR_MISSING_FIELD', 'key'],
    ['a key with spaces', { key: 'a b', name: 'x', aggregation: 'sum' }, 'TALLY_ERR_INVALID_VALUE', 'key'],
    ['an unknown aggregation', { key: 'k1', name: 'x', aggregation: 'avg' }, 'TALLY_ERR_INVALID_VALUE', 'aggregation'],
    ['an empty name', { key: 'k2', name: ' ', aggregation: 'sum' }, 'TALLY_ERR_INVALID_VALUE', 'name'],
    ['a value_property on a count meter', { key: 'k3', name: 'x', aggregation: 'count', value_property: 'v' }, 'TALLY_ERR_INVALID_VALUE', 'value_property'],
    ['group_by that is not an array', { key: 'k4', name: 'x', aggregation: 'sum', group_by: 'region' }, 'TALLY_ERR_INVALID_TYPE', 'group_by'],
    ['six group_by properties', { key: 'k5', name: 'x', aggregation: 'sum', group_by: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'TALLY_ERR_INVALID_VALUE', 'group_by'],
    ['a group_by property twice', { key: 'k6', name: 'x', aggregation: 'sum', group_by: ['a', 'a'] }, 'TALLY_ERR_INVALID_VALUE', 'group_by'],
    ['an unknown field', { key: 'k7', name: 'x', aggregation: 'sum', window: 'hour' }, 'TALLY_ERR_UNKNOWN_FIELD', 'window'],
  ])('refuses %s', async (_what, body, code, field) => {
    const r = await call('POST', '/v1/meters', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field });
  });

  it.each([
    ['aggregation', { aggregation: 'max' }, 'TALLY_ERR_IMMUTABLE_FIELD'],
    ['group_by', { group_by: [] }, 'TALLY_ERR_IMMUTABLE_FIELD'],
    ['value_property', { value_property: 'x' }, 'TALLY_ERR_IMMUTABLE_FIELD'],
    ['an unknown field', { color: 'red' }, 'TALLY_ERR_UNKNOWN_FIELD'],
  ])('PATCH refuses to change %s and leaves the meter as it was', async (field, body, code) => {
    await call('POST', '/v1/meters', { key: `p_${field.replace(/ /g, '_')}`, name: 'P', aggregation: 'sum', group_by: ['g'] });
    const r = await call('PATCH', `/v1/meters/p_${field.replace(/ /g, '_')}`, { name: 'changed', ...body });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(code);
    expect((await call('GET', `/v1/meters/p_${field.replace(/ /g, '_')}`)).body).toMatchObject({ name: 'P', aggregation: 'sum', group_by: ['g'] });
  });

  it('an unknown key is a 404', async () => {
    expect((await call('GET', '/v1/meters/nope')).status).toBe(404);
    expect((await call('PATCH', '/v1/meters/nope', { name: 'x' })).status).toBe(404);
  });

  it("another tenant's meters are invisible: 404, absent from lists, and the same key is free for it", async () => {
    const other = await api.tenant('other');
    await call('POST', '/v1/meters', { key: 'private', name: 'Mine', aggregation: 'sum' });
    expect((await call('GET', '/v1/meters/private', undefined, other.auth)).status).toBe(404);
    expect((await call('PATCH', '/v1/meters/private', { name: 'stolen' }, other.auth)).status).toBe(404);
    expect((await call('GET', '/v1/meters', undefined, other.auth)).body.data).toEqual([]);
    expect((await call('POST', '/v1/meters', { key: 'private', name: 'Theirs', aggregation: 'count' }, other.auth)).status).toBe(201);
    expect((await call('GET', '/v1/meters/private')).body.name).toBe('Mine');
  });

  it('needs a tenant key', async () => {
    expect((await call('GET', '/v1/meters', undefined, {})).status).toBe(401);
    expect((await call('GET', '/v1/meters', undefined, api.admin)).status).toBe(403);
  });
});
