import fc from 'fast-check';

/**
 * Values for the fuzz test's requests: a JSON tree that can hold what `JSON.stringify` cannot
 * write (numbers beyond a double, `-0`, deep nesting as text, own `__proto__` keys), references
 * to seeded fixtures resolved when the request is sent, and the hostile strings and numbers the
 * mutations put in place of valid values.
 */

/** A JSON token written as it is: `1e400`, `-0`, 30 digits, 5000 nested brackets. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** A seeded fixture's id, resolved at send time (ids of a restarted server differ). */
export class FixtureRef {
  constructor(
    readonly kind: FixtureKind,
    readonly owner: 'A' | 'B',
  ) {}
}

export type FixtureKind = 'tenant' | 'meter' | 'customer' | 'plan' | 'subscription' | 'coupon' | 'endpoint' | 'apiKey' | 'webhookEvent' | 'invoice';

/** Resolves a fixture reference to the id it stands for now. */
export type Resolve = (ref: FixtureRef) => string;

export type Json = null | boolean | number | string | RawJson | FixtureRef | Json[] | { [key: string]: Json };

/** JSON text of a tree; objects are written from their own keys, `__proto__` included. */
export function toJsonText(value: Json, resolve: Resolve): string {
  if (value === null) return 'null';
  if (value instanceof RawJson) return value.text;
  if (value instanceof FixtureRef) return JSON.stringify(resolve(value));
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map((v) => toJsonText(v, resolve)).join(',')}]`;
  return `{${Object.keys(value)
    .map((k) => `${JSON.stringify(k)}:${toJsonText(value[k]!, resolve)}`)
    .join(',')}}`;
}

/** The tree as plain JS data (for msgpack): raw tokens become the number they spell. */
export function toPlain(value: Json, resolve: Resolve): unknown {
  if (value instanceof RawJson) {
    const n = Number(value.text);
    return Number.isNaN(n) ? value.text : n;
  }
  if (value instanceof FixtureRef) return resolve(value);
  if (Array.isArray(value)) return value.map((v) => toPlain(v, resolve));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(value)) out[k] = toPlain(value[k]!, resolve);
    return out;
  }
  return value;
}

/** An object with no prototype, so `__proto__` can be an own key like any other. */
export function bareObject(entries: Iterable<readonly [string, Json]> = []): { [key: string]: Json } {
  const out = Object.create(null) as { [key: string]: Json };
  for (const [k, v] of entries) out[k] = v;
  return out;
}

const DAY = 86_400_000;

/** Characters that break naive text handling: NUL, controls, lone surrogates, BOM, bidi, non-BMP. */
export const oddChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff', '\udbff', '\ufeff', '\u202e', '\uffff', '\ufffe', '\u0085', '\u2028', '\u007f', '\u001b', '\ud83d\ude00', 'e\u0301', '\u0130', '%', '/', '\\', '"', "'", '?', '#', '&', '='),
  },
);

/** Strings that look like numbers a parser might take: NaN, Infinity, exponents, too many decimals. */
export const numberishString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'NaN', 'nan', 'Infinity', '-Infinity', 'inf', '+1', '-0', '00001', '1.', '.5', '1e3', '1E-7', '1e400', '-1e400', '0x1F', '0b11', '1_000', ' 1', '1 ', '١٢٣', '１２３',
    '0.0000001', '1.1234567', '12345678901234567890', '123456789012345678901', '99999999999999999999.999999', '-5', '1,5', '', ' ', 'null', 'true', 'undefined',
  ),
  fc.tuple(fc.nat({ max: 60 }), fc.nat({ max: 40 })).map(([ints, decimals]) => `${'9'.repeat(ints + 1)}${decimals > 0 ? `.${'1'.repeat(decimals)}` : ''}`),
);

/** Instants outside what any store holds, impossible dates, and other date-like text. */
export const oddDate: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0001-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '1000-01-01T00:00:00Z', '1899-12-31T23:59:59Z', '1969-12-31T23:59:59Z', '1970-01-01T00:00:00Z', '2106-02-07T06:28:16Z',
    '2299-12-31T23:59:59Z', '9999-12-31T23:59:59Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '+010000-01-01T00:00:00Z', '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z', '2026-01-01T24:00:00Z', '2016-12-31T23:59:60Z', '2026-01-01T00:00:00', '2026-01-01', '2026-01-01T00:00:00+25:00', '2026-01-01T00:00:00.1234567891Z',
    'now', 'period_end', '1700000000', '2026-01-01T00:00:00Z\u0000', ' 2026-01-01T00:00:00Z',
  ),
  fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }).map((ms) => new Date(ms).toISOString()),
);

export const nearNow = (now: number): fc.Arbitrary<string> => fc.integer({ min: -30 * DAY, max: DAY }).map((ms) => new Date(now + ms).toISOString());

/** Time zones: canonical, wrong case, offsets, made up, traversal. */
export const oddZone: fc.Arbitrary<string> = fc.constantFrom(
  'UTC', 'utc', 'Europe/Berlin', 'europe/berlin', 'EUROPE/BERLIN', 'America/St_Johns', 'Asia/Kathmandu', 'Pacific/Kiritimati', 'Etc/GMT+12', 'Etc/GMT-14', 'GMT', 'Z', '+05:30',
  'UTC+1', 'Mars/Olympus_Mons', '../../../etc/passwd', 'America/Argentina/ComodRivadavia', 'US/Pacific-New', 'Europe/Kyiv', 'EST5EDT', '',
);

const shortOdd = [
  { weight: 4, arbitrary: fc.string({ unit: oddChar, maxLength: 12 }) },
  { weight: 2, arbitrary: numberishString },
  { weight: 1, arbitrary: oddDate },
  { weight: 1, arbitrary: oddZone },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "'; DROP TABLE customers; --", "' OR '1'='1", '\\', '${jndi:ldap://x}', '{{7*7}}', '../../etc/passwd', 'https://169.254.169.254/latest', 'http://[::ffff:127.0.0.1]/', 'http://[::127.0.0.1]/',
      'file:///etc/passwd', 'USD', 'usd', 'XXX', 'XXX1', 'ISK', 'JPY', 'BHD', 'CLF', 'xx', 'DE', 'zz', 'x'.repeat(129), 'a@b.c', '*', 'cus_', `cus_${'a'.repeat(251)}`,
    ),
  },
];

/** Text for a URL: short odd strings and injection-shaped strings (a long URL is uWS's to refuse, see the test). */
export const oddUrlText: fc.Arbitrary<string> = fc.oneof(...shortOdd);

/** Text for a body: the same, and long strings. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  ...shortOdd,
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(257, 1_000, 20_000, 100_000), oddChar).map(([n, c]) => c.repeat(n)) },
);

/** Numbers JSON can spell but a double (or a decimal column) cannot hold as meant. */
export const oddNumber: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    0, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 53 + 2, -(2 ** 63), Number.MAX_VALUE, 5e-324, 0.1 + 0.2,
    new RawJson('1e400'), new RawJson('-1e400'), new RawJson('-0'), new RawJson('1e-400'), new RawJson('123456789012345678901234567890'),
    new RawJson('0.12345678901234567890123'), new RawJson('99999999999999999999'), new RawJson('1E2'), new RawJson('100000000000000000000.000001'),
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** `depth` nested arrays or objects, as text (a JS tree that deep would overflow our own writer). */
export const deepNesting: fc.Arbitrary<Json> = fc
  .tuple(fc.constantFrom(64, 1_000, 100_000), fc.boolean())
  .map(([depth, arrays]) => new RawJson(arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

/** Keys that have a meaning to JavaScript objects. */
export const oddKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', '\u0000', '\ud800', 'a'.repeat(300)) },
  { weight: 1, arbitrary: fc.string({ unit: oddChar, maxLength: 6 }) },
);

/** Any hostile value: what a mutation puts where a valid value was. */
export const hostileValue: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3 },
    { weight: 6, arbitrary: oddString },
    { weight: 4, arbitrary: oddNumber },
    { weight: 1, arbitrary: fc.constantFrom<Json>(null, true, false, [], {}) },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.array(fc.tuple(oddKey, tie('value')), { maxLength: 3 }).map((entries) => bareObject(entries)) },
  ),
})).value;
