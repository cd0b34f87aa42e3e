/**
 * Building blocks of the OpenAPI document's schemas: JSON Schema helpers, and `Shape`, a schema
 * with its name in `components.schemas`. Answers carry no zod schema, so each domain describes
 * what its routes answer with these, beside the routes (`<domain>/openapi.ts`); the descriptions
 * are open to new properties.
 */

export type JsonSchema = Record<string, unknown>;

/** A schema published under `name` in `components.schemas` and referred to by `$ref`. */
export interface Shape {
  readonly name: string;
  readonly schema: JsonSchema;
  /** The shapes its schema refers to (`ref`), published with it. */
  readonly uses: readonly Shape[];
}

/** Where `$ref`s to the published schemas point. */
export const SCHEMAS = '#/components/schemas/';

export function shape(name: string, schema: JsonSchema, uses: readonly Shape[] = []): Shape {
  return { name, schema, uses };
}

/** A `$ref` to a shape, or to a schema by its name in `components.schemas`. */
export function schemaRef(target: Shape | string): JsonSchema {
  return { $ref: `${SCHEMAS}${typeof target === 'string' ? target : target.name}` };
}

export const str = (description?: string): JsonSchema => ({ type: 'string', ...(description === undefined ? {} : { description }) });
export const int = (description?: string): JsonSchema => ({ type: 'integer', ...(description === undefined ? {} : { description }) });
export const bool: JsonSchema = { type: 'boolean' };
export const instant: JsonSchema = { type: 'string', format: 'date-time' };
export const decimal = (description = 'A decimal string, exact (never a binary float).'): JsonSchema => ({ type: 'string', description });
export const oneOfStrings = (values: readonly string[]): JsonSchema => ({ type: 'string', enum: [...values] });
export const arr = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
export const nullable = (s: JsonSchema): JsonSchema => ({ anyOf: [s, { type: 'null' }] });
export const strings: JsonSchema = arr(str());
export const period: JsonSchema = obj({ start: instant, end: instant });

/** An object whose properties are all present unless named in `optional`. */
export function obj(properties: Record<string, JsonSchema>, optional: readonly string[] = [], description?: string): JsonSchema {
  return {
    type: 'object',
    ...(description === undefined ? {} : { description }),
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
  };
}

/** `<Item>List`: `{data: [...]}`, with `has_more` when the list is paged. */
export function list(item: Shape, paged: boolean): Shape {
  const data = arr(schemaRef(item));
  return shape(`${item.name}List`, obj(paged ? { data, has_more: bool } : { data }), [item]);
}

/** What a DELETE answers (customers, webhook endpoints). */
export const Deleted = shape('Deleted', obj({ id: str(), deleted: { const: true } }));
