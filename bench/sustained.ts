import autocannon from 'autocannon';
import { randomToken } from '../core/ids.js';
import { finishBenchmark } from './lib/report.js';
import { runLoad } from './lib/servers.js';
import { startTally } from './lib/tally.js';

/**
 * sustained (../shared/BENCH.md): events at a fixed rate with the aggregator running in the same
 * process (`tally start`), stepped up until usage falls behind. Each step sends batches of 1,000
 * events for 60 s at its rate; usage freshness is sampled every second as the larger of the
 * aggregator's lag (how old its watermark is) and the age of the oldest event the log has not
 * shipped. A step holds when at least 95 % of its rate was acknowledged and freshness stayed
 * within 30 s over its last 30 s. The figure is the highest rate that held; the reference is the
 * ingest-batch rate of the same server, measured first. Afterwards, once everything is shipped
 * and aggregated, every acknowledged event is checked in ClickHouse (exactly once) and the hourly
 * usage must add up to the number of events stored.
 */
const stepSeconds = Number(process.env.BENCH_STEP_SECONDS ?? 60);
const perRequest = 1000;
const connections = 10;
const FRESH_SECONDS = 30;
let n = 0;
const batch = () => {
  const tag = randomToken(6);
  const ids: string[] = [];
  const events = Array.from({ length: perRequest }, () => {
    n++;
    const id = `s${n}_${tag}`;
    ids.push(id);
    return { id, customer: `c${n % 1000}`, meter: 'api_calls', value: '1' };
  });
  return { body: JSON.stringify(events), ids };
};

const tally = await startTally({ TALLY_AGGREGATOR_INTERVAL_MS: '1000' });
const url = tally.server.url;
const headers = { 'content-type': 'application/json', authorization: tally.auth };
const meter = await fetch(`${url}/v1/meters`, { method: 'POST', headers, body: JSON.stringify({ key: 'api_calls', name: 'API calls', aggregation: 'sum' }) });
if (meter.status !== 201) throw new Error(`creating the meter: ${meter.status}`);

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}
async function freshness(): Promise<number> {
  const [lag, unshipped] = await Promise.all([metric('tally_aggregator_lag_seconds'), metric('tally_eventlog_oldest_unshipped_seconds')]);
  return Math.max(Number.isNaN(lag) ? 0 : lag, unshipped);
}

// The reference: the ingest-batch rate of this server, 10 s flat out.
const acked: string[] = [];
const reference = await runLoad({ url: `${url}/v1/events`, connections, durationSec: 10, headers, makeBody: batch });
for (const id of reference.acked) acked.push(id);
// Let the log and the aggregator catch up before stepping.
for (let i = 0; i < 300 && (await freshness()) > 5; i++) await new Promise((r) => setTimeout(r, 1000));

/** One step: `rate` events/s for stepSeconds, freshness sampled every second. */
async function step(rate: number): Promise<{ rate: number; achieved: number; worstFresh: number; p99: number; held: boolean }> {
  const samples: { at: number; fresh: number }[] = [];
  const started = Date.now();
  const sampler = setInterval(() => {
    void freshness().then((fresh) => samples.push({ at: (Date.now() - started) / 1000, fresh }));
  }, 1000);
  const stepAcked: string[] = [];
  const result = await autocannon({
    url: `${url}/v1/events`,
    connections,
    duration: stepSeconds,
    overallRate: rate / perRequest,
    method: 'POST',
    headers,
    requests: [
      {
        setupRequest: (req: autocannon.Request, context: object) => {
          const { body, ids } = batch();
          (context as { ids: string[] }).ids = ids;
          return { ...req, body };
        },
        onResponse: (status: number, _body: string, context: object) => {
          if (status === 202) for (const id of (context as { ids: string[] }).ids) stepAcked.push(id);
        },
      },
    ],
  });
  clearInterval(sampler);
  for (const id of stepAcked) acked.push(id);
  const achieved = Math.round(stepAcked.length / stepSeconds);
  const tail = samples.filter((s) => s.at >= stepSeconds - FRESH_SECONDS);
  const worstFresh = Math.max(0, ...tail.map((s) => s.fresh));
  return { rate, achieved, worstFresh: Number(worstFresh.toFixed(1)), p99: result.latency.p99, held: achieved >= 0.95 * rate && worstFresh <= FRESH_SECONDS };
}

const rows: Record<string, string | number>[] = [];
let best = 0;
const rates = [25_000, 50_000, 100_000, 150_000, 200_000, 300_000, 400_000, 600_000];
for (const rate of rates) {
  const r = await step(rate);
  rows.push({ 'target events/s': r.rate, 'acknowledged events/s': r.achieved, 'worst freshness s (last 30 s)': r.worstFresh, 'p99 ms': r.p99, held: r.held ? 'yes' : 'no' });
  console.log(JSON.stringify(r));
  if (!r.held) break;
  best = rate;
  if (rate > reference.eventsPerSec) break;
  // The next step starts from a caught-up pipeline.
  for (let i = 0; i < 120 && (await freshness()) > 5; i++) await new Promise((res) => setTimeout(res, 1000));
}

// Everything shipped and aggregated, then the checks.
for (let i = 0; i < 600 && (await metric('tally_eventlog_pending_bytes')) !== 0; i++) await new Promise((r) => setTimeout(r, 500));
const lastAck = Date.now();
for (let i = 0; i < 600; i++) {
  const lag = await metric('tally_aggregator_lag_seconds');
  if ((Date.now() - lastAck) / 1000 > lag + 2) break;
  await new Promise((r) => setTimeout(r, 500));
}
const from = new Date(Date.now() - 6 * 3_600_000).toISOString().slice(0, 13) + ':00:00Z';
const to = new Date(Date.now() + 3_600_000).toISOString().slice(0, 13) + ':00:00Z';
const usage = (await (await fetch(`${url}/v1/usage?${new URLSearchParams({ meter: 'api_calls', from, to }).toString()}`, { headers })).json()) as { data: { value: string }[] };
const usageTotal = usage.data.reduce((sum, d) => sum + BigInt(d.value), 0n);
// How often a run's window gained rows while it worked (inserts committing late) and was done again.
const metricsText = await (await fetch(`${url}/metrics`)).text();
const counted = (series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(metricsText)?.[1] ?? 0);
const recounts = `aggregator runs ${counted('tally_aggregator_runs_total{outcome="ok"}')}, of which redone for rows committing while they worked ${counted('tally_aggregator_window_recounts_total{outcome="redone"}')}, held for the next run ${counted('tally_aggregator_window_recounts_total{outcome="held"}')}`;
const rss = tally.rss.stop();
const check = await tally.stopAndVerify(acked);
const checks = [`tally: ${check.detail}`, `usage of the meter: ${usageTotal} for ${acked.length} acknowledged events`, `highest rate that held: ${best} events/s; max RSS ${rss} MiB`, recounts];
// Events answered after the load stopped are stored too; usage counts every stored event once.
const verified = check.ok && usageTotal >= BigInt(acked.length) && usageTotal <= BigInt(n);

finishBenchmark({
  name: 'sustained',
  description:
    'Batches of 1,000 events at a fixed rate for 60 s a step, with the aggregator running every second in the same process (tally start); freshness is the larger of the aggregator lag and the age of the oldest unshipped event. A step holds when 95 % of its rate was acknowledged and freshness stayed within 30 s over its last 30 s.',
  unit: 'events per second sustained',
  parameters: { stepSeconds, perRequest, connections, freshnessLimitSeconds: FRESH_SECONDS, rates: rates.join(','), sealMs: process.env.TALLY_EVENTLOG_SEAL_MS ?? 'default' },
  rows: [{ 'target events/s': 'ingest-batch, flat out (reference)', 'acknowledged events/s': reference.eventsPerSec, 'worst freshness s (last 30 s)': '', 'p99 ms': reference.p99, held: '' }, ...rows],
  ratios: { 'highest rate that held / ingest-batch of this server': best / reference.eventsPerSec },
  verified,
  checks,
});
