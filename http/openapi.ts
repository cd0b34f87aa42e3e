import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../core/errors.js';
import type { Access, Method, Route } from './types.js';
import { takesIdempotencyKey } from './idempotency.js';

/**
 * The OpenAPI 3.1 document of the HTTP API, from two sources that cannot drift apart from the
 * server: the route table (what exists, who may call it) and the zod schemas the handlers
 * validate bodies with (converted by `z.toJSONSchema`, whose default dialect, JSON Schema
 * 2020-12, is the one OpenAPI 3.1 uses). What neither holds — summaries, query parameters,
 * response shapes — comes from a catalogue keyed by `METHOD pattern`. A route without an entry,
 * or an entry without a route, is an error: nothing exists undocumented, nothing documented is
 * missing.
 */

export type JsonSchema = Record<string, unknown>;

export interface Parameter {
  name: string;
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface ResponseFacts {
  description: string;
  /** Absent for a response without a body. */
  schema?: JsonSchema;
  /** `application/json` unless given. */
  contentType?: string;
}

/** A request body that is not one JSON document checked by a zod schema (ingest formats, Stripe's events). */
export interface RawRequestBody {
  description: string;
  required: boolean;
  content: Record<string, { schema?: JsonSchema }>;
}

export interface OperationFacts<Body extends string = string> {
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** The name, in `Catalogue.bodies`, of the zod schema the handler passes to `jsonBody`. */
  body?: Body;
  requestBody?: RawRequestBody;
  /** Descriptions of the path parameters, by name (`:id` → `id`). */
  path?: Readonly<Record<string, string>>;
  query?: readonly Parameter[];
  headers?: readonly Parameter[];
  /** The answers other than errors, by status. */
  responses: Readonly<Record<number, ResponseFacts>>;
  /** Error codes particular to this route; the ones every route of its kind can answer are added. */
  errors?: readonly ErrorCode[];
}

export interface Catalogue<Body extends string = string> {
  tags: readonly { name: string; description: string }[];
  /** Request body schemas, under their names in `components.schemas`. */
  bodies: Readonly<Record<Body, z.ZodType>>;
  /** Response schemas (and other shared shapes), under their names in `components.schemas`. */
  schemas: Readonly<Record<string, JsonSchema>>;
  /** Keyed by `METHOD pattern`, e.g. `GET /v1/plans/:code`. */
  operations: Readonly<Record<string, OperationFacts<Body>>>;
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
const SCHEMAS = '#/components/schemas/';

/** `/v1/plans/:code` → `/v1/plans/{code}`. */
export function openApiPath(pattern: string): string {
  return pattern.replace(PARAM, '{$1}');
}

export function routeKey(route: Pick<Route, 'method' | 'pattern'>): string {
  return `${route.method} ${route.pattern}`;
}

export function schemaRef(name: string): JsonSchema {
  return { $ref: `${SCHEMAS}${name}` };
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

/** What a route taking `Idempotency-Key` can answer for it (api/idempotency.ts). */
const IDEMPOTENCY: readonly ErrorCode[] = ['TALLY_ERR_IDEMPOTENCY_KEY_INVALID', 'TALLY_ERR_IDEMPOTENCY_KEY_REUSED', 'TALLY_ERR_IDEMPOTENCY_IN_PROGRESS'];

export function openApiDocument(routes: readonly Route[], catalogue: Catalogue, info: DocumentInfo): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = { Error: errorSchema() };
  for (const [name, schema] of Object.entries(catalogue.schemas)) {
    if (name in schemas) throw new Error(`openapi: schema name ${name} is taken`);
    schemas[name] = schema;
  }
  for (const [name, zodSchema] of Object.entries<z.ZodType>(catalogue.bodies)) {
    if (name in schemas) throw new Error(`openapi: body schema name ${name} is also a response schema`);
    Object.assign(schemas, requestSchema(name, zodSchema));
  }

  const tags = new Set(catalogue.tags.map((t) => t.name));
  const operationIds = new Set<string>();
  const documented = new Set<string>();
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const key = routeKey(route);
    const facts = catalogue.operations[key];
    if (facts === undefined) throw new Error(`openapi: route ${key} has no catalogue entry (app/openapi-catalog.ts)`);
    if (documented.has(key)) throw new Error(`openapi: route ${key} is registered twice`);
    documented.add(key);
    if (!tags.has(facts.tag)) throw new Error(`openapi: ${key} has tag ${facts.tag}, which the catalogue does not declare`);
    if (operationIds.has(facts.operationId)) throw new Error(`openapi: operationId ${facts.operationId} is used twice`);
    operationIds.add(facts.operationId);
    if (facts.body !== undefined && !(facts.body in catalogue.bodies)) throw new Error(`openapi: ${key} names body ${facts.body}, which is not in the catalogue's bodies`);
    if (facts.body !== undefined && facts.requestBody !== undefined) throw new Error(`openapi: ${key} has both a body schema and a raw request body`);

    const path = openApiPath(route.pattern);
    const item = (paths[path] ??= {});
    item[route.method.toLowerCase() as Lowercase<Method>] = operation(route, facts, schemas);
  }
  const stale = Object.keys(catalogue.operations).filter((k) => !documented.has(k));
  if (stale.length > 0) throw new Error(`openapi: catalogue entries without a route: ${stale.join(', ')}`);

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

function operation(route: Route, facts: OperationFacts, schemas: Record<string, JsonSchema>): Record<string, unknown> {
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
    const required = ((schemas[facts.body]?.required as unknown[] | undefined) ?? []).length > 0;
    op.requestBody = {
      // jsonBody reads an empty body as {}, so a body without required fields may be left out.
      required,
      content: { 'application/json': { schema: schemaRef(facts.body) } },
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

function responses(route: Route, facts: OperationFacts, hasPathParams: boolean): Record<string, unknown> {
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
    if (ok?.schema !== undefined) content[ok.contentType ?? 'application/json'] = { schema: ok.schema };
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
