import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERRORS } from '../../core/errors.js';
import type { Route } from '../../http/types.js';
import { openApiDocument, openApiPath, schemaRef, type Catalogue } from '../../http/openapi.js';
import { CATALOGUE } from '../../app/openapi-catalog.js';
import { formatOf } from '../../ingest/parse.js';

const handler = () => ({ status: 200 });
const route = (method: Route['method'], pattern: string, access: Route['access'] = 'tenant'): Route => ({ method, pattern, access, handler });

const Widget = z.strictObject({ name: z.string().min(1), size: z.string().transform(Number).optional() });

/** A small API: two routes, one body, one response shape. */
function catalogue(over: Partial<Catalogue> = {}): Catalogue {
  return {
    tags: [{ name: 'Widgets', description: 'Widgets.' }],
    bodies: { Widget },
    schemas: { WidgetView: { type: 'object' } },
    operations: {
      'POST /v1/shops/:shop/widgets': { operationId: 'createWidget', tag: 'Widgets', summary: 'Create', body: 'Widget', path: { shop: 'The shop.' }, responses: { 201: { description: 'Made.', schema: schemaRef('WidgetView') } } },
      'GET /v1/shops/:shop/widgets/:key': { operationId: 'getWidget', tag: 'Widgets', summary: 'Get', responses: { 200: { description: 'Found.', schema: schemaRef('WidgetView') } } },
    },
    ...over,
  };
}
const ROUTES = [route('POST', '/v1/shops/:shop/widgets'), route('GET', '/v1/shops/:shop/widgets/:key')];
const INFO = { version: '9.9.9' };

describe('openApiDocument', () => {
  it.each([
    ['a route without a catalogue entry', [...ROUTES, route('DELETE', '/v1/shops/:shop/widgets/:key')], catalogue(), /DELETE \/v1\/shops\/:shop\/widgets\/:key has no catalogue entry/],
    ['a catalogue entry without a route', [ROUTES[0]!], catalogue(), /catalogue entries without a route: GET \/v1\/shops\/:shop\/widgets\/:key/],
    ['a tag the catalogue does not declare', ROUTES, catalogue({ tags: [] }), /tag Widgets/],
    ['a body that is not among the bodies', ROUTES, catalogue({ bodies: {} }), /names body Widget/],
    ['an operationId used twice', ROUTES, catalogue({ operations: { ...catalogue().operations, 'GET /v1/shops/:shop/widgets/:key': { operationId: 'createWidget', tag: 'Widgets', summary: 'Get', responses: {} } } }), /operationId createWidget/],
    ['a $ref to a schema that does not exist', ROUTES, catalogue({ schemas: {} }), /\$ref #\/components\/schemas\/WidgetView points at nothing/],
    ['a path parameter the pattern does not have', ROUTES, catalogue({ operations: { ...catalogue().operations, 'GET /v1/shops/:shop/widgets/:key': { operationId: 'getWidget', tag: 'Widgets', summary: 'Get', path: { id: 'x' }, responses: {} } } }), /path parameter id/],
  ])('throws for %s', (_name, routes, cat, message) => {
    expect(() => openApiDocument(routes, cat, INFO)).toThrow(message);
  });

  it.each([
    ['/healthz', '/healthz'],
    ['/v1/plans/:code', '/v1/plans/{code}'],
    ['/v1/customers/:id/credits/ledger', '/v1/customers/{id}/credits/ledger'],
    ['/v1/shops/:shop/widgets/:key', '/v1/shops/{shop}/widgets/{key}'],
  ])('writes the pattern %s as the path %s', (pattern, path) => {
    expect(openApiPath(pattern)).toBe(path);
  });

  it('makes each :param a required path parameter, described when the catalogue says how', () => {
    const doc = openApiDocument(ROUTES, catalogue(), INFO);
    expect(Object.keys(doc.paths)).toEqual(['/v1/shops/{shop}/widgets', '/v1/shops/{shop}/widgets/{key}']);
    const params = doc.paths['/v1/shops/{shop}/widgets/{key}']!.get!.parameters as Record<string, unknown>[];
    expect(params.filter((p) => p.in === 'path')).toEqual([
      { name: 'shop', in: 'path', required: true, description: 'The shop.', schema: { type: 'string', minLength: 1 } },
      { name: 'key', in: 'path', required: true, description: 'The key.', schema: { type: 'string', minLength: 1 } },
    ]);
  });

  it('takes the request body from the zod schema, as the client sends it', () => {
    const doc = openApiDocument(ROUTES, catalogue(), INFO);
    expect(doc.components.schemas.Widget).toEqual({
      type: 'object',
      properties: { name: { type: 'string', minLength: 1 }, size: { type: 'string' } },
      required: ['name'],
      additionalProperties: false,
    });
    expect(doc.paths['/v1/shops/{shop}/widgets']!.post!.requestBody).toEqual({ required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Widget' } } } });
  });

  it('moves the $defs of a recursive schema into components', () => {
    const Node: z.ZodType = z.strictObject({ name: z.string(), get children() { return z.array(Node).optional(); } });
    const Tree = z.strictObject({ root: Node });
    const doc = openApiDocument(ROUTES, catalogue({ bodies: { Widget: Tree } }), INFO);
    const text = JSON.stringify(doc);
    expect(text).not.toContain('#/$defs/');
    expect(Object.keys(doc.components.schemas).filter((k) => k.startsWith('Widget_'))).not.toHaveLength(0);
  });

  it('answers the errors a route of its kind can give, in the error shape', () => {
    const doc = openApiDocument(ROUTES, catalogue(), INFO);
    const post = doc.paths['/v1/shops/{shop}/widgets']!.post!.responses as Record<string, { description: string }>;
    expect(Object.keys(post)).toEqual(['201', '400', '401', '403', '404', '409', '413', '415', '500', '503']);
    expect(post['400']!.description).toContain('TALLY_ERR_UNKNOWN_FIELD');
    const get = doc.paths['/v1/shops/{shop}/widgets/{key}']!.get!.responses as Record<string, unknown>;
    expect(Object.keys(get)).toEqual(['200', '400', '401', '403', '404', '500', '503']);
    const error = doc.components.schemas.Error as { properties: { error: { properties: { code: { enum: string[] } } } } };
    expect(error.properties.error.properties.code.enum).toEqual(Object.keys(ERRORS));
  });

  it.each([
    ['public', []],
    ['tenant', [{ tenantKey: [] }]],
    ['admin', [{ adminKey: [] }]],
  ] as const)('asks a %s route for its key', (access, security) => {
    const routes = [route('POST', '/v1/shops/:shop/widgets', access), ROUTES[1]!];
    expect(openApiDocument(routes, catalogue(), INFO).paths['/v1/shops/{shop}/widgets']!.post!.security).toEqual(security);
  });
});

describe('the catalogue', () => {
  it('documents only body formats that POST /v1/events takes', () => {
    const content = CATALOGUE.operations['POST /v1/events']!.requestBody!.content;
    for (const type of Object.keys(content)) expect(() => formatOf(type), type).not.toThrow();
  });
});
