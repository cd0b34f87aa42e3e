import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERRORS } from '../../core/errors.js';
import type { Route } from '../../http/types.js';
import { openApiDocument, openApiPath, schemaRef, type Catalogue } from '../../http/openapi.js';
import { json, type OperationDoc } from '../../http/openapi-doc.js';
import { list, shape } from '../../http/openapi-shapes.js';
import { eventsRoute } from '../../ingest/route.js';
import { formatOf } from '../../ingest/parse.js';

const handler = () => ({ status: 200 });
const route = (method: Route['method'], pattern: string, doc: OperationDoc | undefined, access: Route['access'] = 'tenant'): Route => ({ method, pattern, access, ...(doc === undefined ? {} : { doc }), handler });

const Widget = z.strictObject({ name: z.string().min(1), size: z.string().transform(Number).optional() });
const WidgetView = shape('WidgetView', { type: 'object' });

/** A small API: two routes, one body, one response shape; each doc can be changed. */
function widgetRoutes(create: Partial<OperationDoc> = {}, get: Partial<OperationDoc> = {}, access: Route['access'] = 'tenant'): Route[] {
  return [
    route('POST', '/v1/shops/:shop/widgets', { operationId: 'createWidget', tag: 'Widgets', summary: 'Create', body: { name: 'Widget', schema: Widget }, path: { shop: 'The shop.' }, responses: { 201: json('Made.', WidgetView) }, ...create }, access),
    route('GET', '/v1/shops/:shop/widgets/:key', { operationId: 'getWidget', tag: 'Widgets', summary: 'Get', responses: { 200: json('Found.', WidgetView) }, ...get }),
  ];
}
function catalogue(over: Partial<Catalogue> = {}): Catalogue {
  return { tags: [{ name: 'Widgets', description: 'Widgets.' }], schemaOrder: [], ...over };
}
const ROUTES = widgetRoutes();
const INFO = { version: '9.9.9' };

describe('openApiDocument', () => {
  it.each([
    ['a route without a doc', [...ROUTES, route('DELETE', '/v1/shops/:shop/widgets/:key', undefined)], catalogue(), /DELETE \/v1\/shops\/:shop\/widgets\/:key has no doc/],
    ['a route registered twice', [...ROUTES, ROUTES[1]!], catalogue(), /GET \/v1\/shops\/:shop\/widgets\/:key is registered twice/],
    ['a schema the catalogue orders that no route publishes', ROUTES, catalogue({ schemaOrder: ['WidgetView', 'Gadget'] }), /orders schema Gadget, which no route publishes/],
    ['a tag the catalogue does not declare', ROUTES, catalogue({ tags: [] }), /tag Widgets/],
    ['two different bodies under one name', widgetRoutes({}, { body: { name: 'Widget', schema: z.strictObject({}) } }), catalogue(), /two different schemas are named Widget/],
    ['a body named like a response shape', widgetRoutes({ body: { name: 'WidgetView', schema: Widget } }), catalogue(), /two different schemas are named WidgetView/],
    ['an answer with both a shape and a schema', widgetRoutes({}, { responses: { 200: { ...json('Found.', WidgetView), schema: { type: 'object' } } } }), catalogue(), /answers 200 with both a shape and a schema/],
    ['an operationId used twice', widgetRoutes({}, { operationId: 'createWidget' }), catalogue(), /operationId createWidget/],
    ['a $ref to a schema that does not exist', widgetRoutes({}, { responses: { 200: { description: 'Found.', schema: schemaRef('Gadget') } } }), catalogue(), /\$ref #\/components\/schemas\/Gadget points at nothing/],
    ['a shape referring to one it does not use', widgetRoutes({}, { responses: { 200: json('Found.', shape('WidgetPair', { type: 'array', items: schemaRef('Gadget') })) } }), catalogue(), /\$ref #\/components\/schemas\/Gadget points at nothing/],
    ['a path parameter the pattern does not have', widgetRoutes({}, { path: { id: 'x' } }), catalogue(), /path parameter id/],
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

  it('makes each :param a required path parameter, described when the doc says how', () => {
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
    const doc = openApiDocument(widgetRoutes({ body: { name: 'Widget', schema: Tree } }), catalogue(), INFO);
    const text = JSON.stringify(doc);
    expect(text).not.toContain('#/$defs/');
    expect(Object.keys(doc.components.schemas).filter((k) => k.startsWith('Widget_'))).not.toHaveLength(0);
  });

  it("publishes the shapes the answers use, in the catalogue's order and then as first met", () => {
    const Gadget = shape('Gadget', { type: 'object' });
    const routes = widgetRoutes({ responses: { 201: json('Made.', list(Gadget, false)) } });
    const names = (cat: Catalogue) => Object.keys(openApiDocument(routes, cat, INFO).components.schemas);
    expect(names(catalogue())).toEqual(['Error', 'Widget', 'GadgetList', 'Gadget', 'WidgetView']);
    expect(names(catalogue({ schemaOrder: ['WidgetView', 'Gadget'] }))).toEqual(['Error', 'WidgetView', 'Gadget', 'Widget', 'GadgetList']);
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
    expect(openApiDocument(widgetRoutes({}, {}, access), catalogue(), INFO).paths['/v1/shops/{shop}/widgets']!.post!.security).toEqual(security);
  });
});

describe('the route docs', () => {
  it('documents only body formats that POST /v1/events takes', () => {
    // Its doc is made with the route; the route's dependencies are used only by its handler.
    const content = eventsRoute(undefined as never, undefined as never, undefined as never).doc!.requestBody!.content;
    for (const type of Object.keys(content)) expect(() => formatOf(type), type).not.toThrow();
  });
});
