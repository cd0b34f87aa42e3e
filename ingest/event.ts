import type { ErrorCode } from '../core/errors.js';
import { exactValue, stringifyExact, unreadableNumber } from './json.js';
import { parseTimestamp } from '../core/time.js';
import { isCanonical, typeName } from './value.js';
import { METER_KEY } from '../core/meter-key.js';

/**
 * One usage event, validated. This is the ingest hot path, so it is a hand-written validator
 * (its cost is part of the ingest benchmarks) rather than a schema library; every rule has its
 * own stable rejection code.
 */
export interface EventRow {
  tenant_id: string;
  id: string;
  customer: string;
  meter: string;
  /** Canonical decimal text, or null when the event carries no value (count meters, CloudEvents). */
  value: string | null;
  /** Epoch milliseconds. */
  timestamp: number;
  /** JSON object text. */
  properties: string;
  /** Epoch microseconds: when this copy was accepted (the first copy wins). */
  ingested_at: number;
}

export interface Rejection {
  index: number;
  id?: string;
  code: ErrorCode;
  message: string;
}

export interface EventLimits {
  maxProperties: number;
  maxPropertiesBytes: number;
  maxAgeSeconds: number;
  maxFutureSeconds: number;
}

/** An event as one of the body formats delivered it, before validation. */
export type RawEvent =
  | {
      kind: 'native';
      data: unknown;
      lossless: boolean;
      /**
       * msgpack only: the top-level field of the event at a position of the body that held a
       * string whose bytes were not UTF-8, if any. The decoder turns such bytes into U+FFFD, so
       * two different ids could become one; it is asked only when a stored field holds U+FFFD
       * (the check reads the body again). One function serves all of a body's events: one
       * each would be a closure per event for the scavenger.
       */
      invalidUtf8?: (index: number) => string | undefined;
    }
  | { kind: 'cloudevent'; data: unknown; lossless: boolean }
  | { kind: 'malformed'; message: string; code?: ErrorCode };

export interface ValidationContext {
  tenantId: string;
  limits: EventLimits;
  /** Receive time, epoch ms: the default timestamp and the reference of the time window. */
  now: number;
  /** Epoch microseconds. */
  ingestedAt: number;
}

export type Validated = { ok: true; row: EventRow } | { ok: false; rejection: Rejection };

const NATIVE_FIELDS = new Set(['id', 'customer', 'meter', 'value', 'timestamp', 'properties']);
const CONTROL = /[\u0000-\u001f\u007f]/;
/**
 * A lone UTF-16 surrogate: text that is not well-formed Unicode (`"\ud800"` in JSON). ClickHouse
 * refuses it (CANNOT_PARSE_ESCAPE_SEQUENCE), and one such row would fail the whole shared insert.
 * With the `u` flag a paired surrogate is one code point and does not match.
 */
const LONE_SURROGATE = /\p{Cs}/u;
/**
 * The same in JSON text made by JSON.stringify, which writes a lone surrogate as a `\udXXX`
 * escape (and a paired one as the character itself): a `\u` escape is real when an even
 * number of backslashes precede it.
 */
const LONE_SURROGATE_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u[dD][89a-fA-F]/;
const MAX_TEXT = 256;

export function validateEvent(raw: RawEvent, index: number, ctx: ValidationContext): Validated {
  if (raw.kind === 'malformed') return reject(index, undefined, raw.code ?? 'TALLY_ERR_EVENT_INVALID', raw.message);
  const e = raw.data;
  if (e === null || typeof e !== 'object' || Array.isArray(e)) {
    return reject(index, undefined, 'TALLY_ERR_EVENT_INVALID', `event must be an object, got ${typeName(e)}`);
  }
  const o = e as Record<string, unknown>;
  if (raw.kind === 'cloudevent') return validateCloudEvent(o, index, ctx, raw.lossless);
  const v = validateNative(o, index, ctx, raw.lossless);
  if (!v.ok || raw.invalidUtf8 === undefined) return v;
  // msgpack: values JSON has no form for would be stored as another value (bytes as
  // {"type":"Buffer",...}, NaN as null) rather than refused.
  const foreign = o.properties !== null && typeof o.properties === 'object' ? nonJsonValue(o.properties, '') : undefined;
  if (foreign !== undefined) {
    return reject(index, v.row.id, 'TALLY_ERR_PROPERTIES_INVALID', `properties${foreign.path} is ${foreign.what}, which an event cannot store; send a string, a finite number, a boolean, nil, an array or a map`);
  }
  return checkWireUtf8(v, index, raw.invalidUtf8);
}

/** The first value under `v` a msgpack decoder made that JSON cannot write as it is. */
function nonJsonValue(v: unknown, path: string): { path: string; what: string } | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : { path, what: String(v) };
  if (v === null || typeof v !== 'object' || v instanceof Date) return undefined;
  if (v instanceof Uint8Array) return { path, what: 'binary data (msgpack bin)' };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = nonJsonValue(v[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const k in v) {
    const bad = nonJsonValue((v as Record<string, unknown>)[k], `${path}.${k.length > 100 ? `${k.slice(0, 100)}…` : k}`);
    if (bad) return bad;
  }
  return undefined;
}

const INVALID_UTF8_CODE: Record<string, ErrorCode> = {
  id: 'TALLY_ERR_ID_INVALID',
  customer: 'TALLY_ERR_CUSTOMER_INVALID',
  properties: 'TALLY_ERR_PROPERTIES_INVALID',
};

/**
 * Bytes that are not UTF-8 always decode to U+FFFD, so an event none of whose stored text holds
 * it came through intact (meter, value and timestamp refuse U+FFFD by their own rules).
 */
function checkWireUtf8(v: Validated & { ok: true }, index: number, invalidUtf8: (index: number) => string | undefined): Validated {
  const { row } = v;
  if (!row.id.includes('\ufffd') && !row.customer.includes('\ufffd') && !row.properties.includes('\ufffd')) return v;
  const field = invalidUtf8(index);
  if (field === undefined) return v;
  return reject(index, row.id, INVALID_UTF8_CODE[field] ?? 'TALLY_ERR_EVENT_INVALID', `${field} holds a string whose bytes are not valid UTF-8`);
}

function validateNative(o: Record<string, unknown>, index: number, ctx: ValidationContext, lossless: boolean): Validated {
  const idCheck = text(o.id, 'id', 'TALLY_ERR_ID_MISSING', 'TALLY_ERR_ID_INVALID');
  const id = typeof o.id === 'string' ? o.id : undefined;
  if (typeof idCheck !== 'string') return reject(index, undefined, idCheck.code, idCheck.message);
  for (const k in o) {
    if (!NATIVE_FIELDS.has(k)) return reject(index, id, 'TALLY_ERR_EVENT_UNKNOWN_FIELD', `unknown field ${JSON.stringify(k.length > 100 ? `${k.slice(0, 100)}…` : k)}; events have ${[...NATIVE_FIELDS].join(', ')}`);
  }
  return finish(index, ctx, lossless, NATIVE_NAMES, idCheck, o.customer, o.meter, o.value, o.value !== undefined && o.value !== null, o.timestamp, o.properties);
}

/**
 * CloudEvents 1.0: `type` is the meter, `subject` the customer, `time` the timestamp and
 * `data` the properties. The value is read from `data` by the meter's `value_property` when
 * usage is aggregated, so a meter defined later still finds it. Extension attributes (any
 * other field) are allowed by the spec and not stored.
 */
function validateCloudEvent(o: Record<string, unknown>, index: number, ctx: ValidationContext, lossless: boolean): Validated {
  const idCheck = text(o.id, 'id', 'TALLY_ERR_ID_MISSING', 'TALLY_ERR_ID_INVALID');
  const id = typeof o.id === 'string' ? o.id : undefined;
  if (typeof idCheck !== 'string') return reject(index, undefined, idCheck.code, idCheck.message);
  if (o.specversion !== '1.0') {
    // Named by its kind, not quoted whole: it may be a value nested deeper than JSON.stringify's stack.
    const v = o.specversion;
    const got = typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : v === undefined ? 'nothing' : v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object';
    return reject(index, id, 'TALLY_ERR_CLOUDEVENT_INVALID', `specversion must be "1.0", got ${got}`);
  }
  if (typeof o.source !== 'string' || o.source.length === 0) return reject(index, id, 'TALLY_ERR_CLOUDEVENT_INVALID', 'source is required (a non-empty string)');
  if (o.data_base64 !== undefined) {
    // Binary data would be stored as no properties at all: the meter would read nothing from it.
    return reject(index, id, 'TALLY_ERR_CLOUDEVENT_INVALID', 'data_base64 is not taken: send the properties as JSON in data');
  }
  if (o.datacontenttype !== undefined && (typeof o.datacontenttype !== 'string' || !/^application\/(.+\+)?json(;|$)/.test(o.datacontenttype))) {
    return reject(index, id, 'TALLY_ERR_CLOUDEVENT_INVALID', 'datacontenttype must be a JSON type when given');
  }
  return finish(index, ctx, lossless, CLOUDEVENT_NAMES, idCheck, o.subject, o.type, undefined, false, o.time, o.data);
}

/** What a format calls the fields, for its error messages. */
interface FieldNames {
  customer: string;
  meter: string;
  timestamp: string;
  properties: string;
}

const NATIVE_NAMES: FieldNames = { customer: 'customer', meter: 'meter', timestamp: 'timestamp', properties: 'properties' };
const CLOUDEVENT_NAMES: FieldNames = { customer: 'subject', meter: 'type', timestamp: 'time', properties: 'data' };

// The fields come as arguments, not as one object: that would be an allocation per event.
function finish(
  index: number,
  ctx: ValidationContext,
  lossless: boolean,
  names: FieldNames,
  id: string,
  customerIn: unknown,
  meter: unknown,
  valueIn: unknown,
  hasValue: boolean,
  timestamp: unknown,
  propertiesIn: unknown,
): Validated {
  const customer = text(customerIn, names.customer, 'TALLY_ERR_CUSTOMER_MISSING', 'TALLY_ERR_CUSTOMER_INVALID');
  if (typeof customer !== 'string') return reject(index, id, customer.code, customer.message);

  if (meter === undefined || meter === null) return reject(index, id, 'TALLY_ERR_METER_MISSING', `${names.meter} is required`);
  if (typeof meter !== 'string' || !METER_KEY.test(meter)) {
    return reject(index, id, 'TALLY_ERR_METER_INVALID', `${names.meter} must be a meter key: letters, digits, _ . : -, at most 128 characters`);
  }

  let value: string | null = null;
  // Canonical decimal text (the common case) is the stored value as it is.
  if (typeof valueIn === 'string' && isCanonical(valueIn)) value = valueIn;
  else if (hasValue) {
    const v = exactValue(valueIn);
    if (!v.ok) return reject(index, id, v.code, v.message);
    value = v.value;
  }

  let at = ctx.now;
  if (timestamp !== undefined && timestamp !== null) {
    // msgpack may carry a native timestamp (a Date); JSON carries RFC 3339 text.
    const parsed =
      typeof timestamp === 'string' ? parseTimestamp(timestamp) : timestamp instanceof Date && !Number.isNaN(timestamp.getTime()) ? timestamp.getTime() : undefined;
    if (parsed === undefined) {
      return reject(index, id, 'TALLY_ERR_TIMESTAMP_INVALID', `${names.timestamp} must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-22T10:00:00.000Z`);
    }
    if (parsed < ctx.now - ctx.limits.maxAgeSeconds * 1000) {
      return reject(index, id, 'TALLY_ERR_TIMESTAMP_TOO_OLD', `${names.timestamp} is more than ${ctx.limits.maxAgeSeconds} s in the past (TALLY_EVENT_MAX_AGE_SECONDS)`);
    }
    if (parsed > ctx.now + ctx.limits.maxFutureSeconds * 1000) {
      return reject(index, id, 'TALLY_ERR_TIMESTAMP_IN_FUTURE', `${names.timestamp} is more than ${ctx.limits.maxFutureSeconds} s in the future (TALLY_EVENT_MAX_FUTURE_SECONDS)`);
    }
    at = parsed;
  }

  let properties = '{}';
  if (propertiesIn !== undefined && propertiesIn !== null) {
    const p = propertiesIn;
    if (typeof p !== 'object' || Array.isArray(p)) return reject(index, id, 'TALLY_ERR_PROPERTIES_INVALID', `${names.properties} must be an object, got ${typeName(p)}`);
    let count = 0;
    for (const _ in p) count++;
    if (count > ctx.limits.maxProperties) {
      return reject(index, id, 'TALLY_ERR_PROPERTIES_TOO_MANY', `${names.properties} has ${count} keys; the limit is ${ctx.limits.maxProperties} (TALLY_EVENT_MAX_PROPERTIES)`);
    }
    let unreadable: ReturnType<typeof unreadableNumber>;
    try {
      properties = stringifyExact(p, lossless);
      unreadable = lossless ? unreadableNumber(p) : undefined;
    } catch {
      // Only a structure nested deeper than the stack can fail here (the body parsed as JSON).
      return reject(index, id, 'TALLY_ERR_PROPERTIES_INVALID', `${names.properties} is nested too deeply`);
    }
    if (unreadable !== undefined) {
      const { path, literal } = unreadable;
      const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal;
      return reject(
        index,
        id,
        'TALLY_ERR_PROPERTIES_INVALID',
        `${names.properties}.${path.length > 100 ? `${path.slice(0, 100)}…` : path} is the number ${shown}, which the event store cannot read exactly (an integer beyond 64 bits, or more digits than a double keeps); send it as a string`,
      );
    }
    if (deeperThan(properties, MAX_PROPERTIES_DEPTH)) {
      return reject(index, id, 'TALLY_ERR_PROPERTIES_INVALID', `${names.properties} is nested more than ${MAX_PROPERTIES_DEPTH} levels deep`);
    }
    if (properties.includes('\\u') && LONE_SURROGATE_ESCAPE.test(properties)) {
      return reject(index, id, 'TALLY_ERR_PROPERTIES_INVALID', `${names.properties} holds text that is not well-formed Unicode (a lone UTF-16 surrogate)`);
    }
    const bytes = Buffer.byteLength(properties);
    if (bytes > ctx.limits.maxPropertiesBytes) {
      return reject(index, id, 'TALLY_ERR_PROPERTIES_TOO_LARGE', `${names.properties} is ${bytes} bytes as JSON; the limit is ${ctx.limits.maxPropertiesBytes} (TALLY_EVENT_MAX_PROPERTIES_BYTES)`);
    }
  }

  return {
    ok: true,
    row: { tenant_id: ctx.tenantId, id, customer, meter, value, timestamp: at, properties, ingested_at: ctx.ingestedAt },
  };
}

/**
 * How deep properties may nest, counting the properties object as the first level. ClickHouse
 * reads no property at all of an object nested about a thousand levels deep, so such an event
 * would count as having none; no meter needs more than a few.
 */
const MAX_PROPERTIES_DEPTH = 64;

/** Whether JSON text nests arrays and objects more than `max` deep (strings skipped). */
function deeperThan(json: string, max: number): boolean {
  // Flat properties (the usual case) have one opening bracket, the first character.
  if (json.indexOf('{', 1) === -1 && json.indexOf('[') === -1) return false;
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      for (i++; json.charCodeAt(i) !== 0x22; i++) if (json.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

function text(v: unknown, field: string, missing: ErrorCode, invalid: ErrorCode): string | { code: ErrorCode; message: string } {
  if (v === undefined || v === null || v === '') return { code: missing, message: `${field} is required` };
  if (typeof v !== 'string') return { code: invalid, message: `${field} must be a string, got ${typeName(v)}` };
  if (v.length > MAX_TEXT) return { code: invalid, message: `${field} is longer than ${MAX_TEXT} characters` };
  if (CONTROL.test(v)) return { code: invalid, message: `${field} contains control characters` };
  if (LONE_SURROGATE.test(v)) return { code: invalid, message: `${field} is not well-formed Unicode (it holds a lone UTF-16 surrogate)` };
  return v;
}

function reject(index: number, id: string | undefined, code: ErrorCode, message: string): Validated {
  return { ok: false, rejection: id === undefined ? { index, code, message } : { index, id, code, message } };
}
