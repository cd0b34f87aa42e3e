import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { startStripeFake, type StripeFake } from '../../stripe-fake/index.js';
import { startTally, type Running } from '../support/cli.js';
import { freshDatabaseUrl, preparedDataDir } from '../support/stores.js';
import { productionFiles } from '../support/imports.js';

/**
 * The operability kit against a real `tally start`: traffic through every stage (ingest,
 * aggregation, rating with usage alerts, period close, Stripe sync and webhooks, outbound
 * webhooks), then one scrape of /metrics. The exposition must pass `promtool check metrics`,
 * every stage must have samples, and every metric the Grafana dashboard and the Prometheus alert
 * rules query must be one the scrape exposes.
 */
const ROOT = packageRoot();
const RULES = path.join(ROOT, 'deploy/prometheus/rules.yml');
const PROMETHEUS_CONFIG = path.join(ROOT, 'deploy/prometheus/prometheus.yml');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/dashboards/tally.json');
const ADMIN_KEY = 'observability-admin-key-0123456789';
const WEBHOOK_SECRET = 'whsec_observability_0123456789';
const DAY = 86_400_000;
const HOUR = 3_600_000;
/** The long-running Tally processes of docker-compose.yml, each scraped by Prometheus. */
const TALLY_SERVICES = ['serve', 'aggregate', 'rate', 'sync', 'deliver'];
/** Where Tally's metrics are defined (`name: 'tally_...'` in prom-client constructors). */
/** Series Prometheus makes itself for every target; no process exports them. */
const PROMETHEUS_OWN = new Set(['up']);
/**
 * Families labelled by a value known only when it happens, so they have no samples on a
 * healthy run (the scrape still declares them, which is what the rules and dashboard need).
 */
const SAMPLED_ONLY_WHEN_IT_HAPPENS = new Map([['tally_eventlog_rows_refused_total', "labelled by the store's reason for refusing rows"]]);

// ---- external tools: CI installs them (.ci/run); a missing one is a failure, not a skip ----

function tool(cmd: string, debianPackage: string, args: string[], input?: string): { code: number | null; output: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, input, encoding: 'utf8', timeout: 60_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(`${cmd} is not installed: it comes with Debian's ${debianPackage} package (apt-get install --no-install-recommends ${debianPackage}; .ci/run installs it)`);
  }
  if (r.error !== undefined) throw r.error;
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}
const promtool = (args: string[], input?: string) => tool('promtool', 'prometheus', args, input);
const dockerCompose = (args: string[]) => tool('docker-compose', 'docker-compose', args);

// ---- the exposition format ----

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Exposition {
  /** Family name → type, from the # TYPE lines. */
  types: Map<string, string>;
  samples: Sample[];
}

function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/**
 * Whether a name a query selects is a series of the exposition: a counter or gauge by its
 * family name, a histogram only through its _bucket, _sum and _count series, a summary by its
 * name, _sum or _count. Declared families count even before their first sample (prom-client's
 * GC histogram appears with the first collection); Tally's own must have samples (tested above).
 */
function exposes(exp: Exposition, name: string): boolean {
  const type = exp.types.get(name);
  if (type !== undefined) return type !== 'histogram';
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const base = m ? exp.types.get(m[1]!) : undefined;
  return base === 'histogram' || (base === 'summary' && m?.[2] !== 'bucket');
}

/** The family a sample name belongs to: histogram and summary series carry a suffix. */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return base !== undefined && ['histogram', 'summary'].includes(types.get(base) ?? '') ? base : undefined;
}

/** Every `tally_` metric name defined in the sources. */
function definedMetrics(): string[] {
  const names = new Set<string>();
  // Every production source, whatever folder it moves to.
  for (const file of productionFiles()) {
    for (const m of readFileSync(path.join(ROOT, file), 'utf8').matchAll(/name: '(tally_\w+)'/g)) names.add(m[1]!);
  }
  return [...names].sort();
}

// ---- metric names in PromQL ----

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects (functions, keywords, labels and durations left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*(?![\w:]|\s*\()/g)) {
    if (!PROMQL_KEYWORDS.has(m[0].toLowerCase())) names.add(m[0]);
  }
  return [...names];
}

/** The `expr` of every rule in a rules file, single-line or block scalars (`|`, `>-`). */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const exprs: string[] = [];
  const indentOf = (l: string) => l.length - l.trimStart().length;
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const value = m[2]!.trim();
    if (!/^[|>][-+]?$/.test(value)) {
      exprs.push(value.replace(/^(['"])(.*)\1$/, '$2'));
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || indentOf(lines[i + 1]!) > m[1]!.length)) block.push(lines[++i]!);
    exprs.push(block.join('\n').trim());
  }
  return exprs;
}

/** Every PromQL query of a Grafana dashboard: panel targets and query variables. */
function dashboardExpressions(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => dashboardExpressions(n, out));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'expr' && typeof v === 'string') out.push(v);
      else if (k === 'query' && typeof v === 'string') out.push(/^label_values\((.*),\s*\w+\)$/.exec(v)?.[1] ?? v);
      else dashboardExpressions(v, out);
    }
  }
  return out;
}

// ---- the running Tally and what it talks to ----

interface Receiver {
  url: string;
  types: string[];
  close(): Promise<void>;
}

/** An outbound-webhook receiver that takes everything. */
async function receiver(): Promise<Receiver> {
  const types: string[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      types.push((JSON.parse(raw) as { type: string }).type);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    types,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let fake: StripeFake;
let rcv: Receiver;
let tally: Running | undefined;
let dataDir = '';
let db: { url: string; drop: () => Promise<void> } | undefined;
let scrape = '';
let exposition: Exposition;

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 10_000 });
  rcv = await receiver();
  dataDir = preparedDataDir();
  db = process.env.DATABASE_URL ? await freshDatabaseUrl(process.env.DATABASE_URL) : undefined;
  tally = await startTally(['start'], {
    TALLY_DATA_DIR: dataDir,
    DATABASE_URL: db?.url,
    TALLY_ADMIN_KEY: ADMIN_KEY,
    TALLY_AGGREGATOR_INTERVAL_MS: '200',
    TALLY_AGGREGATOR_SETTLE_MS: '0',
    TALLY_RATER_INTERVAL_MS: '200',
    TALLY_RATER_THREADS: '1',
    TALLY_CLOSE_GRACE_SECONDS: '0',
    TALLY_SYNC_INTERVAL_MS: '200',
    TALLY_WEBHOOK_INTERVAL_MS: '200',
    TALLY_WEBHOOK_ALLOW_PRIVATE_URLS: 'true', // the receiver is on 127.0.0.1
    STRIPE_SECRET_KEY: 'sk_test_observability',
    STRIPE_API_BASE: fake.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  });
  const running = tally;
  try {
    scrape = await drive(running.url);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\ntally's stderr:\n${running.stderr()}`);
  }
  exposition = parseExposition(scrape);
}, 90_000);

/** Traffic through every stage of the Tally at `url`; resolves with a scrape taken once it has all arrived. */
async function drive(url: string): Promise<string> {
  // A string body is sent as it is (to send JSON that does not parse).
  const send = async (auth: string, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  const tenant = await send(ADMIN_KEY, 'POST', '/v1/tenants', { name: 'Observability' });
  expect(tenant.status).toBe(201);
  const key = tenant.body.api_key as string;
  const call = (method: string, route: string, body?: unknown) => send(key, method, route, body);

  // Subscriptions started 40 days ago: their first monthly period has ended and gets closed;
  // the second is running, and its usage crosses alert thresholds.
  const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);
  const inFirstPeriod = new Date(start.getTime() + 15 * DAY).toISOString();
  const customers = ['acme', 'globex'];
  expect((await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' })).status).toBe(201);
  const events = customers.flatMap((c) => [
    { id: `${c}-old`, customer: c, meter: 'api_calls', value: '1500', timestamp: inFirstPeriod },
    { id: `${c}-now`, customer: c, meter: 'api_calls', value: '900' },
  ]);
  const bad = [
    events[0],
    { id: 'too-precise', customer: 'acme', meter: 'api_calls', value: '0.1234567' },
    { id: 'too-old', customer: 'acme', meter: 'api_calls', value: '1', timestamp: new Date(Date.now() - 40 * DAY).toISOString() },
    { id: 'no-customer', meter: 'api_calls', value: '1' },
  ];
  expect((await call('POST', '/v1/events', events)).body).toMatchObject({ accepted: 4, duplicates: 0, rejected: [] });
  expect((await call('POST', '/v1/events', bad)).body).toMatchObject({ accepted: 0, duplicates: 1, rejected: [{}, {}, {}] });
  expect((await send(key, 'POST', '/v1/events', '[{"id": ')).status).toBe(400);

  // The first period's usage is rolled up before the subscriptions exist, so its invoices count it.
  const from = new Date(Math.floor(Date.parse(inFirstPeriod) / HOUR) * HOUR).toISOString();
  const to = new Date(Date.parse(from) + HOUR).toISOString();
  await waitFor('the aggregator to roll up the first period', async () => {
    const u = await call('GET', `/v1/usage?meter=api_calls&from=${from}&to=${to}`);
    return u.body.data?.length === customers.length ? true : undefined;
  });

  expect((await call('POST', '/v1/webhook_endpoints', { url: rcv.url })).status).toBe(201);
  expect(
    (await call('POST', '/v1/plans', { code: 'metered', name: 'Metered', currency: 'USD', interval: 'month', base_fee: '10.00', charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.01', included: '1000' }] })).status,
  ).toBe(201);
  for (const c of customers) {
    expect((await call('POST', '/v1/customers', { id: c, name: c, currency: 'USD' })).status).toBe(201);
    expect((await call('POST', '/v1/subscriptions', { customer: c, plan: 'metered', start_date: start.toISOString() })).status).toBe(201);
  }

  // Closed, then put in Stripe by the sync loop.
  const invoices = await waitFor('both first-period invoices in Stripe', async () => {
    const list = (await call('GET', '/v1/invoices')).body.data as { id: string; stripe_invoice_id: string | null }[] | undefined;
    return list?.length === customers.length && list.every((i) => i.stripe_invoice_id !== null) ? list : undefined;
  });

  // Stripe reports one paid (signed as Stripe signs), and someone posts an event with a bad signature.
  const paid = JSON.stringify({
    id: 'evt_observability_1',
    object: 'event',
    type: 'invoice.paid',
    created: Math.floor(Date.now() / 1000),
    api_version: '2026-10-28.endive',
    livemode: false,
    data: { object: { id: invoices[0]!.stripe_invoice_id, object: 'invoice', status: 'paid', metadata: { tally_tenant: tenant.body.id, tally_invoice: invoices[0]!.id } } },
  });
  const stripeWebhook = (signature: string) =>
    fetch(`${url}/v1/stripe/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: paid });
  const signed = await stripeWebhook(Stripe.webhooks.generateTestHeaderString({ payload: paid, secret: WEBHOOK_SECRET }));
  expect(await signed.json()).toEqual({ received: true, outcome: 'applied' });
  expect((await stripeWebhook(Stripe.webhooks.generateTestHeaderString({ payload: paid, secret: 'whsec_someone_else' }))).status).toBe(400);

  await waitFor('outbound webhooks of every kind at the receiver', () =>
    Promise.resolve(['invoice.created', 'invoice.finalized', 'invoice.paid', 'usage.threshold_reached'].every((t) => rcv.types.includes(t)) ? true : undefined),
  );

  // The dispatcher's gauges are set after each run: scrape once they show the deliveries.
  return waitFor('the delivery gauges to catch up', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const delivered = parseExposition(text).samples.find((s) => s.name === 'tally_webhook_deliveries' && s.labels.state === 'delivered');
    return delivered !== undefined && delivered.value >= rcv.types.length ? text : undefined;
  });
}

afterAll(async () => {
  if (tally !== undefined) {
    tally.child.kill('SIGTERM');
    await tally.exited;
  }
  await rcv?.close();
  await fake?.close();
  await db?.drop();
  if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
});

describe('the /metrics exposition of tally start', () => {
  it('passes promtool check metrics, with only the known naming findings', () => {
    const r = promtool(['check', 'metrics'], scrape);
    // Exit 1 means it does not parse; 3 means lint findings, each listed below with its reason.
    expect(r.code, r.output).not.toBe(1);
    const findings = r.output.split('\n').filter((l) => l.trim() !== '');
    const known = [
      // prom-client's default metrics: gauges that keep the names Node's own counters have.
      /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/,
    ];
    expect(findings.filter((f) => !known.some((k) => k.test(f)))).toEqual([]);
  });

  it('has every metric the sources define, each with samples', () => {
    const families = [...exposition.types.keys()].filter((n) => n.startsWith('tally_'));
    expect(families.sort()).toEqual(definedMetrics());
    const empty = families.filter((f) => !exposition.samples.some((s) => familyOf(s.name, exposition.types) === f) && !SAMPLED_ONLY_WHEN_IT_HAPPENS.has(f));
    expect(empty).toEqual([]);
  });

  it.each<[string, string, Record<string, string>]>([
    ['HTTP: requests answered', 'tally_http_requests_total', { route: '/v1/events', status: '202' }],
    ['HTTP: request durations', 'tally_http_request_duration_seconds_count', { route: '/v1/events' }],
    ['ingest: events accepted', 'tally_ingest_events_total', { result: 'accepted' }],
    ['ingest: resends recognised', 'tally_ingest_events_total', { result: 'duplicate' }],
    ['ingest: events rejected by code', 'tally_ingest_events_total', { result: 'rejected', code: 'TALLY_ERR_VALUE_TOO_PRECISE' }],
    ['ingest: requests refused as a whole', 'tally_ingest_requests_refused_total', { reason: 'unparsable' }],
    ['event log: fsyncs', 'tally_eventlog_fsync_duration_seconds_count', {}],
    ['event log: requests per fsync', 'tally_eventlog_group_appends_count', {}],
    ['event log: writes succeed', 'tally_eventlog_up', {}],
    ['event log: segments shipped', 'tally_eventlog_ship_duration_seconds_count', { outcome: 'ok' }],
    ['event log: rows shipped', 'tally_eventlog_shipped_rows_total', {}],
    ['event log: bytes shipped', 'tally_eventlog_shipped_bytes_total', {}],
    ['event log: ship lag', 'tally_eventlog_ship_lag_seconds_count', {}],
    ['ingest: the store is up', 'tally_ingest_store_up', {}],
    ['aggregator: runs', 'tally_aggregator_runs_total', { outcome: 'ok' }],
    ['aggregator: hourly rollups recomputed', 'tally_aggregator_rollups_recomputed_total', {}],
    ['aggregator: run durations', 'tally_aggregator_run_duration_seconds_count', {}],
    ['rating: runs', 'tally_rater_runs_total', { outcome: 'ok' }],
    ['rating: periods rated', 'tally_rater_periods_rated_total', {}],
    ['rating: hourly ratings', 'tally_rater_hourly_ratings_total', {}],
    ['rating: usage alerts fired', 'tally_usage_alerts_fired_total', { kind: 'included_percent' }],
    ['close: invoices', 'tally_close_invoices_total', {}],
    ['close: run durations', 'tally_close_run_duration_seconds_count', {}],
    ['Stripe: outbox rows done', 'tally_stripe_outbox_rows', { state: 'done' }],
    ['Stripe: rows processed', 'tally_stripe_outbox_processed_total', { kind: 'invoice', outcome: 'done' }],
    ['Stripe: requests', 'tally_stripe_requests_total', { result: 'ok' }],
    ['Stripe: webhook applied', 'tally_stripe_webhook_events_total', { type: 'invoice.paid', result: 'applied' }],
    ['Stripe: webhook with a bad signature', 'tally_stripe_webhook_events_total', { result: 'bad_signature' }],
    ['webhooks: attempts delivered', 'tally_webhook_delivery_attempts_total', { result: 'delivered' }],
    ['webhooks: delivery durations', 'tally_webhook_delivery_duration_seconds_count', {}],
    ['webhooks: deliveries delivered', 'tally_webhook_deliveries', { state: 'delivered' }],
    ['process: resident memory', 'process_resident_memory_bytes', {}],
    ['process: CPU', 'process_cpu_seconds_total', {}],
    ['process: event-loop lag', 'nodejs_eventloop_lag_p99_seconds', {}],
  ])('%s: %s above zero', (_stage, name, labels) => {
    const matching = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    expect(matching.length, `${name}${JSON.stringify(labels)} in\n${scrape}`).toBeGreaterThan(0);
    expect(matching.reduce((sum, s) => sum + s.value, 0)).toBeGreaterThan(0);
  });
});

describe('the dashboard and the alert rules', () => {
  const notExposed = (names: string[]) => [...new Set(names)].filter((n) => !exposes(exposition, n) && !PROMETHEUS_OWN.has(n));

  it('promtool check rules passes, and every rule is read here', () => {
    const r = promtool(['check', 'rules', '--lint=all', '--lint-fatal', RULES]);
    expect(r.code, r.output).toBe(0);
    const found = Number(/SUCCESS: (\d+) rules found/.exec(r.output)?.[1]);
    expect(ruleExpressions(readFileSync(RULES, 'utf8'))).toHaveLength(found);
  });

  it('the rules query only metrics the scrape exposes', () => {
    const names = ruleExpressions(readFileSync(RULES, 'utf8')).flatMap(metricNames);
    expect(names.length).toBeGreaterThan(20);
    expect(notExposed(names)).toEqual([]);
  });

  it('the dashboard queries only metrics the scrape exposes', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { schemaVersion: number; panels: { type: string; datasource?: { uid: string } }[] };
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.panels.filter((p) => p.type !== 'row' && p.datasource?.uid !== 'prometheus')).toEqual([]);
    const names = dashboardExpressions(dashboard).flatMap(metricNames);
    expect(names.length).toBeGreaterThan(40);
    expect(notExposed(names)).toEqual([]);
  });

  it('the dashboard queries are valid PromQL', () => {
    // promtool parses them as recording rules, with Grafana's variables filled in as Grafana would.
    const exprs = dashboardExpressions(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
    const rules = exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*') }));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tally-dashboard-'));
    try {
      const file = path.join(dir, 'queries.yml');
      // JSON is YAML: the rules file is written without a YAML library.
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = promtool(['check', 'rules', '--lint=none', file]);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each<[string, string, boolean]>([
    ['a counter by its name', 'tally_http_requests_total', true],
    ['a histogram through its buckets', 'tally_http_request_duration_seconds_bucket', true],
    ['a histogram through its count', 'tally_eventlog_fsync_duration_seconds_count', true],
    ['a histogram by its bare name', 'tally_http_request_duration_seconds', false],
    ['a counter with a histogram suffix', 'tally_http_requests_total_count', false],
    ['a name nothing exports', 'tally_ingest_events', false],
  ])('the exposition check takes %s: %s → %s', (_case, name, expected) => {
    expect(exposes(exposition, name)).toBe(expected);
  });

  it.each<[string, string, string[]]>([
    ['a histogram quantile', 'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route="/v1/events"}[$__rate_interval])))', ['a_bucket']],
    ['a ratio with a guard', '(sum(rate(b_total{x="y"}[5m])) / sum(rate(b_total[5m]))) > 0.05 and sum by (s) (rate(b_total[10m])) > 1e9', ['b_total']],
    ['offset and an aggregation after its argument', 'max(c{state="pending"}) > max(c offset 30m) unless on (i) d', ['c', 'd']],
    ['a grouping clause with labels that look like metrics', 'sum without (le, instance) (e) * on (job) group_left (service) f', ['e', 'f']],
  ])('the PromQL reader finds the metrics of %s', (_case, expr, names) => {
    expect(metricNames(expr).sort()).toEqual(names);
  });
});

describe('the compose deployment', () => {
  it('is a valid compose file for docker-compose 1.29', () => {
    const r = dockerCompose(['config', '-q']);
    expect(r.code, r.output).toBe(0);
  });

  it("keeps serve's event log on a volume, and gives serve time to answer its requests and ship its log before it is killed", () => {
    const config = dockerCompose(['config']).output;
    const serve = /\n  serve:\n([\s\S]*?)(?=\n  [\w-]+:\n|\nvolumes:)/.exec(config)?.[1] ?? '';
    expect(serve).toMatch(/- (source: )?serve-data[:\s][\s\S]*\/var\/lib\/tally|serve-data:\/var\/lib\/tally:rw/);
    const grace = /stop_grace_period: (\d+)s/.exec(serve)?.[1];
    // TALLY_SHUTDOWN_TIMEOUT_MS (10 s) and TALLY_EVENTLOG_DRAIN_MS (20 s) run one after the other.
    expect(Number(grace)).toBeGreaterThan(10 + 20);
  });

  it('Prometheus scrapes every long-running Tally service of it, and its config is valid', () => {
    const services = dockerCompose(['config', '--services']).output.split('\n').filter((s) => s !== '');
    expect(services).toEqual(expect.arrayContaining([...TALLY_SERVICES, 'migrate', 'clickhouse', 'postgres', 'stripe-mock', 'prometheus', 'grafana']));
    const targets = [...readFileSync(PROMETHEUS_CONFIG, 'utf8').matchAll(/"([\w-]+):8080"/g)].map((m) => m[1]);
    expect(targets.sort()).toEqual([...TALLY_SERVICES].sort());
    const r = promtool(['check', 'config', PROMETHEUS_CONFIG]);
    expect(r.code, r.output).toBe(0);
  });
});
