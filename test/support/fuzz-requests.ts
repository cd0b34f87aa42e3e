import fc from 'fast-check';
import { Packr } from './msgpack.js';
import Stripe from 'stripe';
import { fixture, validValue, type Schema, type SchemaContext } from './fuzz-schema.js';
import type { RawRequest } from './fuzz-http.js';
import {
  bareObject,
  deepNesting,
  FixtureRef,
  hostileValue,
  nearNow,
  numberishString,
  oddDate,
  oddKey,
  oddUrlText,
  oddZone,
  RawJson,
  toJsonText,
  toPlain,
  type FixtureKind,
  type Json,
  type Resolve,
} from './fuzz-values.js';

/**
 * Requests for one operation of `GET /openapi.json`, as fast-check arbitraries: which key, what
 * in each path parameter, which query parameters, what body. A generated request is a plan that
 * refers to seeded fixtures symbolically; `render` turns it into the exact bytes sent, with the
 * ids the (possibly restarted) server holds now.
 */

export type Access = 'public' | 'tenant' | 'admin';

export interface Operation {
  method: string;
  /** As in the document: `/v1/customers/{id}`. */
  path: string;
  access: Access;
  pathParams: string[];
  query: { name: string; required: boolean; schema: Schema }[];
  /** Content type → schema of the documented request body, when there is one. */
  body: Record<string, Schema> | undefined;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export function operationsOf(doc: { paths: Record<string, Record<string, any>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const security = (op.security as Record<string, unknown>[] | undefined)?.[0];
      const scheme = security === undefined ? undefined : Object.keys(security)[0];
      const params = ((op.parameters as any[] | undefined) ?? []).filter((p) => p.$ref === undefined);
      out.push({
        method: method.toUpperCase(),
        path,
        access: scheme === undefined ? 'public' : scheme === 'adminKey' ? 'admin' : 'tenant',
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name as string),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name as string, required: p.required === true, schema: p.schema as Schema })),
        body: op.requestBody === undefined ? undefined : Object.fromEntries(Object.entries(op.requestBody.content as Record<string, { schema?: Schema }>).map(([ct, c]) => [ct, c.schema ?? {}])),
      });
    }
  }
  return out;
}

/** Who the request claims to be. `owner` is the key the route asks for (tenant A or the admin). */
export type Auth = 'owner' | 'tenantA' | 'tenantB' | 'admin' | 'wrong' | 'malformed' | 'none';

type Segment =
  | { kind: 'fixture'; ref: FixtureRef }
  /** Percent-encoded as UTF-8 (lone surrogates as their WTF-8 bytes, which no decoder accepts). */
  | { kind: 'encoded'; text: string }
  /** Written as it is, except what would break the request line. */
  | { kind: 'raw'; text: string };

type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: Json }
  | { kind: 'ndjson'; lines: Json[] }
  | { kind: 'msgpack'; value: Json }
  | { kind: 'text'; text: string }
  /** Valid JSON text with bytes that are not UTF-8 spliced into its first string. */
  | { kind: 'badUtf8'; value: Json; bytes: number[] };

type Signature = 'valid' | 'invalid' | 'none' | 'future' | 'past';

export interface RequestPlan {
  auth: Auth;
  malformedAuth: string;
  path: Segment[];
  query: [Segment, Segment][];
  contentType: string | undefined;
  body: Body;
  headers: [string, string][];
  signature: Signature;
}

export interface Keys {
  admin: string;
  tenantA: string;
  tenantB: string;
}

export interface RenderContext {
  keys: Keys;
  resolve: Resolve;
  stripeSecret: string;
}

const PATH_KIND: Record<string, FixtureKind> = {
  customers: 'customer',
  subscriptions: 'subscription',
  meters: 'meter',
  plans: 'plan',
  coupons: 'coupon',
  webhook_endpoints: 'endpoint',
  api_keys: 'apiKey',
  webhook_events: 'webhookEvent',
  invoices: 'invoice',
};

const MALFORMED_ESCAPES = ['%E0%A4%A', '%ED%A0%80', '%ED%BF%BF', '%', '%%', '%ZZ', '%C0%AF', '%C0%80', '%00', '%FF', '%FE%FF', 'a%2', '%F4%90%80%80', '%F8%88%80%80%80', '%EF%BF%BE', '%u0041', '%2F', '%2e%2e', '..', '%25', '%0A', '%0D%0A'];

const malformedEscape: fc.Arbitrary<string> = fc
  .tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 4 }).map((s) => s.replace(/[^A-Za-z0-9_]/g, '')), fc.constantFrom(...MALFORMED_ESCAPES), fc.constantFrom('', 'x', '%41'))
  .map(([before, esc, after]) => before + esc + after);

/** A path parameter: mostly a fixture (own or the other tenant's), else unknown, odd, malformed or long. */
function pathSegment(kind: FixtureKind | undefined): fc.Arbitrary<Segment> {
  const seeded = kind === undefined ? [] : [{ weight: 6, arbitrary: fixture(kind).map((ref): Segment => ({ kind: 'fixture', ref })) }];
  return fc.oneof(
    ...seeded,
    { weight: 1, arbitrary: fc.constantFrom('missing_1', 'sub_00000000000000000000', 'cus_fuzz_gone', '0', '-1', 'null').map((text): Segment => ({ kind: 'encoded', text })) },
    { weight: 3, arbitrary: oddUrlText.map((text): Segment => ({ kind: 'encoded', text })) },
    { weight: 1, arbitrary: oddUrlText.map((text): Segment => ({ kind: 'raw', text })) },
    { weight: 2, arbitrary: malformedEscape.map((text): Segment => ({ kind: 'raw', text })) },
    { weight: 1, arbitrary: fc.constantFrom(300, 2_000, 9_000).map((n): Segment => ({ kind: 'encoded', text: 'a'.repeat(n) })) },
  );
}

/** Realistic values by property or parameter name: seeded ids, currencies, prices, dates. */
export function hints(now: number): SchemaContext['hint'] {
  const decimal = fc.oneof(
    fc.constantFrom('0', '1', '0.5', '199.00', '0.0008', '100000', '12.345678'),
    fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.nat({ max: 999_999 })).map(([i, f]) => `${i}.${String(f).padStart(6, '0')}`),
  );
  // Amounts billed as such have the currency's decimals (2 for most, 0 for JPY, 3 for BHD).
  const money = fc.oneof(fc.constantFrom('0', '10', '199.00', '0.50'), fc.tuple(fc.nat({ max: 1_000_000 }), fc.nat({ max: 99 })).map(([i, f]) => `${i}.${String(f).padStart(2, '0')}`));
  const future = fc.integer({ min: 1, max: 400 * 86_400_000 }).map((ms) => new Date(now + ms).toISOString());
  const byName: Record<string, fc.Arbitrary<Json>> = {
    customer: fixture('customer'),
    subject: fixture('customer'),
    meter: fixture('meter'),
    plan: fixture('plan'),
    plans: fixture('plan'),
    coupon: fixture('coupon'),
    endpoint: fixture('endpoint'),
    subscription: fixture('subscription'),
    starting_after: fc.oneof(fixture('customer'), fixture('subscription'), fixture('invoice'), fixture('webhookEvent')),
    currency: fc.constantFrom('USD', 'USD', 'EUR', 'JPY', 'ISK', 'BHD', 'usd'),
    country: fc.constantFrom('DE', 'US', 'FR', 'GB', 'de'),
    region: fc.constantFrom('CA', 'BY', 'NY'),
    url: fc.constantFrom('https://example.com/hooks/tally', 'https://hooks.example.org/x?y=1'),
    start_date: nearNow(now),
    timestamp: nearNow(now),
    time: nearNow(now),
    // Whole hours (usage is kept per hour), mostly whole UTC days so day windows line up too.
    from: fc.tuple(fc.integer({ min: 2, max: 40 }), fc.constantFrom(0, 0, 0, 7)).map(([d, h]) => new Date(midnight(now) - d * 86_400_000 + h * 3_600_000).toISOString()),
    to: fc.tuple(fc.integer({ min: 0, max: 1 }), fc.constantFrom(0, 0, 0, 5)).map(([d, h]) => new Date(midnight(now) - d * 86_400_000 + h * 3_600_000).toISOString()),
    at: nearNow(now),
    until: future,
    redeem_by: future,
    value: fc.oneof(decimal, fc.nat({ max: 1000 })),
    amount: money,
    base_fee: money,
    unit_price: decimal,
    flat_fee: money,
    included: decimal,
    minimum: money,
    maximum: money,
    credit_allowance: money,
    up_to: decimal,
    package_size: fc.constantFrom('1', '10', '1000'),
    value_property: fc.constantFrom('bytes', 'gb'),
    group_by: fc.constant('region'),
    source: fc.constant('fuzz'),
    tz: oddZone,
    version: fc.constantFrom(1, 2),
    properties: fc.record({ region: fc.constantFrom('eu', 'us'), bytes: decimal }).map((r) => bareObject(Object.entries(r))),
    data: fc.record({ region: fc.constantFrom('eu', 'us'), bytes: decimal }).map((r) => bareObject(Object.entries(r))),
    // Consulted per item of `charges` (as `plans` is per item of `plans`).
    charges: charge(decimal).map(toTree),
    '#CreateCoupon': coupon(future).map(toTree),
  };
  return (name) => byName[name];
}

function midnight(now: number): number {
  return now - (now % 86_400_000);
}

/** A charge each model accepts: the fields its model needs, priced with `decimal`. */
function charge(decimal: fc.Arbitrary<string>): fc.Arbitrary<Record<string, unknown>> {
  const meter = fixture('meter');
  const tiers = fc.tuple(fc.constantFrom('100', '1000.5'), decimal, decimal, fc.option(decimal, { nil: undefined })).map(([upTo, a, b, flat]) => [
    { up_to: upTo, unit_price: a },
    { up_to: null, unit_price: b, ...(flat === undefined ? {} : { flat_fee: flat }) },
  ]);
  return fc.oneof(
    fc.record({ meter, model: fc.constant('per_unit'), unit_price: decimal, included: fc.option(decimal, { nil: undefined }) }, { requiredKeys: ['meter', 'model', 'unit_price'] }),
    fc.record({ meter, model: fc.constantFrom('graduated', 'volume'), tiers, minimum: fc.option(fc.constant('1'), { nil: undefined }) }, { requiredKeys: ['meter', 'model', 'tiers'] }),
    fc.record({ meter, model: fc.constant('package'), package_size: fc.constantFrom('10', '1000'), unit_price: decimal, round: fc.constantFrom('up', 'down') }),
  );
}

/** A coupon as each kind must be: a percentage, or an amount with its currency. */
function coupon(future: fc.Arbitrary<string>): fc.Arbitrary<Record<string, unknown>> {
  const common = {
    code: fc.stringMatching(/^[A-Z0-9]{1,12}$/),
    name: fc.constant('Fuzz coupon'),
    max_redemptions: fc.integer({ min: 1, max: 1000 }),
    redeem_by: future,
    plans: fc.array(fixture('plan'), { minLength: 1, maxLength: 2 }),
  };
  const optional = ['max_redemptions', 'redeem_by', 'plans'];
  const required = (keys: string[]) => keys.filter((k) => !optional.includes(k));
  const percent = { ...common, percent_off: fc.constantFrom('10', '12.5', '100'), duration: fc.constantFrom('once', 'forever') };
  const amount = { ...common, amount_off: fc.constantFrom('5.00', '0.01'), currency: fc.constantFrom('USD', 'EUR'), duration: fc.constant('repeating'), duration_periods: fc.integer({ min: 1, max: 12 }) };
  return fc.oneof(fc.record(percent, { requiredKeys: required(Object.keys(percent)) as (keyof typeof percent)[] }), fc.record(amount, { requiredKeys: required(Object.keys(amount)) as (keyof typeof amount)[] }));
}

type Mutation = { op: 'replace' | 'delete' | 'add' | 'swapType' | 'wrap' | 'nest'; pick: number; key: string; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom<Mutation['op']>('replace', 'replace', 'replace', 'delete', 'add', 'swapType', 'swapType', 'wrap', 'nest'),
  pick: fc.nat(),
  key: fc.oneof(oddKey, fc.constantFrom('id', 'tenant_id', 'extra', 'metadata')),
  value: hostileValue,
});

type Slot = { parent: Json[] | { [key: string]: Json }; key: string | number };

function slots(value: Json, out: Slot[] = []): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push({ parent: value, key: i });
      slots(v, out);
    });
  } else if (value !== null && typeof value === 'object' && !(value instanceof RawJson) && !(value instanceof FixtureRef)) {
    for (const k of Object.keys(value)) {
      out.push({ parent: value, key: k });
      slots(value[k]!, out);
    }
  }
  return out;
}

function clone(value: Json): Json {
  if (Array.isArray(value)) return value.map(clone);
  if (value !== null && typeof value === 'object' && !(value instanceof RawJson) && !(value instanceof FixtureRef)) {
    return bareObject(Object.keys(value).map((k) => [k, clone(value[k]!)] as const));
  }
  return value;
}

function swapType(v: Json): Json {
  if (typeof v === 'string') return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(v) ? new RawJson(v) : v.length;
  if (typeof v === 'number' || v instanceof RawJson) return typeof v === 'number' ? String(v) : v.text;
  if (typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  if (v instanceof FixtureRef) return 1;
  return JSON.stringify(toPlain(v, () => 'x'));
}

/** Applies mutations to a copy of `value`; the root itself can be replaced. */
export function mutate(value: Json, mutations: Mutation[]): Json {
  let root = clone(value);
  for (const m of mutations) {
    const all = slots(root);
    const objects = all.filter((s) => !Array.isArray(s.parent));
    const containers: (Json[] | { [key: string]: Json })[] = [];
    if (root !== null && typeof root === 'object' && !(root instanceof RawJson) && !(root instanceof FixtureRef)) containers.push(root);
    for (const s of all) {
      const v = (s.parent as Record<string | number, Json>)[s.key]!;
      if (v !== null && typeof v === 'object' && !(v instanceof RawJson) && !(v instanceof FixtureRef)) containers.push(v);
    }
    const set = (s: Slot | undefined, f: (old: Json) => Json) => {
      if (s === undefined) root = f(root);
      else (s.parent as Record<string | number, Json>)[s.key] = f((s.parent as Record<string | number, Json>)[s.key]!);
    };
    const at = all.length === 0 ? undefined : all[m.pick % (all.length + 1)];
    switch (m.op) {
      case 'replace':
        // A copy: generated values can be shared (fast-check reuses its constants, [] and {}),
        // and one put in two places, or into itself by a later mutation, would make a cycle.
        set(at, () => clone(m.value));
        break;
      case 'swapType':
        set(at, swapType);
        break;
      case 'wrap':
        set(at, (old) => [old]);
        break;
      case 'nest':
        set(at, () => fc.sample(deepNesting, { numRuns: 1, seed: m.pick })[0]!);
        break;
      case 'delete': {
        const s = objects[m.pick % Math.max(objects.length, 1)];
        if (s !== undefined) delete (s.parent as Record<string, Json>)[s.key as string];
        break;
      }
      case 'add': {
        const target = containers[m.pick % Math.max(containers.length, 1)];
        if (target !== undefined && !Array.isArray(target)) target[m.key] = clone(m.value);
        else if (Array.isArray(target)) target.push(clone(m.value));
        break;
      }
    }
  }
  return root;
}

/** A valid body for the content type, sometimes mutated (none, one or a few mutations). */
function mutated(valid: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  return fc.tuple(valid, fc.oneof({ weight: 3, arbitrary: fc.constant([] as Mutation[]) }, { weight: 5, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) })).map(([v, ms]) => mutate(v, ms));
}

const JUNK_TEXT = ['', ' ', '{', '}', '{"a":', '[', 'null', 'true', '0', '"x"', '[]', '1e400', '\ufeff{}', '{}garbage', '{"a":1,"a":2}', '{"__proto__":{"polluted":1}}', "{'a':1}", '{"a":NaN}', '{"a":Infinity}', 'a=1&b=2', '<xml/>'];

/** A Stripe event as the webhook route receives it, pointing at seeded rows or at nothing. */
function stripeEvent(now: number): fc.Arbitrary<Json> {
  const created = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -86_400, max: 60 }).map((s) => Math.floor(now / 1000) + s) },
    { weight: 1, arbitrary: oddCreated },
  );
  const object = fc.record({
    id: fc.constantFrom('in_fuzz', 'sub_fuzz', 'cus_fuzz'),
    object: fc.constantFrom('invoice', 'subscription'),
    status: fc.constantFrom('paid', 'open', 'past_due', 'unpaid', 'active', 'canceled'),
    metadata: fc.record({ tally_tenant: fc.constant(new FixtureRef('tenant', 'A')), tally_invoice: fixture('invoice'), tally_subscription: fixture('subscription') }),
  });
  const event = fc.record({
    id: fc.string({ minLength: 1, maxLength: 12 }).map((s) => `evt_${s}`),
    object: fc.constant('event'),
    type: fc.constantFrom('invoice.paid', 'invoice.payment_failed', 'invoice.voided', 'invoice.marked_uncollectible', 'customer.subscription.updated', 'customer.subscription.deleted', 'ping'),
    created,
    data: fc.record({ object }),
  });
  return event.map((e) => toTree(e));
}

const oddCreated: fc.Arbitrary<Json> = fc.constantFrom<Json>(-1, 0, -62135596800, 253402300800, 2 ** 53 + 2, 1e20, new RawJson('1e400'), new RawJson('-0'), 1.5, '1700000000', null);

/** A plain fast-check record as a tree of bare objects (so mutations can add `__proto__`). */
function toTree(v: unknown): Json {
  if (Array.isArray(v)) return v.map(toTree);
  if (v instanceof RawJson || v instanceof FixtureRef || v === null || typeof v !== 'object') return v as Json;
  return bareObject(
    Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => [k, toTree(x)] as const),
  );
}

export interface PlanOptions {
  ctx: SchemaContext;
  now: number;
}

export function requestPlan(op: Operation, { ctx, now }: PlanOptions): fc.Arbitrary<RequestPlan> {
  const segments = op.path.split('/');
  const path = fc.tuple(
    ...segments.map((seg, i): fc.Arbitrary<Segment> => {
      const param = /^\{(.+)\}$/.exec(seg)?.[1];
      if (param === undefined) return fc.constant({ kind: 'raw', text: seg });
      return pathSegment(PATH_KIND[segments[i - 1] ?? '']);
    }),
  );

  const queryValue = (schema: Schema, name: string): fc.Arbitrary<Segment> =>
    fc.oneof(
      { weight: 5, arbitrary: validValue(schema, ctx, name).map((v): Segment => (v instanceof FixtureRef ? { kind: 'fixture', ref: v } : { kind: 'encoded', text: v !== null && typeof v === 'object' ? toJsonText(v, () => '') : String(v) })) },
      { weight: 2, arbitrary: oddUrlText.map((text): Segment => ({ kind: 'encoded', text })) },
      { weight: 1, arbitrary: fc.oneof(numberishString, oddDate, oddZone).map((text): Segment => ({ kind: 'encoded', text })) },
      { weight: 1, arbitrary: malformedEscape.map((text): Segment => ({ kind: 'raw', text })) },
    );
  const documented = op.query.map(
    (q): fc.Arbitrary<[Segment, Segment][]> =>
    fc.oneof(
      { weight: q.required ? 8 : 4, arbitrary: queryValue(q.schema, q.name).map((v): [Segment, Segment][] => [[{ kind: 'raw', text: q.name }, v]]) },
      { weight: 1, arbitrary: fc.tuple(queryValue(q.schema, q.name), queryValue(q.schema, q.name)).map(([a, b]): [Segment, Segment][] => [[{ kind: 'raw', text: q.name }, a], [{ kind: 'raw', text: q.name }, b]]) },
      { weight: q.required ? 1 : 4, arbitrary: fc.constant([] as [Segment, Segment][]) },
    ),
  );
  const extraQuery = fc.oneof(
    { weight: 6, arbitrary: fc.constant([] as [Segment, Segment][]) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.oneof(oddKey, malformedEscape), oddUrlText).map(([k, v]) => [[{ kind: 'encoded', text: k }, { kind: 'encoded', text: v }]] as [Segment, Segment][]),
    },
    { weight: 1, arbitrary: malformedEscape.map((k) => [[{ kind: 'raw', text: k }, { kind: 'raw', text: k }]] as [Segment, Segment][]) },
  );
  const query = fc.tuple(fc.tuple(...documented), extraQuery).map(([parts, extra]): [Segment, Segment][] => [...parts.flat(), ...extra]);

  const body = bodyOf(op, ctx, now);

  const auth = fc.oneof(
    { weight: 12, arbitrary: fc.constant<Auth>('owner') },
    { weight: 1, arbitrary: fc.constantFrom<Auth>('tenantA', 'tenantB', 'admin', 'wrong', 'malformed', 'none') },
  );
  const malformedAuth = fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer tly_x_y', 'Bearer tly_', 'Bearer tly__', `Bearer tly_${'a'.repeat(3000)}`, 'Bearer tly_a_b_c_d', 'Bearer \u00e9\u00e9', 'Token x');
  const headers = fc.oneof(
    { weight: 6, arbitrary: fc.constant([] as [string, string][]) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('X-Request-Id', 'Idempotency-Key', 'Accept', 'Content-Encoding', 'Transfer-Encoding-Fuzz'), fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 300 }), fc.constantFrom('gzip', 'a'.repeat(300), 'idem_1', '\u00e9')))
        .map(([k, v]) => [[k, v.replace(/[\r\n]/g, '')]] as [string, string][]),
    },
  );
  const signature = fc.constantFrom<Signature>('valid', 'valid', 'valid', 'invalid', 'none', 'future', 'past');
  return fc.record({ auth, malformedAuth, path, query, payload: body, headers, signature }).map(({ payload, ...rest }): RequestPlan => ({ ...rest, contentType: payload.contentType, body: payload.body }));
}

type Payload = { contentType: string | undefined; body: Body };

function payload(contentType: string | undefined, body: Body): Payload {
  return { contentType, body };
}

function bodyOf(op: Operation, ctx: SchemaContext, now: number): fc.Arbitrary<Payload> {
  const junk = fc.record({
    contentType: fc.constantFrom<string | undefined>('application/json', undefined, 'text/plain', 'application/json; charset=utf-16', 'application/JSON', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded'),
    body: fc.oneof(
      fc.constantFrom(...JUNK_TEXT).map((text): Body => ({ kind: 'text', text })),
      hostileValue.map((value): Body => ({ kind: 'json', value })),
    ),
  });
  if (op.body === undefined) {
    return fc.oneof({ weight: 8, arbitrary: fc.constant({ contentType: undefined, body: { kind: 'none' } }) }, { weight: 1, arbitrary: junk });
  }
  const event = ctx.schemas.Event === undefined ? undefined : validValue(ctx.schemas.Event, ctx);
  const byType = Object.entries(op.body).map(([contentType, schema]) => {
    let valid: fc.Arbitrary<Json>;
    if (contentType === 'application/x-ndjson' && event !== undefined) {
      return fc.array(mutated(event), { minLength: 1, maxLength: 4 }).map((lines) => payload(contentType, { kind: 'ndjson', lines }));
    } else if (contentType === 'application/msgpack' && event !== undefined) {
      return fc.oneof(mutated(event), fc.array(mutated(event), { maxLength: 3 })).map((value) => payload(contentType, { kind: 'msgpack', value }));
    } else if (op.path === '/v1/stripe/webhooks') {
      valid = stripeEvent(now);
    } else {
      valid = validValue(schema, ctx);
    }
    return fc.oneof(
      { weight: 10, arbitrary: mutated(valid).map((value): Body => ({ kind: 'json', value })) },
      { weight: 1, arbitrary: fc.tuple(valid, fc.constantFrom<number[]>([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x00])).map(([value, bytes]): Body => ({ kind: 'badUtf8', value, bytes })) },
    ).map((body) => payload(contentType, body));
  });
  return fc.oneof({ weight: 10, arbitrary: fc.oneof(...byType) }, { weight: 1, arbitrary: junk });
}

/** Percent-encodes UTF-8; a lone surrogate becomes its three WTF-8 bytes, which decoders refuse. */
export function encode(text: string, keep = /[A-Za-z0-9\-._~]/): string {
  let out = '';
  for (const ch of text) {
    if (keep.test(ch)) {
      out += ch;
      continue;
    }
    const cp = ch.codePointAt(0)!;
    const bytes = cp >= 0xd800 && cp <= 0xdfff ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)] : [...Buffer.from(ch, 'utf8')];
    out += bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
  return out;
}

/** What must be escaped even in a "raw" segment, or the request line would not parse at all. */
const FRAMING = /[^\s?#\u0000-\u001f\u007f\ud800-\udfff]/u;

function renderSegment(s: Segment, resolve: Resolve): string {
  if (s.kind === 'fixture') return encode(resolve(s.ref));
  if (s.kind === 'encoded') return encode(s.text);
  return encode(s.text, FRAMING);
}

export function render(op: Operation, plan: RequestPlan, rc: RenderContext): RawRequest {
  const path = plan.path.map((s) => renderSegment(s, rc.resolve)).join('/');
  const query = plan.query.map(([k, v]) => `${renderSegment(k, rc.resolve)}=${renderSegment(v, rc.resolve)}`).join('&');
  const headers: Record<string, string> = {};
  const owner = op.access === 'admin' ? rc.keys.admin : rc.keys.tenantA;
  const key = { owner, tenantA: rc.keys.tenantA, tenantB: rc.keys.tenantB, admin: rc.keys.admin, wrong: 'tly_k_wrongwrongwrong', malformed: undefined, none: undefined }[plan.auth];
  if (plan.auth === 'malformed') headers.Authorization = plan.malformedAuth;
  else if (key !== undefined) headers.Authorization = `Bearer ${key}`;
  if (plan.contentType !== undefined) headers['Content-Type'] = plan.contentType;
  for (const [k, v] of plan.headers) headers[k] = v;

  const body = bodyBytes(plan.body, rc.resolve);
  if (op.path === '/v1/stripe/webhooks' && plan.signature !== 'none') {
    const ts = Math.floor(Date.now() / 1000) + (plan.signature === 'future' ? 86_400 * 365 : plan.signature === 'past' ? -86_400 : 0);
    const header = Stripe.webhooks.generateTestHeaderString({ payload: body.toString('utf8'), secret: rc.stripeSecret, timestamp: ts });
    headers['Stripe-Signature'] = plan.signature === 'invalid' ? header.replace(/v1=[0-9a-f]{4}/, 'v1=0000') : header;
  }
  return { method: op.method, rawPath: query === '' ? path : `${path}?${query}`, headers, body };
}

const packr = new Packr({ useRecords: false });

function bodyBytes(body: Body, resolve: Resolve): Buffer {
  switch (body.kind) {
    case 'none':
      return Buffer.alloc(0);
    case 'text':
      return Buffer.from(body.text, 'utf8');
    case 'json':
      return Buffer.from(toJsonText(body.value, resolve), 'utf8');
    case 'ndjson':
      return Buffer.from(body.lines.map((l) => toJsonText(l, resolve)).join('\n'), 'utf8');
    case 'msgpack':
      return packr.pack(toPlain(body.value, resolve));
    case 'badUtf8': {
      const text = Buffer.from(toJsonText(body.value, resolve), 'utf8');
      const at = text.indexOf(':"');
      if (at < 0) return Buffer.concat([text, Buffer.from(body.bytes)]);
      return Buffer.concat([text.subarray(0, at + 2), Buffer.from(body.bytes), text.subarray(at + 2)]);
    }
  }
}
