import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import { migrateAll } from '../core/migrate.js';
import { openStores } from '../core/stores.js';
import { newId } from '../core/ids.js';
import { Aggregator, aggregatorMetrics } from '../metering/aggregator.js';
import { pgMeterRepository } from '../metering/meters.js';
import { finishBenchmark } from './lib/report.js';

/**
 * aggregate (../shared/BENCH.md): 10 M raw events over 30 days for 10k customers and 3 meters,
 * plus 10 % resent copies with other timestamps and values (accepted later), rolled up from
 * nothing in one aggregator run (the backfill of three meters defined after their events).
 * Then the next run, once new events have become visible (the steady state). After each run
 * every meter's total is checked against a direct query over the raw table with an explicit
 * first-copy dedup.
 */
const events = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const customers = 10_000;
const days = 30;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-agg-'));
const config = loadConfig({ TALLY_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
const stores = await openStores(config);
await migrateAll(stores);
const ch = stores.clickhouse;
const raw = ch.table('raw_events_v1');
const tenant = newId('ten');
await stores.postgres.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'bench']);

const start = Math.floor(Date.now() / 3_600_000) * 3_600_000 - days * 86_400_000;
const meters = ['api_calls', 'storage_gb', 'active_users'];
console.log(`writing ${events} raw events and ${events / 10} resent copies...`);
await ch.client.command({
  query: `INSERT INTO ${raw} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at)
    SELECT {t:String}, concat('e', toString(number)), concat('c', toString(number % ${customers})), arrayElement({meters:Array(String)}, 1 + number % 3),
           toDecimal128(number % 1000, 6) / 100, fromUnixTimestamp64Milli(toInt64({start:Int64} + (number * 7919) % ${days * 86_400_000})),
           concat('{"region":"', arrayElement(['eu','us','ap'], 1 + number % 3), '","user":"u', toString(number % 5000), '"}'),
           fromUnixTimestamp64Micro(toInt64({start:Int64} * 1000 + number))
    FROM numbers({n:UInt64})`,
  query_params: { t: tenant, meters, start, n: events },
});
await ch.client.command({
  query: `INSERT INTO ${raw} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at)
    SELECT tenant_id, id, customer, meter, value + toDecimal128(1, 6), timestamp + toIntervalMinute(61), '{"region":"zz","user":"resend"}', ingested_at + toIntervalSecond(5)
    FROM ${raw} WHERE tenant_id = {t:String} AND cityHash64(id) % 10 = 0`,
  query_params: { t: tenant },
});
const rs = await ch.client.query({ query: `SELECT count() AS n FROM ${raw}`, format: 'JSONEachRow' });
const [{ n: rawRows }] = (await rs.json()) as [{ n: string }];

const repo = pgMeterRepository(stores.postgres);
await repo.create(tenant, { key: 'api_calls', name: 'API calls', aggregation: 'sum', group_by: ['region'] });
await repo.create(tenant, { key: 'storage_gb', name: 'Storage', aggregation: 'max' });
await repo.create(tenant, { key: 'active_users', name: 'Users', aggregation: 'unique_count', value_property: 'user' });

const aggregator = new Aggregator({
  ch,
  pg: stores.postgres,
  meters: repo,
  logger: createLogger(config),
  metrics: aggregatorMetrics(createRegistry()),
  overlapMs: 120_000,
  settleMs: 0,
  leaseSeconds: 600,
});
console.log('aggregating...');
/** Wall time and CPU (% of one core) of `work`; chDB runs in this process, so its threads are counted. */
const measured = async <T>(work: () => Promise<T>) => {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const result = await work();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { result, seconds, cpuPercent: Math.round((cpu.user + cpu.system) / 1e4 / seconds) };
};
const { result: report, seconds, cpuPercent } = await measured(() => aggregator.runOnce());

// Verification: totals from the rollups against the raw table with an explicit dedup.
const checks: string[] = [];
let verified = report.ran && report.metersBackfilled === 3;
const hourly = ch.table('usage_hourly_v1');
const q = async (query: string) => {
  const r = await ch.client.query({ query, query_params: { t: tenant }, format: 'JSONEachRow' });
  return (await r.json<Record<string, string>>())[0]!;
};
const dedup = `(SELECT id, argMin(tuple(meter, value, properties), ingested_at) AS f FROM ${raw} WHERE tenant_id = {t:String} GROUP BY id)`;
const verify = async (after: string) => {
  const want = await q(`SELECT toString(sumIf(tupleElement(f, 2), tupleElement(f, 1) = 'api_calls')) AS sum,
                               toString(maxIf(tupleElement(f, 2), tupleElement(f, 1) = 'storage_gb')) AS max,
                               toString(uniqExactIf(JSONExtractString(tupleElement(f, 3), 'user'), tupleElement(f, 1) = 'active_users')) AS users,
                               toString(count()) AS n_events FROM ${dedup}`);
  const got = await q(`SELECT toString(sumIf(sum_value, meter = 'api_calls')) AS sum, toString(maxIf(max_value, meter = 'storage_gb')) AS max,
                              toString(uniqExactArrayIf(uniq_values, meter = 'active_users')) AS users, toString(sum(events)) AS n_events
                       FROM ${hourly} FINAL WHERE tenant_id = {t:String} AND events > 0`);
  for (const k of ['sum', 'max', 'users', 'n_events']) {
    const ok = want[k] === got[k];
    verified &&= ok;
    checks.push(`${after}, ${k}: rollups ${got[k]}, raw with dedup ${want[k]}${ok ? '' : ' MISMATCH'}`);
  }
};
await verify('after the backfill');

// Reference (../shared/BENCH.md): the engine's own plain GROUP BY over the same rows, per meter,
// customer and hour, with no dedup and nothing written.
const { seconds: engineSeconds, cpuPercent: engineCpuPercent } = await measured(() => q(`SELECT toString(sum(n)) AS n, toString(sum(s)) AS s FROM (
           SELECT meter, customer, toStartOfHour(timestamp) AS hour, count() AS n, sum(value) AS s FROM ${raw} WHERE tenant_id = {t:String} GROUP BY meter, customer, hour)`));

// Steady state: the next run after the backfill, once the events of one run interval (5 s at
// 10,000 events/s) have become visible, in the current hour, with 10 % of them copies of old
// events sent again with other content (a later copy must be found among the whole history of
// ids to be left out). What such a run costs is what bounds the rate the aggregator keeps up
// with; it is measured here over the history the backfill left.
const fresh = Number(process.env.BENCH_STEADY_EVENTS ?? 50_000);
await ch.client.command({
  query: `INSERT INTO ${raw} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at)
    SELECT {t:String}, if(number % 10 = 0, concat('e', toString(number * 7)), concat('n', toString(number))), concat('c', toString(number % ${customers})),
           arrayElement({meters:Array(String)}, 1 + number % 3), toDecimal128(number % 1000, 6) / 100, now64(3) - toIntervalMillisecond(number % 1000),
           concat('{"region":"', arrayElement(['eu','us','ap'], 1 + number % 3), '","user":"n', toString(number % 5000), '"}'), now64(6)
    FROM numbers({n:UInt64})`,
  query_params: { t: tenant, meters, n: fresh },
});
const { result: steady, seconds: steadySeconds, cpuPercent: steadyCpuPercent } = await measured(() => aggregator.runOnce());
verified &&= steady.ran;
await verify('after the steady-state run');

await stores.close();
rmSync(dataDir, { recursive: true, force: true });

finishBenchmark({
  name: 'aggregate',
  description: `${events} raw events over ${days} days, ${customers} customers, 3 meters (sum with group_by, max, unique_count), plus 10 % resent copies; one aggregator run backfills all of it from nothing, then the next run rolls up ${fresh} new events (chDB embedded).`,
  unit: 'raw events rolled up per second',
  parameters: { events, resent: events / 10, customers, days, meters: 3, 'steady-state events': fresh },
  rows: [
    { variant: 'engine GROUP BY meter, customer, hour (no dedup, no write)', 'raw rows': Number(rawRows), 'hours recomputed': '', seconds: Number(engineSeconds.toFixed(1)), 'raw events/s': Math.round(Number(rawRows) / engineSeconds), 'CPU % (200 = both cores)': engineCpuPercent },
    { variant: 'tally aggregate (backfill, one run)', 'raw rows': Number(rawRows), 'hours recomputed': report.hoursRecomputed, seconds: Number(seconds.toFixed(1)), 'raw events/s': Math.round(Number(rawRows) / seconds), 'CPU % (200 = both cores)': cpuPercent },
    { variant: `tally aggregate (steady state: the next run, ${fresh} new events)`, 'raw rows': fresh, 'hours recomputed': steady.hoursRecomputed, seconds: Number(steadySeconds.toFixed(2)), 'raw events/s': Math.round(fresh / steadySeconds), 'CPU % (200 = both cores)': steadyCpuPercent },
  ],
  ratios: { 'tally / engine GROUP BY': Number((engineSeconds / seconds).toFixed(2)) },
  verified,
  checks,
});
