import autocannon from 'autocannon';
import { randomToken } from '../core/ids.js';
import { finishBenchmark } from './lib/report.js';
import { script, spawnServer, sampleRss } from './lib/servers.js';
import { startTally } from './lib/tally.js';

/**
 * entitlements (../shared/BENCH.md): `GET /v1/customers/{id}/entitlements/api_calls` on one node
 * (`tally start`: the aggregator runs beside the API) for 500 customers picked at random, 50
 * connections, while events stream in on 5 more connections. Reference in the same run: a
 * no-op uWS handler answering the same GET. Checked after the run: once the log has shipped
 * and the node has read the usage again, each sampled customer's usage counts every event
 * acknowledged for it, and nothing beyond the events sent to it.
 */
const duration = Number(process.env.BENCH_DURATION ?? 20);
const connections = 50;
const CUSTOMERS = 500;

const rows: Record<string, string | number>[] = [];
const checks: string[] = [];
let verified = true;

interface GetResult {
  checksPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function getLoad(base: string, headers: Record<string, string>): Promise<GetResult> {
  const r = await autocannon({
    url: base,
    connections,
    duration,
    method: 'GET',
    headers,
    requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, path: `/v1/customers/c${Math.floor(Math.random() * CUSTOMERS)}/entitlements/api_calls` }) }],
  });
  return { checksPerSec: Number(r.requests.average.toFixed(0)), p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

// 1. no-op uWS, answering the same GET
{
  const s = await spawnServer(script('dist-bench/bench/refs/noop-uws.js'), [], {});
  const rss = sampleRss(s.pid);
  const r = await getLoad(s.url, {});
  rows.push({ variant: 'no-op uWS handler', 'checks/s': r.checksPerSec, 'p50 ms': r.p50, 'p99 ms': r.p99, 'non-2xx': r.non2xx, errors: r.errors, 'max RSS MiB': rss.stop() });
  await s.stop();
}

// 2. Tally
const tally = await startTally({});
const base = tally.server.url;
const json = { authorization: tally.auth, 'content-type': 'application/json' };
const post = async (path: string, body: unknown) => {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: json, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
};
await post('/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
await post('/v1/plans', {
  code: 'pro',
  name: 'Pro',
  currency: 'USD',
  interval: 'month',
  base_fee: '49',
  features: [
    { key: 'sso', type: 'boolean' },
    { key: 'api_calls', type: 'metered', meter: 'api_calls', limit: '1000000000' },
  ],
});
for (let i = 0; i < CUSTOMERS; i++) {
  await post('/v1/customers', { id: `c${i}`, name: `Customer ${i}`, currency: 'USD' });
  await post('/v1/subscriptions', { customer: `c${i}`, plan: 'pro' });
}

// Events stream in beside the checks: 5 connections of single events, each acknowledged one counted.
const perCustomer = new Map<string, number>();
// Sent per customer: an event whose 202 the end of the run cut off may be stored all the same.
const sentPerCustomer = new Map<string, number>();
const acked: string[] = [];
let n = 0;
const events = autocannon({
  url: `${base}/v1/events`,
  connections: 5,
  duration,
  method: 'POST',
  headers: json,
  requests: [
    {
      setupRequest: (req: autocannon.Request, context: object) => {
        const customer = `c${n % CUSTOMERS}`;
        const id = `e${n++}_${randomToken(6)}`;
        Object.assign(context, { id, customer });
        sentPerCustomer.set(customer, (sentPerCustomer.get(customer) ?? 0) + 1);
        return { ...req, body: JSON.stringify({ id, customer, meter: 'api_calls', value: '1' }) };
      },
      onResponse: (status: number, _body: string, context: object) => {
        if (status !== 202) return;
        const c = context as { id: string; customer: string };
        acked.push(c.id);
        perCustomer.set(c.customer, (perCustomer.get(c.customer) ?? 0) + 1);
      },
    },
  ],
});
const t = await getLoad(base, { authorization: tally.auth });
await events;
rows.push({ variant: 'tally (chDB embedded, events streaming in)', 'checks/s': t.checksPerSec, 'p50 ms': t.p50, 'p99 ms': t.p99, 'non-2xx': t.non2xx, errors: t.errors, 'max RSS MiB': tally.rss.stop() });
checks.push(`${acked.length} events acknowledged during the run (${(acked.length / duration).toFixed(0)}/s)`);

// The check: once everything shipped and the node read the usage again, acknowledged ≤ usage ≤ sent.
const started = Date.now();
while (Date.now() - started < 120_000) {
  if (/^tally_eventlog_pending_bytes 0$/m.test(await (await fetch(`${base}/metrics`)).text())) break;
  await new Promise((r) => setTimeout(r, 100));
}
// An answer counts the events shipped before its usage_as_of: ask again until it is that fresh.
const shippedAt = Date.now();
let wrong = 0;
const sample = Array.from({ length: 50 }, (_, i) => `c${i * (CUSTOMERS / 50)}`);
for (const c of sample) {
  let body: { usage?: string; has_access?: boolean; usage_as_of?: string } = {};
  for (let tries = 0; tries < 120; tries++) {
    const res = await fetch(`${base}/v1/customers/${c}/entitlements/api_calls`, { headers: { authorization: tally.auth } });
    body = (await res.json()) as typeof body;
    if (body.usage_as_of !== undefined && Date.parse(body.usage_as_of) >= shippedAt) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  // Every acknowledged event counts; beyond them only events sent whose answer was cut off.
  const usage = Number(body.usage ?? -1);
  if (!(usage >= (perCustomer.get(c) ?? 0) && usage <= (sentPerCustomer.get(c) ?? 0)) || body.has_access !== true) {
    wrong++;
    console.error(`${c}: usage ${body.usage}, acknowledged ${perCustomer.get(c) ?? 0}, sent ${sentPerCustomer.get(c) ?? 0}`);
  }
}
verified &&= wrong === 0 && t.non2xx === 0 && t.errors === 0;
checks.push(`usage of ${sample.length} sampled customers, in answers as of after the log shipped, counts every acknowledged event and nothing beyond the events sent: ${sample.length - wrong} of ${sample.length}; non-2xx checks ${t.non2xx}, errors ${t.errors}`);
const stored = await tally.stopAndVerify(acked);
verified &&= stored.ok;
checks.push(`events: ${stored.detail}`);

const noop = rows[0]!['checks/s'] as number;
finishBenchmark({
  name: 'entitlements',
  description:
    'GET /v1/customers/{id}/entitlements/api_calls (a metered feature) for 500 customers at random, 50 connections, on one node (tally start on the embedded stores) while single events stream in on 5 more connections; answers come from memory on the node, its usage read again every TALLY_ENTITLEMENT_CACHE_MS (1 s); autocannon in the benchmark process.',
  unit: 'checks per second',
  parameters: { connections, durationSec: duration, customers: CUSTOMERS, cacheMs: process.env.TALLY_ENTITLEMENT_CACHE_MS ?? 'default (1000)' },
  rows,
  ratios: { 'tally / no-op uWS (aim ≥ 0.5)': t.checksPerSec / noop, 'tally p99 ms (aim < 5)': t.p99 },
  verified,
  checks,
});
