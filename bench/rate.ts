import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Dec } from '../core/money.js';
import { loadConfig } from '../core/config.js';
import { createRegistry } from '../core/metrics.js';
import { migrateAll } from '../core/migrate.js';
import { openStores } from '../core/stores.js';
import { newId } from '../core/ids.js';
import { pgMeterRepository } from '../metering/meters.js';
import { clickhouseUsageQuerier } from '../metering/usage-querier.js';
import { pgPlanRepository, type CreatePlanInput } from '../catalog/plans.js';
import { rate, type ChargeCard } from '../rating/core.js';
import { raterMetrics } from '../invoicing/metrics.js';
import { createRatingPool } from '../rating/pool.js';
import { Rater } from '../invoicing/rating-runs.js';
import { finishBenchmark } from './lib/report.js';
import { measureRatingCore } from './rate-core.js';

/**
 * rate (../shared/BENCH.md): re-rate one month of hourly usage, 10k subscriptions x 3 meters x
 * 720 hours, half on an all-graduated plan, half on an all-volume plan.
 *
 *  1. The rating core alone, against a straightforward decimal.js rater (bench/rate-core.ts).
 *  2. The whole re-rate, `tally rate --from --to` (Rater.rateRange): read the cumulative hourly
 *     quantities from the rollups in ClickHouse, rate them on the worker pool, write the hourly
 *     rated rows back — on the embedded stores (chDB, PGlite).
 *
 * Verification: every (subscription, meter)'s rated rows sum to exactly what the decimal.js
 * rater gives for its month's quantity, and on a sample of subscriptions every hourly amount
 * equals the decimal.js rater's difference of two cumulative amounts.
 */
const subscriptions = Number(process.env.BENCH_SUBSCRIPTIONS ?? 10_000);
const hours = 720;
const threads = Math.max(1, os.availableParallelism());
const SAMPLE = 50;

console.log('rating core against the decimal.js rater...');
const core = await measureRatingCore({ subscriptions, hours, threads });

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-rate-'));
const config = loadConfig({ TALLY_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
const stores = await openStores(config);
await migrateAll(stores);
const ch = stores.clickhouse;
const pg = stores.postgres;
const tenant = newId('ten');
await pg.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'bench']);

const meters = ['api_calls', 'storage_gb', 'messages'] as const;
const meterRepo = pgMeterRepository(pg);
for (const m of meters) await meterRepo.create(tenant, { key: m, name: m, aggregation: 'sum' });
const tiers = (prices: string[], edges: string[], fee?: string) => prices.map((unit_price, i) => ({ up_to: edges[i] ?? null, unit_price, ...(i === 1 && fee !== undefined ? { flat_fee: fee } : {}) }));
const graduated: CreatePlanInput = {
  code: 'graduated', name: 'Graduated', currency: 'USD', interval: 'month', base_fee: '49',
  charges: [
    { meter: 'api_calls', model: 'graduated', tiers: tiers(['0', '0.0008', '0.0005'], ['1000', '20000'], '2.5') },
    { meter: 'storage_gb', model: 'graduated', tiers: tiers(['0.12', '0.08', '0.05'], ['500', '5000']), included: '100' },
    { meter: 'messages', model: 'graduated', tiers: tiers(['0.0001234', '0.000099', '0.00005'], ['10000', '30000'], '1') },
  ],
};
const volume: CreatePlanInput = {
  code: 'volume', name: 'Volume', currency: 'USD', interval: 'month', base_fee: '99',
  charges: [
    { meter: 'api_calls', model: 'volume', tiers: tiers(['0.001', '0.0007', '0.0004'], ['5000', '25000'], '10') },
    { meter: 'storage_gb', model: 'volume', tiers: tiers(['0.1', '0.07', '0.04'], ['1000', '10000']) },
    { meter: 'messages', model: 'volume', tiers: tiers(['0.0002', '0.00015', '0.0001'], ['8000', '40000']), maximum: '500' },
  ],
};
const plans = pgPlanRepository(pg);
await plans.save(tenant, graduated);
await plans.save(tenant, volume);

// The month: 720 hours from the first day of the month two months back (all in the past).
const now = new Date();
const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 2, 1));
const to = new Date(from.getTime() + hours * 3_600_000);
console.log(`writing ${subscriptions} subscriptions...`);
await pg.query(`INSERT INTO customers (tenant_id, id, name, currency) SELECT $1, 'c' || i, 'Customer ' || i, 'USD' FROM generate_series(0, $2 - 1) i`, [tenant, subscriptions]);
await pg.query(
  `INSERT INTO subscriptions (tenant_id, id, customer_id, interval, start_date) SELECT $1, 's' || lpad(i::text, 6, '0'), 'c' || i, 'month', $3 FROM generate_series(0, $2 - 1) i`,
  [tenant, subscriptions, from],
);
await pg.query(
  `INSERT INTO subscription_plans (tenant_id, subscription_id, effective_from, plan_code, plan_version)
   SELECT $1, 's' || lpad(i::text, 6, '0'), $3, CASE WHEN i % 2 = 0 THEN 'graduated' ELSE 'volume' END, 1 FROM generate_series(0, $2 - 1) i`,
  [tenant, subscriptions, from],
);

/** The hourly quantity of customer c, meter m, hour h: a deterministic decimal with 3 places (the same formula in SQL). */
const hourly = (c: number, m: number, h: number) => {
  const x = (c * 7919 + h * 104_729 + m * 31_337) % 100_000;
  return new Dec(x).div(1000);
};
const rows = subscriptions * meters.length * hours;
console.log(`writing ${rows} hourly rollup rows...`);
await ch.client.command({
  query: `INSERT INTO ${ch.table('usage_hourly_v1')} (tenant_id, meter, customer, groups, hour, events, sum_value, version)
    SELECT {t:String}, arrayElement({meters:Array(String)}, 1 + m), concat('c', toString(c)), [], toDateTime({from:UInt32} + h * 3600, 'UTC'), 1,
           toDecimal128((c * 7919 + h * 104729 + m * 31337) % 100000, 6) / 1000, 1
    FROM (SELECT intDiv(number, ${meters.length * hours}) AS c, intDiv(number, ${hours}) % ${meters.length} AS m, number % ${hours} AS h FROM numbers({n:UInt64}))`,
  query_params: { t: tenant, meters: [...meters], from: from.getTime() / 1000, n: rows },
});

const pool = createRatingPool({ threads });
const rater = new Rater({ ch, usage: clickhouseUsageQuerier(ch), pg, pool, meters: meterRepo, metrics: raterMetrics(createRegistry()) });
console.log('re-rating the month...');
const t0 = process.hrtime.bigint();
const report = await rater.rateRange(from, to);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await pool.close();

// Verification against the decimal.js rater.
const checks: string[] = [];
const cards = new Map<string, ChargeCard[]>([
  ['graduated', graduated.charges!],
  ['volume', volume.charges!],
]);
const rs = await ch.client.query({
  query: `SELECT subscription_id AS s, meter, toString(sum(amount)) AS amount, count() AS n FROM ${ch.table('rated_usage_v1')} FINAL
          WHERE tenant_id = {t:String} GROUP BY subscription_id, meter`,
  query_params: { t: tenant },
  format: 'JSONEachRow',
});
const totals = await rs.json<{ s: string; meter: string; amount: string; n: string }>();
let mismatches = 0;
let rowsWritten = 0;
for (const r of totals) {
  const c = Number(r.s.slice(1));
  const m = meters.indexOf(r.meter as (typeof meters)[number]);
  let q = new Dec(0);
  for (let h = 0; h < hours; h++) q = q.plus(hourly(c, m, h));
  const want = rate(cards.get(c % 2 === 0 ? 'graduated' : 'volume')![m]!, q.toFixed()).amount;
  if (!new Dec(r.amount).eq(want)) mismatches++;
  rowsWritten += Number(r.n);
}
const totalsOk = totals.length === subscriptions * meters.length && mismatches === 0 && rowsWritten === rows;
checks.push(`period totals: ${totals.length} (subscription, meter) sums of ${rowsWritten} hourly rows, ${mismatches} differ from the decimal.js rater`);

let hourlyMismatches = 0;
let sampled = 0;
const sample = await ch.client.query({
  query: `SELECT subscription_id AS s, meter, groupArray(toString(amount)) AS amounts FROM (
            SELECT subscription_id, meter, hour, amount FROM ${ch.table('rated_usage_v1')} FINAL
            WHERE tenant_id = {t:String} AND subscription_id IN {subs:Array(String)} ORDER BY subscription_id, meter, hour)
          GROUP BY subscription_id, meter`,
  query_params: { t: tenant, subs: Array.from({ length: Math.min(SAMPLE, subscriptions) }, (_, i) => `s${String(Math.floor((i * subscriptions) / SAMPLE)).padStart(6, '0')}`) },
  format: 'JSONEachRow',
});
for (const r of await sample.json<{ s: string; meter: string; amounts: string[] }>()) {
  const c = Number(r.s.slice(1));
  const m = meters.indexOf(r.meter as (typeof meters)[number]);
  const card = cards.get(c % 2 === 0 ? 'graduated' : 'volume')![m]!;
  let q = new Dec(0);
  let before = new Dec(0);
  r.amounts.forEach((got, h) => {
    q = q.plus(hourly(c, m, h));
    const now = new Dec(rate(card, q.toFixed()).amount);
    if (!now.minus(before).eq(got)) hourlyMismatches++;
    before = now;
    sampled++;
  });
}
checks.push(`hourly amounts: ${sampled} rows of ${SAMPLE} subscriptions checked one by one, ${hourlyMismatches} differ`);
const verified = core.verified && totalsOk && hourlyMismatches === 0 && sampled === Math.min(SAMPLE, subscriptions) * meters.length * hours;
checks.unshift(core.verification);

await stores.close();
rmSync(dataDir, { recursive: true, force: true });

const perSecond = Math.round(report.ratings / seconds);
finishBenchmark({
  name: 'rate',
  description: `Re-rating one month of hourly usage: ${subscriptions} subscriptions x 3 meters x ${hours} hours (graduated and volume cards). The core alone against a straightforward decimal.js rater, then the whole \`tally rate --from --to\` (read rollups, rate on ${threads} worker threads, write rated rows) on the embedded stores.`,
  unit: 'hourly ratings per second',
  parameters: { subscriptions, meters: 3, hours, threads },
  rows: [
    ...core.rows,
    { variant: 'whole re-rate: read rollups, rate, write rated rows (chDB)', ratings: report.ratings, seconds: Number(seconds.toFixed(2)), 'ratings/s': perSecond },
  ],
  ratios: { ...core.ratios, whole_rerate_per_second_vs_1M: perSecond / 1_000_000 },
  verified,
  checks,
});
