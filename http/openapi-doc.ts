import type { z } from 'zod';
import type { ErrorCode } from '../core/errors.js';
import type { JsonSchema, Shape } from './openapi-shapes.js';

/**
 * What the OpenAPI document says about one route that the route table cannot: its `doc`, written
 * beside its handler. Request bodies are never described here: a route names the zod schema its
 * handler validates with, and the document is made from that.
 */
export interface OperationDoc {
  operationId: string;
  summary: string;
  description?: string;
  /** One of the tags the catalogue declares (app/openapi-catalog.ts). */
  tag: string;
  /** The zod schema the handler passes to `jsonBody`, and its name in `components.schemas`. */
  body?: NamedBody;
  requestBody?: RawRequestBody;
  /** Descriptions of the path parameters, by name (`:id` → `id`). */
  path?: Readonly<Record<string, string>>;
  query?: readonly Parameter[];
  headers?: readonly Parameter[];
  /** The answers other than errors, by status. */
  responses: Readonly<Record<number, ResponseDoc>>;
  /** Error codes particular to this route; the ones every route of its kind can answer are added. */
  errors?: readonly ErrorCode[];
  /** Shapes the request refers to (a raw request body's); those of the answers come with them. */
  uses?: readonly Shape[];
}

export interface NamedBody {
  name: string;
  schema: z.ZodType;
}

export interface Parameter {
  name: string;
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface ResponseDoc {
  description: string;
  /** The body, a named shape (referred to); absent for a response without a body or with `schema`. */
  shape?: Shape;
  /** The body, a schema written in place. */
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

/** A JSON answer of a named shape. */
export function json(description: string, shape: Shape): ResponseDoc {
  return { description, shape };
}

/** `limit`, of the list routes. */
export function limitParameter(dflt: number, max: number): Parameter {
  return { name: 'limit', description: `How many to return, from 1 to ${max}.`, schema: { type: 'integer', minimum: 1, maximum: max, default: dflt } };
}

/** `starting_after`, of the list routes paged by id. */
export const startingAfter: Parameter = { name: 'starting_after', description: 'The last id of the previous page.', schema: { type: 'string', minLength: 1 } };

/** `customer`, of the list routes that can keep to one customer. */
export const customerFilter: Parameter = { name: 'customer', description: 'Only this customer.', schema: { type: 'string', minLength: 1 } };
