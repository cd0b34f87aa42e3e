import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../core/errors.js';
import type { Access, Method, Route } from './types.js';
import type { OperationDoc, Parameter } from './openapi-doc.js';
import { SCHEMAS, schemaRef, type JsonSchema, type Shape } from './openapi-shapes.js';
import { takesIdempotencyKey } from './idempotency.js';

/**
 * The OpenAPI 3.1 document of the HTTP API, from sources that cannot drift apart from the
 * server: the route table (what exists, who may call it), each route's `doc` written beside its
 * handler (summaries, parameters, the shapes of its answers), and the zod schemas the handlers
 * validate bodies with (converted by `z.toJSONSchema`, whose default dialect, JSON Schema
 * 2020-12, is the one OpenAPI 3.1 uses). A route without a `doc` is an error: nothing exists
 * undocumented. What belongs to no route (the tags and the order of the published schemas) is
 * the catalogue's.
 */

export type { JsonSchema } from './openapi-shapes.js';
export { schemaRef } from './openapi-shapes.js';

export interface Catalogue {
  /** Every tag a route may name, in the order the document lists them. */
  tags: readonly { name: string; description: string }[];
  /**
   * The order of `components.schemas` after `Error`: these names first, as listed (each must be
   * one a route publishes), then any others in the order the routes first use them.
   */
  schemaOrder: readonly string[];
}

export interface DocumentInfo {
  version: string;
  license?: string;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: Record<string, unknown>;
  servers: Record<string, unknown>[];
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<Lowercase<Method>, Record<string, unknown>>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, Record<string, unknown>>;
    parameters: Record<string, Record<string, unknown>>;
    headers: Record<string, Record<string, unknown>>;
  };
}

const PARAM = /:([A-Za-z_][A-Za-z0-9_]*)/g;

/** `/v1/plans/:code` → `/v1/plans/{code}`. */
export function openApiPath(pattern: string): string {
  return pattern.replace(PARAM, '{$1}');
}

export function routeKey(route: Pick<Route, 'method' | 'pattern'>): string {
  return `${route.method} ${route.pattern}`;
}

const SECURITY: Record<Access, Record<string, string[]>[]> = {
  public: [],
  tenant: [{ tenantKey: [] }],
  admin: [{ adminKey: [] }],
};

const ALWAYS: readonly ErrorCode[] = ['TALLY_ERR_INTERNAL', 'TALLY_ERR_SHUTTING_DOWN'];
const BY_ACCESS: Record<Access, readonly ErrorCode[]> = {
  public: [],
  tenant: ['TALLY_ERR_UNAUTHORIZED', 'TALLY_ERR_FORBIDDEN'],
  admin: ['TALLY_ERR_UNAUTHORIZED', 'TALLY_ERR_FORBIDDEN', 'TALLY_ERR_ADMIN_DISABLED'],
};
/** What `jsonBody` answers for a body it cannot take (http/body.ts). */
const JSON_BODY: readonly ErrorCode[] = [
  'TALLY_ERR_UNSUPPORTED_MEDIA_TYPE',
  'TALLY_ERR_INVALID_JSON',
  'TALLY_ERR_MISSING_FIELD',
  'TALLY_ERR_INVALID_TYPE',
  'TALLY_ERR_INVALID_VALUE',
  'TALLY_ERR_TOO_LONG',
  'TALLY_ERR_UNKNOWN_FIELD',
];

/** What a route taking `Idempotency-Key` can answer for it (idempotency.ts). */
const IDEMPOTENCY: readonly ErrorCode[] = ['TALLY_ERR_IDEMPOTENCY_KEY_INVALID', 'TALLY_ERR_IDEMPOTENCY_KEY_REUSED', 'TALLY_ERR_IDEMPOTENCY_IN_PROGRESS'];

export function openApiDocument(routes: readonly Route[], catalogue: Catalogue, info: DocumentInfo): OpenApiDocument {
  const published = new Published();
  const tags = new Set(catalogue.tags.map((t) => t.name));
  const operationIds = new Set<string>();
  const documented = new Set<string>();
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const key = routeKey(route);
    const facts = route.doc;
    if (facts === undefined) throw new Error(`openapi: route ${key} has no doc`);
    if (documented.has(key)) throw new Error(`openapi: route ${key} is registered twice`);
    documented.add(key);
    if (!tags.has(facts.tag)) throw new Error(`openapi: ${key} has tag ${facts.tag}, which the catalogue does not declare`);
    if (operationIds.has(facts.operationId)) throw new Error(`openapi: operationId ${facts.operationId} is used twice`);
    operationIds.add(facts.operationId);
    if (facts.body !== undefined && facts.requestBody !== undefined) throw new Error(`openapi: ${key} has both a body schema and a raw request body`);

    if (facts.body !== undefined) published.body(facts.body.name, facts.body.schema);
    for (const [status, response] of Object.entries(facts.responses)) {
      if (response.shape !== undefined && response.schema !== undefined) throw new Error(`openapi: ${key} answers ${status} with both a shape and a schema`);
      if (response.shape !== undefined) published.shape(response.shape);
    }
    for (const used of facts.uses ?? []) published.shape(used);

    const path = openApiPath(route.pattern);
    const item = (paths[path] ??= {});
    item[route.method.toLowerCase() as Lowercase<Method>] = operation(route, facts, published);
  }
  const schemas = published.inOrder(catalogue.schemaOrder);

  const doc: OpenApiDocument = {
    openapi: '3.1.0',
    info: {
      title: 'Tally',
      version: info.version,
      description: 'Usage metering and billing: events, meters, plans, subscriptions, invoices and their sync to Stripe.',
      ...(info.license === undefined ? {} : { license: { name: info.license, identifier: info.license } }),
    },
    servers: [
      {
        url: 'http://{host}:{port}',
        description: 'A Tally server (`tally start` or `tally serve`)',
        variables: { host: { default: 'localhost' }, port: { default: '8080' } },
      },
    ],
    tags: catalogue.tags.map((t) => ({ ...t })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        tenantKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'tly_<key id>_<secret>',
          description: "A tenant's API key, as `Authorization: Bearer tly_...`; `POST /v1/tenants` returns the first one.",
        },
        adminKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin key (`TALLY_ADMIN_KEY`, or the one generated into the data dir), as `Authorization: Bearer <key>`.',
        },
      },
      parameters: {
        RequestId: {
          name: 'X-Request-Id',
          in: 'header',
          required: false,
          description: 'Your own id for the request (1 to 128 of `A-Z a-z 0-9 . _ : -`), echoed in the response and in errors; one is made when absent.',
          schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
        },
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            "Your key for this request (1 to 255 printable ASCII characters, e.g. a UUID), kept for at least 24 hours per tenant: a retry with the same key gets the first request's answer (2xx or 4xx: status, body and content type, with `Idempotent-Replayed: true`) instead of running again. The same key for a different request is `TALLY_ERR_IDEMPOTENCY_KEY_REUSED`; while the first request runs, `TALLY_ERR_IDEMPOTENCY_IN_PROGRESS`.",
          schema: { type: 'string', pattern: '^[\\x20-\\x7e]{1,255}$' },
        },
      },
      headers: {
        RequestId: { description: 'The request id: the one sent, or one made for the request.', schema: { type: 'string' } },
        IdempotentReplayed: { description: "`true` when the answer is the saved one of an earlier request with the same `Idempotency-Key`.", schema: { type: 'string', enum: ['true'] } },
        RetryAfter: { description: 'Seconds to wait before sending the request again.', schema: { type: 'integer', minimum: 0 } },
      },
    },
  };
  checkRefs(doc, schemas);
  return doc;
}

function operation(route: Route, facts: OperationDoc, published: Published): Record<string, unknown> {
  const names = [...route.pattern.matchAll(PARAM)].map((m) => m[1]!);
  for (const name of Object.keys(facts.path ?? {})) {
    if (!names.includes(name)) throw new Error(`openapi: ${routeKey(route)} describes path parameter ${name}, which its pattern does not have`);
  }
  const parameters: Record<string, unknown>[] = [
    ...names.map((name) => ({ name, in: 'path', required: true, description: facts.path?.[name] ?? `The ${name}.`, schema: { type: 'string', minLength: 1 } })),
    ...(facts.query ?? []).map((p) => parameter(p, 'query')),
    ...(facts.headers ?? []).map((p) => parameter(p, 'header')),
    { $ref: '#/components/parameters/RequestId' },
    ...(takesIdempotencyKey(route) ? [{ $ref: '#/components/parameters/IdempotencyKey' }] : []),
  ];

  const op: Record<string, unknown> = {
    operationId: facts.operationId,
    summary: facts.summary,
    ...(facts.description === undefined ? {} : { description: facts.description }),
    tags: [facts.tag],
    security: SECURITY[route.access],
    parameters,
  };
  if (facts.body !== undefined) {
    const required = ((published.schema(facts.body.name).required as unknown[] | undefined) ?? []).length > 0;
    op.requestBody = {
      // jsonBody reads an empty body as {}, so a body without required fields may be left out.
      required,
      content: { 'application/json': { schema: schemaRef(facts.body.name) } },
    };
  } else if (facts.requestBody !== undefined) {
    op.requestBody = facts.requestBody;
  }
  op.responses = responses(route, facts, names.length > 0);
  return op;
}

function parameter(p: Parameter, where: 'query' | 'header'): Record<string, unknown> {
  return { name: p.name, in: where, required: p.required ?? false, description: p.description, schema: p.schema };
}

function responses(route: Route, facts: OperationDoc, hasPathParams: boolean): Record<string, unknown> {
  const codes = new Set<ErrorCode>([...ALWAYS, ...BY_ACCESS[route.access], ...(facts.errors ?? [])]);
  if (route.method !== 'GET') codes.add('TALLY_ERR_PAYLOAD_TOO_LARGE');
  if (facts.body !== undefined) JSON_BODY.forEach((c) => codes.add(c));
  if ((facts.query ?? []).length > 0) codes.add('TALLY_ERR_INVALID_VALUE');
  if ((facts.query ?? []).some((p) => p.required === true)) codes.add('TALLY_ERR_MISSING_FIELD');
  if (hasPathParams) codes.add('TALLY_ERR_NOT_FOUND');
  // Text that is not well-formed Unicode, or holds NUL, is refused wherever a client writes text.
  if (hasPathParams || facts.body !== undefined || (facts.query ?? []).length > 0) codes.add('TALLY_ERR_INVALID_TEXT');
  const idempotent = takesIdempotencyKey(route);
  if (idempotent) IDEMPOTENCY.forEach((c) => codes.add(c));

  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const list = byStatus.get(ERRORS[code].status) ?? [];
    list.push(code);
    byStatus.set(ERRORS[code].status, list);
  }

  const out: Record<string, unknown> = {};
  const statuses = [...new Set([...Object.keys(facts.responses).map(Number), ...byStatus.keys()])].sort((a, b) => a - b);
  for (const status of statuses) {
    const ok = facts.responses[status];
    const errors = byStatus.get(status);
    const errorText = errors === undefined ? undefined : `Error codes: ${errors.map((c) => `\`${c}\``).join(', ')}.`;
    const headers: Record<string, unknown> = { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } };
    if (errors?.some((c) => ERRORS[c].retryable && (status === 429 || status === 503 || c === 'TALLY_ERR_IDEMPOTENCY_IN_PROGRESS'))) headers['Retry-After'] = { $ref: '#/components/headers/RetryAfter' };
    if (idempotent && status < 500) headers['Idempotent-Replayed'] = { $ref: '#/components/headers/IdempotentReplayed' };

    const content: Record<string, { schema: JsonSchema }> = {};
    const schema = ok?.shape === undefined ? ok?.schema : schemaRef(ok.shape);
    if (schema !== undefined) content[ok?.contentType ?? 'application/json'] = { schema };
    if (errors !== undefined) {
      const json = content['application/json'];
      // Both an answer of the route and an error under one status (a 503 of /readyz, say).
      content['application/json'] = json === undefined ? { schema: schemaRef('Error') } : { schema: { anyOf: [json.schema, schemaRef('Error')] } };
    }
    out[String(status)] = {
      description: [ok?.description, errorText].filter((s) => s !== undefined).join(' '),
      headers,
      ...(Object.keys(content).length === 0 ? {} : { content }),
    };
  }
  return out;
}

/**
 * The schemas the routes publish in `components.schemas`: the shapes their answers (and what those
 * refer to), and their request bodies. One name is one schema: the same shape or zod schema may be
 * met many times, two different ones under one name are an error.
 */
class Published {
  private readonly byName = new Map<string, { source: Shape | z.ZodType; schemas: Record<string, JsonSchema> }>();

  shape(shape: Shape): void {
    if (this.claim(shape.name, shape, () => ({ [shape.name]: shape.schema }))) shape.uses.forEach((used) => this.shape(used));
  }

  body(name: string, schema: z.ZodType): void {
    this.claim(name, schema, () => requestSchema(name, schema));
  }

  /** The schema published under `name` (a body's, once claimed). */
  schema(name: string): JsonSchema {
    const schema = this.byName.get(name)?.schemas[name];
    if (schema === undefined) throw new Error(`openapi: no schema ${name}`);
    return schema;
  }

  /** `Error`, then the names of `order`, then the rest as first met. */
  inOrder(order: readonly string[]): Record<string, JsonSchema> {
    const out: Record<string, JsonSchema> = { Error: errorSchema() };
    const put = (name: string): void => {
      for (const [key, schema] of Object.entries(this.byName.get(name)!.schemas)) {
        if (key in out) throw new Error(`openapi: schema name ${key} is taken`);
        out[key] = schema;
      }
    };
    for (const name of order) {
      if (!this.byName.has(name)) throw new Error(`openapi: the catalogue orders schema ${name}, which no route publishes`);
      put(name);
    }
    for (const name of this.byName.keys()) if (!order.includes(name)) put(name);
    return out;
  }

  /** Whether `name` is new; throws when it is already another schema's. */
  private claim(name: string, source: Shape | z.ZodType, schemas: () => Record<string, JsonSchema>): boolean {
    const held = this.byName.get(name);
    if (held === undefined) {
      this.byName.set(name, { source, schemas: schemas() });
      return true;
    }
    if (held.source !== source) throw new Error(`openapi: two different schemas are named ${name}`);
    return false;
  }
}

/** The error body of every route (core/errors.ts `errorBody`), its code one of the catalogue's. */
function errorSchema(): JsonSchema {
  return {
    type: 'object',
    description: 'Every error: a stable code from the catalogue, a message, the field at fault when there is one, and the request id.',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message', 'request_id'],
        properties: {
          code: { type: 'string', enum: Object.keys(ERRORS) },
          message: { type: 'string' },
          field: { type: 'string', description: 'The field or parameter at fault, e.g. `charges[0].tiers[1].up_to`.' },
          request_id: { type: 'string' },
        },
      },
    },
  };
}

/**
 * A request body schema as JSON Schema 2020-12. `io: 'input'` describes what a client sends
 * (before transforms and defaults). Refinements cannot be expressed and are left to the server.
 * Any `$defs` (recursive or registered schemas) move to `components.schemas` as `<name>_<def>`,
 * since `#/$defs/...` would resolve against the whole document.
 */
function requestSchema(name: string, schema: z.ZodType): Record<string, JsonSchema> {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const { $schema: _dialect, $defs, ...root } = json;
  const defs = ($defs ?? {}) as Record<string, JsonSchema>;
  const rename = (ref: string): string => {
    if (ref === '#') return `${SCHEMAS}${name}`;
    const def = ref.startsWith('#/$defs/') ? ref.slice('#/$defs/'.length) : undefined;
    return def === undefined ? ref : `${SCHEMAS}${name}_${def}`;
  };
  const out: Record<string, JsonSchema> = { [name]: mapRefs(root, rename) as JsonSchema };
  for (const [def, body] of Object.entries(defs)) out[`${name}_${def}`] = mapRefs(body, rename) as JsonSchema;
  return out;
}

function mapRefs(value: unknown, f: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => mapRefs(v, f));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === '$ref' && typeof v === 'string' ? f(v) : mapRefs(v, f);
  return out;
}

/** Every `$ref` into `components` must name something that is there. */
function checkRefs(doc: OpenApiDocument, schemas: Record<string, JsonSchema>): void {
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') {
        const [, section, name] = /^#\/components\/(schemas|parameters|headers)\/([^/]+)/.exec(v) ?? [];
        const target = section === undefined ? undefined : section === 'schemas' ? schemas : doc.components[section as 'parameters' | 'headers'];
        if (target === undefined || name === undefined || !(name in target)) throw new Error(`openapi: $ref ${v} points at nothing`);
      } else visit(v);
    }
  };
  visit(doc.paths);
  visit(doc.components.schemas);
}
