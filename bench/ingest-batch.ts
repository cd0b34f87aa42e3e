import { execFileSync } from 'node:child_process';
import { pack } from 'msgpackr';
import { randomToken } from '../core/ids.js';
import { finishBenchmark } from './lib/report.js';
import { atAllCores, cpuColumns, runLoad, sampleCpu, script } from './lib/servers.js';
import { startTally } from './lib/tally.js';

/**
 * ingest-batch (../shared/BENCH.md): 1,000 events per POST /v1/events, JSON and msgpack,
 * 10 connections, acknowledged once in the node's event log; exactly-once is checked in
 * ClickHouse after the log has shipped. Reference in the same run: the engine's own
 * INSERT ... SELECT ... FROM numbers(N) rate for the same row shape.
 */
const duration = Number(process.env.BENCH_DURATION ?? 20);
const connections = 10;
const perRequest = 1000;
let n = 0;
const events = () => {
  const tag = randomToken(6);
  return Array.from({ length: perRequest }, () => {
    n++;
    return { id: `b${n}_${tag}`, customer: `c${n % 1000}`, meter: 'api_calls', value: String(n % 100) };
  });
};

const ref = JSON.parse(execFileSync(process.execPath, [script('dist-bench/bench/refs/engine-insert.js')], { encoding: 'utf8' }).trim().split('\n').pop()!) as {
  rows: number;
  expected: number;
  seconds: number;
};
const engineRate = ref.rows / ref.seconds;
const checks = [`engine reference: ${ref.rows} of ${ref.expected} rows in ${ref.seconds.toFixed(2)} s`];
let verified = ref.rows === ref.expected;

// An ingest node alone (`tally serve`): the aggregator and the other workers run elsewhere
// (`sustained` measures them together in one process). Each format gets a node of its own on
// fresh stores: on one node, the second format's run would also pay for the engine merging
// the first one's parts in the background.
async function phase(type: string, encode: (ev: ReturnType<typeof events>) => string | Buffer) {
  const tally = await startTally({}, 'serve');
  const cpu = sampleCpu(tally.server.pid);
  const load = await runLoad({
    url: `${tally.server.url}/v1/events`,
    connections,
    durationSec: duration,
    headers: { 'content-type': type, authorization: tally.auth },
    makeBody: () => {
      const ev = events();
      return { body: encode(ev), ids: ev.map((e) => e.id) };
    },
  });
  const used = cpu.stop();
  const rss = tally.rss.stop();
  const anon = tally.rss.maxAnon();
  const check = await tally.stopAndVerify(load.acked);
  verified &&= check.ok;
  checks.push(`tally ${type}: ${check.detail}`);
  return { ...load, cpu: used, rss, anon };
}
const json = await phase('application/json', (ev) => JSON.stringify(ev));
const msgpack = await phase('application/msgpack', (ev) => pack(ev));

const blank = { 'server CPU %': '', 'main thread %': '', 'client CPU %': '', 'server CPU µs/event': '' };
const rows: Record<string, string | number>[] = [
  { variant: 'engine INSERT ... SELECT FROM numbers', 'events/s': Math.floor(engineRate), 'p50 ms': '', 'p99 ms': '', 'non-2xx': '', 'max RSS MiB': '', 'max anonymous MiB': '', ...blank },
  { variant: 'tally JSON, 1000/request', 'events/s': json.eventsPerSec, 'p50 ms': json.p50, 'p99 ms': json.p99, 'non-2xx': json.non2xx, 'max RSS MiB': json.rss, 'max anonymous MiB': json.anon, ...cpuColumns(json.eventsPerSec, json.cpu) },
  { variant: 'tally msgpack, 1000/request', 'events/s': msgpack.eventsPerSec, 'p50 ms': msgpack.p50, 'p99 ms': msgpack.p99, 'non-2xx': msgpack.non2xx, 'max RSS MiB': msgpack.rss, 'max anonymous MiB': msgpack.anon, ...cpuColumns(msgpack.eventsPerSec, msgpack.cpu) },
];
finishBenchmark({
  name: 'ingest-batch',
  description: "1,000 events per POST /v1/events, JSON then msgpack, 10 connections, to an ingest node (tally serve on the embedded stores, a fresh one for each format), each 202 sent once the events are fdatasynced in the node's event log; exactly-once checked in ClickHouse after the log shipped; the reference is the engine inserting the same row shape from numbers(N) in a separate process.",
  unit: 'acknowledged events per second',
  parameters: { connections, perRequest, durationSec: duration },
  rows,
  ratios: {
    'tally JSON / engine insert-select (aim ≥ 0.3)': json.eventsPerSec / engineRate,
    'tally msgpack / engine insert-select (aim ≥ 0.3)': msgpack.eventsPerSec / engineRate,
    'JSON at both cores fully used / engine insert-select': atAllCores(json.eventsPerSec, json.cpu) / engineRate,
    'msgpack at both cores fully used / engine insert-select': atAllCores(msgpack.eventsPerSec, msgpack.cpu) / engineRate,
  },
  verified,
  checks,
});
