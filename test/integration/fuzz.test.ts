/**
 * Property-based fuzzing of the whole HTTP API, driven by `GET /openapi.json`.
 *
 * For every route and method in the document, fast-check sends requests built from the
 * document: bodies generated from the request schemas (valid, then mutated: hostile strings
 * with NUL and lone surrogates, numbers where strings belong and back, `1e400`, too many
 * decimals, deep nesting, very long strings, `__proto__` keys, bytes that are not UTF-8),
 * path parameters that are seeded ids of this tenant or another one, odd text and malformed
 * percent-escapes written raw on the wire (`%E0%A4%A`, `%ED%A0%80`), query parameters likewise,
 * with the admin key, a tenant key, another tenant's key, a wrong key, a malformed header or
 * none. The properties:
 *
 * - no answer is 5xx (not even 503: ingest's store is never down here), and every request gets
 *   an answer;
 * - every 4xx is `{"error": {"code"}}` with a code of the catalogue (`ERRORS`) whose status is
 *   the one answered (or an HTML page the document lists for that status, on the hosted invoice
 *   page), and every event rejection in a 202 carries a catalogued code;
 * - the server never dies: it still answers `/healthz` after each route's run.
 *
 * The server is the real API on real stores (`startTestApi`), in a child process so that a
 * request that kills it fails with that request instead of killing the test runner. A failure
 * prints the seed and, for each distinct failure (route, status, error), the smallest request
 * that showed it: method, raw path, headers, body (as JSON string literals, in ASCII) and the
 * answer, with the server's log line for a 5xx, to replay with curl.
 *
 * Environment:
 * - `TALLY_FUZZ_RUNS=N`: requests per route (default 40, under a minute in all on 2 cores);
 *   run with e.g. `TALLY_FUZZ_RUNS=2000` for a long run before a release.
 * - `TALLY_FUZZ_SEED=S`: replay a run (the seed is printed at the start and in every failure).
 * - `TALLY_FUZZ_STATS=1`: print how many answers of each status every route gave.
 *
 * A request whose head (request line and headers) is over 64 KiB may be dropped by uWS without
 * an answer; that is counted and printed, not a failure. A request that gets no answer is sent
 * again: answered then, it is printed as a lost connection, not a failure.
 */
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { ERRORS } from '../../core/errors.js';
import { rawRequest, type RawRequest, type RawResponse } from '../support/fuzz-http.js';
import { hints, operationsOf, render, requestPlan, type Keys, type Operation } from '../support/fuzz-requests.js';
import type { Schema, SchemaContext } from '../support/fuzz-schema.js';
import { startFuzzServer, type FuzzServer } from '../support/fuzz-server.js';
import type { FixtureKind, FixtureRef } from '../support/fuzz-values.js';

const RUNS = positive(process.env.TALLY_FUZZ_RUNS, 40);
const SEED = process.env.TALLY_FUZZ_SEED === undefined || process.env.TALLY_FUZZ_SEED === '' ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.TALLY_FUZZ_SEED);
if (!Number.isInteger(SEED)) throw new Error(`TALLY_FUZZ_SEED must be a whole number, got ${String(process.env.TALLY_FUZZ_SEED)}`);
const STRIPE_SECRET = 'whsec_fuzz_0123456789abcdef';
const SERVER_ENV = { STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, LOG_LEVEL: 'error' };
/** An answer slower than this is a failure: the server is stuck, or the client gave up long ago. */
const REQUEST_TIMEOUT_MS = 15_000;
/** A server that keeps dying is not fuzzed further: each restart costs seconds. */
const MAX_RESTARTS = 12;
const HEAD_LIMIT = 64 * 1024;
const HEALTHZ: RawRequest = { method: 'GET', rawPath: '/healthz', headers: {}, body: Buffer.alloc(0) };
const STATS = process.env.TALLY_FUZZ_STATS === '1';

function positive(raw: string | undefined, dflt: number): number {
  const n = Number(raw);
  return raw === undefined || raw === '' || !Number.isInteger(n) || n < 1 ? dflt : n;
}

interface Failure {
  route: string;
  kind: 'server died' | 'no answer' | '5xx' | 'uncatalogued 4xx' | 'uncatalogued rejection';
  /** What makes this failure the same as another: the status and the error, numbers blanked. */
  what: string;
  request: RawRequest;
  /** The request as text, keys named by role (they change when the server restarts). */
  described: string;
  answer: string;
  logs: string[];
}

let server!: FuzzServer;
let keys: Keys;
let ids: Record<FixtureKind, { A: string; B: string }>;
let restarts = 0;
const failures = new Map<string, Failure>();
/** Route → status (or `dropped`) → how many answers. */
const stats = new Map<string, Map<string, number>>();
let droppedHeads = 0;
/** Bodies larger than this may be answered before they are read (see `check`). */
const EARLY_ANSWER_BYTES = 64 * 1024;
/** Requests whose connection was lost once and answered when sent again. */
const lostOnce: string[] = [];

function count(route: string, what: string): void {
  const byStatus = stats.get(route) ?? new Map<string, number>();
  byStatus.set(what, (byStatus.get(what) ?? 0) + 1);
  stats.set(route, byStatus);
}

function headBytes(req: RawRequest): number {
  return Buffer.byteLength(req.rawPath) + Object.entries(req.headers).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 4, 0);
}

async function call(method: string, path: string, key: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`seeding: ${method} ${path} answered ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Two tenants with a meter, a customer, a plan, a subscription, a coupon, a credit grant, a tax
 * rate, a webhook endpoint and a spare API key each, so that valid-looking ids hit rows (and
 * the other tenant's ids hit rows that are not the caller's).
 */
async function seed(): Promise<void> {
  const tenants = { A: await call('POST', '/v1/tenants', server.adminKey, { name: 'fuzz a' }), B: await call('POST', '/v1/tenants', server.adminKey, { name: 'fuzz b' }) };
  keys = { admin: server.adminKey, tenantA: tenants.A.api_key as string, tenantB: tenants.B.api_key as string };
  const made: Partial<Record<FixtureKind, { A: string; B: string }>> = {};
  const put = (kind: FixtureKind, owner: 'A' | 'B', id: string) => ((made[kind] ??= { A: '', B: '' })[owner] = id);
  for (const owner of ['A', 'B'] as const) {
    const key = owner === 'A' ? keys.tenantA : keys.tenantB;
    const s = owner.toLowerCase();
    put('tenant', owner, tenants[owner].id as string);
    await call('POST', '/v1/meters', key, { key: `calls_${s}`, name: 'API calls', aggregation: 'sum' });
    put('meter', owner, `calls_${s}`);
    await call('POST', '/v1/customers', key, { id: `cus_fuzz_${s}`, name: 'Fuzz Co', currency: 'USD', country: 'DE' });
    put('customer', owner, `cus_fuzz_${s}`);
    await call('POST', '/v1/plans', key, { code: `pro_${s}`, name: 'Pro', currency: 'USD', interval: 'month', base_fee: '10.00', charges: [{ meter: `calls_${s}`, model: 'per_unit', unit_price: '0.01' }] });
    put('plan', owner, `pro_${s}`);
    put('subscription', owner, (await call('POST', '/v1/subscriptions', key, { customer: `cus_fuzz_${s}`, plan: `pro_${s}` })).id as string);
    await call('POST', '/v1/coupons', key, { code: `SAVE_${s}`, name: 'Ten off', duration: 'once', percent_off: '10' });
    put('coupon', owner, `SAVE_${s}`);
    await call('POST', `/v1/customers/cus_fuzz_${s}/credits`, key, { amount: '5' });
    await call('POST', '/v1/tax_rates', key, { country: 'DE', percent: '19', name: 'VAT' });
    put('endpoint', owner, (await call('POST', '/v1/webhook_endpoints', key, { url: `https://example.com/hooks/${s}` })).id as string);
    put('apiKey', owner, (await call('POST', '/v1/tenant/api_keys', key)).id as string);
    const events = (await call('GET', '/v1/webhook_events', key)).data as { id: string }[];
    put('webhookEvent', owner, events[0]?.id ?? `evt_missing_${s}`);
    put('invoice', owner, `in_missing_${s}`);
  }
  ids = made as Record<FixtureKind, { A: string; B: string }>;
}

async function boot(): Promise<void> {
  server = await startFuzzServer(SERVER_ENV);
  await seed();
}

/** A new server after the last one died; false once it died too often to go on. */
async function restart(): Promise<boolean> {
  await server.stop();
  if (restarts >= MAX_RESTARTS) return false;
  restarts++;
  await boot();
  return true;
}

const resolve = (ref: FixtureRef): string => ids[ref.kind][ref.owner];

/** Numbers, ids and quoted values blanked, so one defect met with different values is one failure. */
function normalise(text: string): string {
  return text
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b(req|evt|sub|cus|we|in|key|tly)_[A-Za-z0-9_]+/g, '$1_…')
    .replace(/\d+/g, 'N')
    .slice(0, 160);
}

/**
 * The error the server logged for this request id (a 5xx), waiting a little for the line: the
 * answer can arrive before the child's log output does. Only the first two `: `-separated parts
 * of the message are kept: later ones quote the input (`Invalid argument: <the value>`).
 */
async function loggedError(requestId: string | undefined): Promise<{ message: string; lines: string[] }> {
  if (requestId === undefined) return { message: '', lines: [] };
  for (let i = 0; i < 20; i++) {
    const lines = server.logLines(requestId, 3);
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as { err?: { message?: string; type?: string } };
        if (entry.err !== undefined) return { message: `${entry.err.type ?? 'Error'}: ${entry.err.message ?? ''}`.split(': ').slice(0, 2).join(': '), lines };
      } catch {
        // not a JSON log line
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { message: '', lines: [] };
}

function record(found: Omit<Failure, 'described'>): void {
  const f: Failure = { ...found, described: describeRequest(found.request) };
  const key = `${f.route} | ${f.kind} | ${f.what}`;
  const old = failures.get(key);
  const size = (x: Failure) => x.request.rawPath.length + x.request.body.length;
  if (old === undefined || size(f) < size(old)) failures.set(key, f);
}

/**
 * After a connection ended without an answer: whether the server is dead. It is alive if it
 * answers `/healthz`; if not, its exit may lag the reset a little.
 */
async function died(): Promise<boolean> {
  const health = server.alive() ? await rawRequest(server.port, HEALTHZ, 5_000) : undefined;
  if (health?.kind === 'response' && health.status === 200) return false;
  for (let i = 0; i < 60 && server.alive(); i++) await new Promise((r) => setTimeout(r, 50));
  return !server.alive();
}

/** The line of the child's last output that says why it died. */
function causeOfDeath(): string {
  const lines = server.tail(60).split('\n');
  const said = lines.filter((l) => /^(\w*Error\b|terminate called|\s*code: ')/.test(l)).join(' ');
  return said === '' ? (server.exit() ?? 'unknown') : said;
}

/** Checks one answer against the properties; records a failure and says whether there was one. */
async function check(route: string, req: RawRequest, res: RawResponse, retried = false): Promise<boolean> {
  count(route, res.kind === 'response' ? String(res.status) : 'no answer');
  if (res.kind === 'no-response') {
    const dead = await died();
    if (!dead && headBytes(req) > HEAD_LIMIT) {
      droppedHeads++;
      return true;
    }
    // A large body refused before it is read (a bad key, path or query) is answered at once; with
    // this client's `Connection: close` the server then closes while the body is still coming,
    // and the client's write fails (EPIPE) with the answer unread. That is HTTP, not a defect:
    // noted, and the server must still be alive (checked above).
    if (!dead && req.body.length > EARLY_ANSWER_BYTES && /EPIPE|ECONNRESET/.test(res.reason)) {
      lostOnce.push(`${route}: ${res.reason.split('\n')[0]!} (a ${req.body.length}-byte body answered before it was read)`);
      return true;
    }
    if (!dead && !retried) {
      // A connection lost under load once is noted; lost again with the same request, it fails.
      const again = await rawRequest(server.port, req, REQUEST_TIMEOUT_MS);
      if (again.kind === 'response') {
        lostOnce.push(`${route}: ${res.reason.split('\n')[0]!}`);
        return check(route, req, again, true);
      }
    }
    const answer = dead ? `${res.reason}; the server ${server.exit() ?? ''}; its last output:\n${server.tail(12)}` : res.reason;
    record({ route, kind: dead ? 'server died' : 'no answer', what: normalise(dead ? causeOfDeath() : res.reason), request: req, answer, logs: [] });
    return false;
  }
  const answer = `${res.status} ${res.body.slice(0, 600)}${res.body.length > 600 ? '…' : ''}`;
  let body: any;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = undefined;
  }
  if (res.status >= 500) {
    const logged = await loggedError(res.headers['x-request-id']);
    const code = (body?.error?.code as string | undefined) ?? 'no code';
    record({ route, kind: '5xx', what: `${res.status} ${code} ${normalise(logged.message || (body?.error?.message as string | undefined) || res.body)}`, request: req, answer, logs: logged.lines });
    return false;
  }
  // A page for people (the hosted invoice page's 404 and 410) is an HTML answer the document lists.
  if (res.status >= 400 && res.status < 500 && htmlAnswers.has(`${route} ${res.status}`) && (res.headers['content-type'] ?? '').startsWith('text/html')) return true;
  if (res.status >= 400) {
    const code = body?.error?.code as unknown;
    if (STATS) count(route, `${res.status} ${String(code)}: ${normalise(String(body?.error?.message)).slice(0, 70)}`);
    const catalogued = typeof code === 'string' && Object.hasOwn(ERRORS, code) ? ERRORS[code as keyof typeof ERRORS] : undefined;
    if (catalogued === undefined || catalogued.status !== res.status) {
      const what = catalogued === undefined ? `${res.status} code ${JSON.stringify(code)} is not in the catalogue` : `${res.status} answered for ${String(code)}, catalogued as ${catalogued.status}`;
      record({ route, kind: 'uncatalogued 4xx', what: normalise(what), request: req, answer, logs: [] });
      return false;
    }
    return true;
  }
  if (res.status === 202 && Array.isArray(body?.rejected)) {
    for (const r of body.rejected as { code?: unknown }[]) {
      if (typeof r.code !== 'string' || !Object.hasOwn(ERRORS, r.code)) {
        record({ route, kind: 'uncatalogued rejection', what: `rejection code ${JSON.stringify(r.code)}`, request: req, answer, logs: [] });
        return false;
      }
    }
  }
  return true;
}

/** A request as someone would retype it: keys by role, odd characters escaped, long parts cut. */
function describeRequest(req: RawRequest): string {
  const roles = new Map([
    [keys.admin, '<admin key>'],
    [keys.tenantA, '<tenant A key>'],
    [keys.tenantB, '<tenant B key>'],
  ]);
  const headers = Object.entries(req.headers).map(([k, v]) => {
    const key = /^Bearer (.*)$/.exec(v)?.[1];
    return `${k}: ${key !== undefined && roles.has(key) ? `Bearer ${roles.get(key)!}` : cut(escapeJson(v).slice(1, -1), 200)}`;
  });
  const text = req.body.toString('utf8');
  const body =
    req.body.length === 0
      ? '(empty)'
      : Buffer.from(text, 'utf8').equals(req.body)
        ? `${req.body.length} bytes, as a JSON string: ${cut(escapeJson(text), 800)}`
        : `${req.body.length} bytes (not UTF-8), base64: ${cut(req.body.toString('base64'), 800)}`;
  return [`${req.method} ${cut(escapeJson(req.rawPath).slice(1, -1), 600)}`, ...headers.map((h) => `  ${h}`), `  body ${body}`].join('\n');
}

/** A JSON string literal in ASCII, so that invisible and look-alike characters can be read and retyped. */
function escapeJson(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}… (${s.length} chars)`;
}

function report(route: string): string {
  const mine = [...failures.entries()].filter(([, f]) => f.route === route);
  return [
    `${mine.length} distinct failure(s) on ${route} (TALLY_FUZZ_SEED=${SEED}, TALLY_FUZZ_RUNS=${RUNS}; fixture ids: ${JSON.stringify(ids)}):`,
    ...mine.map(([key, f]) =>
      [`\n● ${key}`, f.described, `→ ${f.answer}`, ...(f.logs.length > 0 ? [`server log: ${cut(f.logs.join('\n'), 1500)}`] : [])].join('\n'),
    ),
  ].join('\n');
}

/** fast-check's seed for one route: the run's seed mixed with the route, so each route replays alone. */
function routeSeed(route: string): number {
  let h = SEED | 0;
  for (let i = 0; i < route.length; i++) h = Math.imul(h ^ route.charCodeAt(i), 0x5bd1e995) | 0;
  return h;
}

// The operations to declare tests for come from the served document, so the server starts
// while the file is collected rather than in beforeAll.
console.log(`fuzz: TALLY_FUZZ_SEED=${SEED} TALLY_FUZZ_RUNS=${RUNS}`);
await boot();
const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, Schema> } };
const operations: Operation[] = operationsOf(doc);
/** `METHOD path status` of the 4xx answers the document gives as HTML pages rather than JSON errors. */
const htmlAnswers = new Set(
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).flatMap(([method, op]) =>
      Object.entries((op as { responses?: Record<string, { content?: Record<string, unknown> }> }).responses ?? {})
        .filter(([, answer]) => answer.content?.['text/html'] !== undefined)
        .map(([status]) => `${method.toUpperCase()} ${path} ${status}`),
    ),
  ),
);

afterAll(async () => {
  await server.stop();
  if (droppedHeads > 0) console.log(`fuzz: ${droppedHeads} request(s) with a head over ${HEAD_LIMIT} bytes were dropped without an answer (uWS's limit)`);
  if (lostOnce.length > 0) console.log(`fuzz: ${lostOnce.length} request(s) lost their connection once and were answered when sent again:\n${lostOnce.join('\n')}`);
  if (STATS) {
    for (const [route, byStatus] of stats) console.log(`fuzz: ${route}:\n  ${[...byStatus].sort().map(([k, v]) => `${v}× ${k}`).join('\n  ')}`);
  }
  if (failures.size > 0) {
    const classes = [...failures.keys()].sort();
    console.log(`fuzz: ${classes.length} distinct failure(s), TALLY_FUZZ_SEED=${SEED}:\n${classes.join('\n')}`);
  }
}, 60_000);

describe('the API under fuzzed requests from its OpenAPI document', () => {
  it('has operations to fuzz', () => {
    if (operations.length < 10) throw new Error(`the document lists only ${operations.length} operations`);
  });

  it.each(operations.map((op) => [`${op.method} ${op.path}`, op] as const))('%s: no 5xx, catalogued 4xx, still alive', async (route, op) => {
    const ctx: SchemaContext = { schemas: doc.components.schemas, hint: hints(Date.now()) };
    const plans = requestPlan(op, { ctx, now: Date.now() });
    if (!server.alive()) throw new Error(`not fuzzed: the server died ${MAX_RESTARTS + 1} times, it is not started again`);
    let serverDied = false;
    // Failures are collected (deduplicated) rather than thrown, so one run reports every kind it
    // meets; the property is false only when the server died, which ends this route's run.
    const details = await fc.check(
      fc.asyncProperty(plans, async (plan) => {
        const req = render(op, plan, { keys, resolve, stripeSecret: STRIPE_SECRET });
        const res = await rawRequest(server.port, req, REQUEST_TIMEOUT_MS);
        if ((await check(route, req, res)) || server.alive()) return true;
        serverDied = true;
        await restart();
        return false;
      }),
      { numRuns: RUNS, seed: routeSeed(route), endOnFailure: true },
    );
    // Anything else that fails the run is a fault of the test itself (a generator that throws).
    if (details.failed && !serverDied) throw new Error(`${fc.defaultReportMessage(details) ?? 'fast-check run failed'}\n${String(details.errorInstance)}`);
    const health = server.alive() ? await rawRequest(server.port, HEALTHZ, REQUEST_TIMEOUT_MS) : undefined;
    if (health?.kind !== 'response' || health.status !== 200) {
      record({ route, kind: 'server died', what: 'GET /healthz failed after the run', request: HEALTHZ, answer: JSON.stringify(health ?? server.exit()), logs: [server.tail(20)] });
      await restart();
    }
    if ([...failures.values()].some((f) => f.route === route)) throw new Error(report(route));
  }, Math.max(60_000, RUNS * 1_000));
});

