import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { createApi } from '../../app/api.js';
import { CreatePlan } from '../../catalog/plans.js';
import { packageRoot } from '../../core/paths.js';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
let tenant: { auth: Record<string, string> };
let doc: any;
let text: string;

const EXTRA = 'GET /test/extra';

beforeAll(async () => {
  // A route tests add is served but is not part of the API.
  api = await startTestApi({ extraRoutes: [{ method: 'GET', pattern: '/test/extra', access: 'public', handler: () => ({ status: 204 }) }] });
  tenant = await api.tenant();
  const res = await fetch(`${api.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  text = await res.text();
  doc = JSON.parse(text);
});
afterAll(async () => {
  await api.stop();
});

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every operation of the document as `METHOD pattern`, the route table's spelling. */
function documented(): string[] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
  );
}

/** The router's own answers: no route for the path (404 "no route for ...") or not for the method (405). */
function routerMiss(res: { status: number; body: any }): boolean {
  return res.status === 405 || (res.status === 404 && res.body?.error?.code === 'TALLY_ERR_NOT_FOUND' && /^no route for /.test(res.body.error.message));
}

describe('GET /openapi.json', () => {
  it('is byte for byte the published document (test/fixtures/openapi.json): a change to the API is a change to this file', () => {
    // The fixture carries the package version too: a release updates both.
    expect(text).toBe(readFileSync(path.join(packageRoot(), 'test/fixtures/openapi.json'), 'utf8'));
  });

  it('documents every route of the route table, and nothing else', () => {
    const table = (api.server as ReturnType<typeof createApi>).routes.map((r) => `${r.method} ${r.pattern}`);
    expect(table).toContain('GET /openapi.json');
    expect(table).toContain(EXTRA);
    expect([...documented()].sort()).toEqual(table.filter((r) => r !== EXTRA).sort());
  });

  it('documents only operations the server answers, with the key it asks for', async () => {
    const keys: Record<string, Record<string, string>> = { tenantKey: tenant.auth, adminKey: api.admin };
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        const security = (op.security as Record<string, unknown>[])[0];
        const headers = { 'content-type': 'application/json', ...(security === undefined ? {} : keys[Object.keys(security)[0]!]) };
        const url = path.replace(/\{[^}]+\}/g, 'probe_missing');
        const res = await fetch(`${api.url}${url}`, { method: method.toUpperCase(), headers, ...(method === 'get' ? {} : { body: '{}' }) });
        const text = await res.text();
        const answer = { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
        const what = `${method.toUpperCase()} ${path} -> ${res.status} ${text.slice(0, 200)}`;
        expect(routerMiss(answer), what).toBe(false);
        expect([401, 403], what).not.toContain(res.status);
      }
    }
    // The router labels what it could not match; nothing was.
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).not.toMatch(/tally_http_requests_total\{[^}]*route="unmatched"/);
    // And the check above does see a miss when there is one.
    expect(routerMiss(await jsonRequest(api.url, tenant.auth, 'GET', '/v1/no_such_route'))).toBe(true);
    expect(routerMiss(await jsonRequest(api.url, tenant.auth, 'DELETE', '/v1/plans'))).toBe(true);
    expect(routerMiss(await jsonRequest(api.url, tenant.auth, 'GET', '/v1/plans/no_such_plan'))).toBe(false);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.info).toMatchObject({ title: 'Tally', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it('describes the body of POST /v1/plans with the schema the server validates it with', async () => {
    const ref: string = doc.paths['/v1/plans'].post.requestBody.content['application/json'].schema.$ref;
    const schema = doc.components.schemas[ref.replace('#/components/schemas/', '')];
    const { $schema: _dialect, ...fromZod } = z.toJSONSchema(CreatePlan, { io: 'input' }) as Record<string, unknown>;
    expect(schema).toEqual(fromZod);

    const plan = { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '10.00' };
    // What the server refuses for an unknown field, the schema refuses: no such property, none allowed.
    const unknown = await jsonRequest(api.url, tenant.auth, 'POST', '/v1/plans', { ...plan, colour: 'red' });
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'TALLY_ERR_UNKNOWN_FIELD', field: 'colour' } } });
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties).not.toHaveProperty('colour');

    const nested = await jsonRequest(api.url, tenant.auth, 'POST', '/v1/plans', { ...plan, charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '1', colour: 'red' }] });
    expect(nested).toMatchObject({ status: 400, body: { error: { code: 'TALLY_ERR_UNKNOWN_FIELD', field: 'charges[0].colour' } } });
    expect(schema.properties.charges.items.additionalProperties).toBe(false);

    // And a field the server requires, the schema requires.
    const { name: _name, ...noName } = plan;
    const missing = await jsonRequest(api.url, tenant.auth, 'POST', '/v1/plans', noName);
    expect(missing).toMatchObject({ status: 400, body: { error: { code: 'TALLY_ERR_MISSING_FIELD', field: 'name' } } });
    expect(schema.required).toContain('name');

    expect((await jsonRequest(api.url, tenant.auth, 'POST', '/v1/plans', plan)).status).toBe(201);
  });

  it('documents the error shape with every code of the catalogue', async () => {
    const res = await jsonRequest(api.url, tenant.auth, 'GET', '/v1/plans/no_such_plan');
    expect(res.status).toBe(404);
    const error = doc.components.schemas.Error;
    expect(Object.keys(res.body)).toEqual(error.required);
    for (const k of error.properties.error.required) expect(res.body.error).toHaveProperty(k);
    expect(error.properties.error.properties.code.enum).toContain(res.body.error.code);
    expect(doc.paths['/v1/plans/{code}'].get.responses['404'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
  });
});
