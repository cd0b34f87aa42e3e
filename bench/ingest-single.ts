import pg from 'pg';
import { randomToken } from '../core/ids.js';
import { finishBenchmark } from './lib/report.js';
import { atAllCores, cpuColumns, runLoad, sampleCpu, sampleRss, script, spawnServer, type CpuShares, type LoadResult } from './lib/servers.js';
import { startTally } from './lib/tally.js';

/**
 * ingest-single (../shared/BENCH.md): one event per POST /v1/events as JSON, 50 connections,
 * acknowledged once in the node's event log (written and fdatasynced); exactly-once is checked
 * in ClickHouse after the log has shipped. References in the same run: a no-op uWS handler answering
 * the same POST, and node:http + pg doing one INSERT per event.
 */
const duration = Number(process.env.BENCH_DURATION ?? 20);
const connections = 50;
let n = 0;
const oneEvent = () => {
  const id = `e${n++}_${randomToken(6)}`;
  return { body: JSON.stringify({ id, customer: `c${n % 1000}`, meter: 'api_calls', value: '1' }), ids: [id] };
};

const rows: Record<string, string | number>[] = [];
const checks: string[] = [];
let verified = true;
const row = (variant: string, r: LoadResult, rss: number, cpu: CpuShares) => {
  rows.push({
    variant,
    'events/s': r.eventsPerSec,
    'p50 ms': r.p50,
    'p99 ms': r.p99,
    'non-2xx': r.non2xx,
    errors: r.errors,
    'max RSS MiB': rss,
    ...cpuColumns(r.eventsPerSec, cpu),
  });
};

// 1. no-op uWS
{
  const s = await spawnServer(script('dist-bench/bench/refs/noop-uws.js'), [], {});
  const rss = sampleRss(s.pid);
  const cpu = sampleCpu(s.pid);
  const r = await runLoad({ url: `${s.url}/v1/events`, connections, durationSec: duration, headers: { 'content-type': 'application/json' }, makeBody: oneEvent });
  row('no-op uWS handler', r, rss.stop(), cpu.stop());
  await s.stop();
}

// 2. node:http + pg, one INSERT per event, on the Postgres server
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let pgRef: LoadResult | undefined;
try {
  const dbName = `tally_bench_${randomToken(8)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const s = await spawnServer(script('dist-bench/bench/refs/http-pg.js'), [], { REF_DATABASE_URL: u.toString() });
  const rss = sampleRss(s.pid);
  const cpu = sampleCpu(s.pid); // the node process only: Postgres's own CPU is not counted
  pgRef = await runLoad({ url: `${s.url}/v1/events`, connections, durationSec: duration, headers: { 'content-type': 'application/json' }, makeBody: oneEvent });
  row('node:http + pg INSERT per event', pgRef, rss.stop(), cpu.stop());
  await s.stop();
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  const { rows: [found] } = await c.query<{ n: string }>('SELECT count(*) AS n FROM ref_events WHERE id = ANY($1)', [pgRef.acked]);
  await c.end();
  const ok = Number(found!.n) === pgRef.acked.length;
  verified &&= ok;
  checks.push(`pg reference: ${found!.n} of ${pgRef.acked.length} acknowledged rows stored`);
  await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
  await admin.end();
} catch (e) {
  checks.push(`pg reference unavailable: ${(e as Error).message}`);
}

// 3. Tally
// An ingest node alone (`tally serve`): the aggregator and the other workers run elsewhere
// (`sustained` measures them together in one process).
const tally = await startTally({}, 'serve');
const tallyCpu = sampleCpu(tally.server.pid);
const t = await runLoad({
  url: `${tally.server.url}/v1/events`,
  connections,
  durationSec: duration,
  headers: { 'content-type': 'application/json', authorization: tally.auth },
  makeBody: oneEvent,
});
const tallyShares = tallyCpu.stop();
row('tally (chDB embedded)', t, tally.rss.stop(), tallyShares);
const check = await tally.stopAndVerify(t.acked);
verified &&= check.ok;
checks.push(`tally: ${check.detail}`);

const noop = rows[0]!['events/s'] as number;
const ratios: Record<string, number> = { 'tally / no-op uWS (aim ≥ 0.6)': t.eventsPerSec / noop };
ratios['tally at both cores fully used / no-op uWS'] = atAllCores(t.eventsPerSec, tallyShares) / noop;
if (pgRef) ratios['tally / node:http+pg (aim ≥ 20)'] = t.eventsPerSec / pgRef.eventsPerSec;
finishBenchmark({
  name: 'ingest-single',
  description: "One event per POST /v1/events (JSON), 50 connections, to an ingest node (tally serve on the embedded stores), each 202 sent once the event is fdatasynced in the node's event log; autocannon in the benchmark process; exactly-once checked in ClickHouse after the log shipped.",
  unit: 'acknowledged events per second',
  parameters: { connections, durationSec: duration, sealMs: process.env.TALLY_EVENTLOG_SEAL_MS ?? 'default' },
  rows,
  ratios,
  verified,
  checks,
});
