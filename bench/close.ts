import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Dec } from '../core/money.js';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import { migrateAll } from '../core/migrate.js';
import { openStores } from '../core/stores.js';
import { newId } from '../core/ids.js';
import { pgMeterRepository } from '../metering/meters.js';
import { pgPlanRepository, type CreatePlanInput } from '../catalog/plans.js';
import { rate } from '../rating/core.js';
import { createRatingStack } from '../app/rating-stack.js';
import { stripeGateway } from '../stripe/gateway.js';
import { syncMetrics } from '../stripe/metrics.js';
import { WriteLimiter } from '../stripe/rate-limit.js';
import { BillingSync } from '../stripe/sync.js';
import { startStripeFake } from '../stripe-fake/server.js';
import { finishBenchmark } from './lib/report.js';

/**
 * close (../shared/BENCH.md): close one monthly period for 100k subscriptions (base fee and a
 * graduated usage charge each, usage in every subscription), invoices into Postgres — then
 * billing sync against the local Stripe-compatible server, limited to 100 writes/s, for a
 * fixed window: how close sync comes to the allowed rate.
 *
 * Verification: every invoice's total equals the base fee plus the decimal.js rater's amount
 * of that customer's usage, rounded to cents; every invoice sync finished in the window exists
 * in the Stripe fake exactly once, with Tally's total.
 */
const subscriptions = Number(process.env.BENCH_SUBSCRIPTIONS ?? 100_000);
const syncSeconds = Number(process.env.BENCH_SYNC_SECONDS ?? 30);
const writesPerSecond = 100;
const hoursOfUsage = 10;

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-close-'));
const fake = await startStripeFake({ writesPerSecond });
const config = loadConfig({ TALLY_DATA_DIR: dataDir, LOG_LEVEL: 'warn', STRIPE_SECRET_KEY: 'sk_test_bench', STRIPE_API_BASE: fake.url, TALLY_CLOSE_GRACE_SECONDS: '0' });
const stores = await openStores(config);
await migrateAll(stores);
const { clickhouse: ch, postgres: pg } = stores;
const tenant = newId('ten');
await pg.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'bench']);
await pgMeterRepository(pg).create(tenant, { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
const plan: CreatePlanInput = {
  code: 'pro', name: 'Professional', currency: 'USD', interval: 'month', base_fee: '49.99',
  charges: [{ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '1000', unit_price: '0' }, { up_to: '10000', unit_price: '0.00125', flat_fee: '1.5' }, { up_to: null, unit_price: '0.0007' }] }],
};
await pgPlanRepository(pg).save(tenant, plan);

const now = new Date();
// The previous calendar month: its one period has ended, the next has not.
const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
console.log(`writing ${subscriptions} customers and subscriptions...`);
await pg.query(`INSERT INTO customers (tenant_id, id, name, currency) SELECT $1, 'c' || i, 'Customer ' || i, 'USD' FROM generate_series(0, $2 - 1) i`, [tenant, subscriptions]);
await pg.query(`INSERT INTO subscriptions (tenant_id, id, customer_id, interval, start_date) SELECT $1, 's' || lpad(i::text, 7, '0'), 'c' || i, 'month', $3 FROM generate_series(0, $2 - 1) i`, [tenant, subscriptions, from]);
await pg.query(`INSERT INTO subscription_plans (tenant_id, subscription_id, effective_from, plan_code, plan_version) SELECT $1, 's' || lpad(i::text, 7, '0'), $3, 'pro', 1 FROM generate_series(0, $2 - 1) i`, [tenant, subscriptions, from]);
// Usage: hoursOfUsage hours per customer; the aggregator's watermark says it is all counted.
const hourly = (c: number, h: number) => new Dec((c * 7919 + h * 104_729) % 4_000).plus(new Dec((c + h) % 1000).div(1000));
await ch.client.command({
  query: `INSERT INTO ${ch.table('usage_hourly_v1')} (tenant_id, meter, customer, groups, hour, events, sum_value, version)
    SELECT {t:String}, 'api_calls', concat('c', toString(c)), [], toDateTime({from:UInt32} + (h * 37 % 600) * 3600, 'UTC'), 1,
           toDecimal128((c * 7919 + h * 104729) % 4000, 6) + toDecimal128((c + h) % 1000, 6) / 1000, 1
    FROM (SELECT intDiv(number, ${hoursOfUsage}) AS c, number % ${hoursOfUsage} AS h FROM numbers({n:UInt64}))`,
  query_params: { t: tenant, from: from.getTime() / 1000, n: subscriptions * hoursOfUsage },
});
await pg.query("UPDATE aggregator_state SET watermark = now() WHERE name = 'hourly'");
await pg.query('UPDATE meters SET backfilled_through = now() WHERE tenant_id = $1', [tenant]);

const registry = createRegistry();
const stack = createRatingStack(config, stores, registry);
console.log('closing...');
const t0 = process.hrtime.bigint();
const report = await stack.billing.close(now);
const closeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
await stack.pool.close();

// Verification of the invoices against the decimal.js rater.
const checks: string[] = [];
const { rows: invoices } = await pg.query<{ customer_id: string; total: string; lines: string }>(
  `SELECT i.customer_id, i.total::text AS total, count(l.*)::text AS lines FROM invoices i JOIN invoice_lines l ON l.tenant_id = i.tenant_id AND l.invoice_id = i.id
    WHERE i.tenant_id = $1 GROUP BY i.customer_id, i.total`,
  [tenant],
);
let wrong = 0;
for (const inv of invoices) {
  const c = Number(inv.customer_id.slice(1));
  let q = new Dec(0);
  for (let h = 0; h < hoursOfUsage; h++) q = q.plus(hourly(c, h));
  const want = new Dec('49.99').plus(rate(plan.charges![0]!, q.toFixed()).amount).toDecimalPlaces(2, Dec.ROUND_HALF_EVEN);
  if (!want.eq(inv.total) || inv.lines !== '2') wrong++;
}
const closeOk = report.invoices === subscriptions && invoices.length === subscriptions && wrong === 0;
checks.push(`close: ${report.invoices} invoices for ${subscriptions} subscriptions, ${wrong} differ from base fee + the decimal.js rater's amount`);

// Billing sync for a fixed window at the allowed rate.
const metrics = syncMetrics(registry);
const sync = new BillingSync({
  pg,
  gateway: stripeGateway({ secretKey: 'sk_test_bench', apiBase: fake.url, timeoutMs: 10_000, observe: (endpoint, result) => metrics.requests.inc({ endpoint, result }) }),
  // Just under the server's limit, so 429s are for real overload.
  limiter: new WriteLimiter(writesPerSecond * 0.98),
  metrics,
  logger: createLogger(config),
  leaseSeconds: 600,
  maxAttempts: 100,
});
console.log(`syncing for ${syncSeconds} s at ${writesPerSecond} writes/s...`);
const writesBefore = fake.requests.filter((r) => r.method === 'POST' && r.status !== null && r.status < 300).length;
const t1 = Date.now();
await sync.runOnce(5, t1 + syncSeconds * 1000);
const syncElapsed = (Date.now() - t1) / 1000;
const writes = fake.requests.filter((r) => r.method === 'POST' && r.status !== null && r.status < 300).length - writesBefore;

const { rows: synced } = await pg.query<{ id: string; total: string; stripe_invoice_id: string }>(
  'SELECT id, total::text AS total, stripe_invoice_id FROM invoices WHERE tenant_id = $1 AND synced_at IS NOT NULL',
  [tenant],
);
const inStripe = fake.state.invoices();
let syncWrong = 0;
for (const s of synced) {
  const copies = inStripe.filter((i) => i.metadata.tally_invoice === s.id);
  if (copies.length !== 1 || copies[0]!.id !== s.stripe_invoice_id || copies[0]!.total !== Number(new Dec(s.total).times(100).toFixed(0))) syncWrong++;
}
const syncOk = synced.length > 0 && syncWrong === 0;
checks.push(`sync: ${synced.length} invoices finished in ${syncElapsed.toFixed(1)} s, ${syncWrong} missing, duplicated or with another total in the Stripe fake`);

await fake.close();
await stores.close();
rmSync(dataDir, { recursive: true, force: true });

finishBenchmark({
  name: 'close',
  description: `Closing one monthly period for ${subscriptions} subscriptions (base fee + graduated usage) into invoices in Postgres on the embedded stores, then billing sync against the local Stripe-compatible server limited to ${writesPerSecond} writes/s for ${syncSeconds} s.`,
  unit: 'subscriptions closed per second; sync writes/s as a share of the allowed rate',
  parameters: { subscriptions, hoursOfUsage, writesPerSecond, syncSeconds },
  rows: [
    { variant: 'tally close (one period)', subscriptions: report.invoices, seconds: Number(closeSeconds.toFixed(1)), 'per second': Math.round(report.invoices / closeSeconds) },
    { variant: `tally sync (${syncSeconds} s window)`, subscriptions: synced.length, seconds: Number(syncElapsed.toFixed(1)), 'per second': Number((writes / syncElapsed).toFixed(1)) },
  ],
  ratios: { sync_writes_vs_allowed: writes / syncElapsed / writesPerSecond },
  verified: closeOk && syncOk,
  checks,
});
