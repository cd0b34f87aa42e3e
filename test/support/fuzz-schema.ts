import fc from 'fast-check';
import { bareObject, FixtureRef, nearNow, type Json } from './fuzz-values.js';

/**
 * Valid values from the JSON Schema subset `GET /openapi.json` uses (`$ref`, `type`, `enum`,
 * `const`, `anyOf`, `oneOf` of branches that exclude each other, `properties`/`required`/`additionalProperties`/`propertyNames`, `items`
 * with `minItems`/`maxItems`, `minLength`/`maxLength`/`pattern`/`format: date-time`,
 * `minimum`/`maximum`). A keyword outside the subset is an error, so a document that grows a
 * new one is noticed rather than fuzzed wrongly. Strings the schema leaves open (a currency, a
 * price, a date) get realistic values from `hints`, by property name, so valid bodies reach the
 * handlers' own rules and the seeded rows instead of stopping at the first check.
 */
export type Schema = Record<string, unknown>;

export interface SchemaContext {
  /** `components.schemas` of the document. */
  schemas: Record<string, Schema>;
  /**
   * A realistic value for a property of this name, when the name says what it holds; for a
   * whole body, `#` and the schema's name.
   */
  hint(name: string, schema: Schema): fc.Arbitrary<Json> | undefined;
}

const KNOWN = new Set([
  '$ref', 'type', 'enum', 'const', 'anyOf', 'oneOf', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'minItems', 'maxItems',
  'minLength', 'maxLength', 'pattern', 'format', 'minimum', 'maximum', 'default', 'description',
]);
/** Arrays are kept short: their length is checked against small limits, not exercised by size. */
const MAX_ITEMS = 4;

export function resolveRef(schema: Schema, ctx: SchemaContext): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const name = ref.replace('#/components/schemas/', '');
  const target = ctx.schemas[name];
  if (target === undefined) throw new Error(`fuzz: unknown schema ${ref}`);
  return resolveRef(target, ctx);
}

export function validValue(input: Schema, ctx: SchemaContext, name = ''): fc.Arbitrary<Json> {
  // A whole body can have a hint too (`#CreateCoupon`), mixed with what the schema alone gives.
  const whole = typeof input.$ref === 'string' ? ctx.hint(`#${input.$ref.replace('#/components/schemas/', '')}`, input) : undefined;
  if (whole !== undefined) return fc.oneof(whole, validValue(resolveRef(input, ctx), ctx, name));
  const schema = resolveRef(input, ctx);
  const unknown = Object.keys(schema).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new Error(`fuzz: schema keyword(s) ${unknown.join(', ')} at ${name || 'body'} are not supported by the generator`);
  if (schema.const !== undefined) return fc.constant(schema.const as Json);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as Json[]));
  if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => validValue(s, ctx, name)));
  // A discriminated union's branches differ in their discriminator's const: a value of one is valid for that one only.
  if (Array.isArray(schema.oneOf)) return fc.oneof(...(schema.oneOf as Schema[]).map((s) => validValue(s, ctx, name)));
  const types = schema.type === undefined ? ['object'] : Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
  return fc.oneof(...types.map((t) => ofType(t, schema, ctx, name)));
}

function ofType(type: string, schema: Schema, ctx: SchemaContext, name: string): fc.Arbitrary<Json> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: num(schema.minimum, -1_000_000), max: Math.min(num(schema.maximum, 1_000_000), 1_000_000) });
    case 'number':
      return fc.double({ min: num(schema.minimum, -1e6), max: num(schema.maximum, 1e6), noNaN: true, noDefaultInfinity: true });
    case 'string':
      return ctx.hint(name, schema) ?? plainString(schema);
    case 'array': {
      const items = (schema.items as Schema | undefined) ?? {};
      const minLength = num(schema.minItems, 0);
      return fc.array(validValue(items, ctx, name), { minLength, maxLength: Math.max(minLength, Math.min(num(schema.maxItems, MAX_ITEMS), MAX_ITEMS)) });
    }
    case 'object':
      return ctx.hint(name, schema) ?? objectValue(schema, ctx);
    default:
      throw new Error(`fuzz: schema type ${type} at ${name || 'body'} is not supported by the generator`);
  }
}

function num(v: unknown, dflt: number): number {
  return typeof v === 'number' ? v : dflt;
}

function plainString(schema: Schema): fc.Arbitrary<string> {
  const minLength = num(schema.minLength, 0);
  const maxLength = num(schema.maxLength, 40);
  if (schema.format === 'date-time') return nearNow(Date.now());
  if (typeof schema.pattern === 'string') {
    const fits = (s: string) => s.length >= minLength && s.length <= maxLength;
    return fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
  }
  return fc.string({ minLength: Math.max(minLength, 1), maxLength: Math.max(minLength, 1, Math.min(maxLength, 24)) });
}

function objectValue(schema: Schema, ctx: SchemaContext): fc.Arbitrary<Json> {
  const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const names = Object.keys(properties);
  const extra = schema.additionalProperties;
  if (names.length === 0) {
    if (extra !== null && typeof extra === 'object' && Object.keys(extra).length > 0) {
      // A map (metadata): keys from propertyNames, values from additionalProperties.
      const keys = schema.propertyNames === undefined ? fc.string({ minLength: 1, maxLength: 12 }) : (validValue(schema.propertyNames as Schema, ctx) as fc.Arbitrary<string>);
      return fc.dictionary(keys, validValue(extra as Schema, ctx), { maxKeys: 3 }).map((d) => bareObject(Object.entries(d)));
    }
    return fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxKeys: 3 }).map((d) => bareObject(Object.entries(d)));
  }
  // Each optional property is present or absent; every required one is present.
  const entries = names.map((n) =>
    required.has(n) ? validValue(properties[n]!, ctx, n).map((v) => [[n, v]] as [string, Json][]) : fc.option(validValue(properties[n]!, ctx, n), { nil: undefined }).map((v) => (v === undefined ? [] : [[n, v]]) as [string, Json][]),
  );
  return fc.tuple(...entries).map((parts) => bareObject(parts.flat()));
}

/** A fixture of tenant A (usually) or B. */
export function fixture(kind: FixtureRef['kind']): fc.Arbitrary<FixtureRef> {
  return fc.oneof({ weight: 5, arbitrary: fc.constant(new FixtureRef(kind, 'A')) }, { weight: 1, arbitrary: fc.constant(new FixtureRef(kind, 'B')) });
}
