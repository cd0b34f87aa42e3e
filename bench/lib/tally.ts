import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openClickHouse } from '../../core/clickhouse.js';
import { sampleRss, script, spawnServer, type ServerProcess } from './servers.js';

const ADMIN = 'bench-admin-key-0123456789abcdef';

/** A Tally server on the embedded stores in a fresh data dir, with one tenant. */
export interface TallyUnderTest {
  server: ServerProcess;
  dataDir: string;
  tenantId: string;
  auth: string;
  rss: { stop(): number; maxAnon(): number };
  /**
   * Waits until the node's event log has shipped everything (reported in seconds after the
   * call), stops the server, then checks the stored events against what was acknowledged.
   */
  stopAndVerify(acked: readonly string[]): Promise<{ ok: boolean; detail: string; drainSeconds: number }>;
}

/**
 * The TALLY_ settings in the benchmark's own environment, passed on to the server it starts, so
 * that `TALLY_EVENTLOG_SEAL_MS=1000 npm run bench:ingest-single` measures that setting (the
 * benchmarks name in their parameters the ones they are run with). The data dir, admin key and
 * drain time stay the harness's own.
 */
function tallySettingsOfThisProcess(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('TALLY_') && e[1] !== undefined));
}

/**
 * `command`: `start` runs everything in one process (the aggregator, rater and outboxes beside
 * the API, as `npm start` does); `serve` is an ingest node alone, on stores migrated first, with
 * those workers elsewhere (here: nowhere).
 */
export async function startTally(env: Record<string, string> = {}, command: 'start' | 'serve' = 'start'): Promise<TallyUnderTest> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-'));
  // MALLOC_ARENA_MAX as `npm start` and the image set it.
  const base = { PATH: process.env.PATH, TALLY_DATA_DIR: dataDir, TALLY_ADMIN_KEY: ADMIN, LOG_LEVEL: 'warn', MALLOC_ARENA_MAX: '2' };
  if (command === 'serve') {
    const migrated = spawnSync(process.execPath, [script('bin/tally.js'), 'migrate'], { env: base, encoding: 'utf8' });
    if (migrated.status !== 0) throw new Error(`tally migrate failed: ${migrated.stderr}`);
  }
  // A long drain on stop: the check below must see every acknowledged event shipped.
  const server = await spawnServer(script('bin/tally.js'), [command], { ...tallySettingsOfThisProcess(), ...base, TALLY_EVENTLOG_DRAIN_MS: '600000', ...env });
  const res = await fetch(`${server.url}/v1/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: '{"name":"bench"}',
  });
  const tenant = (await res.json()) as { id: string; api_key: string };
  const rss = sampleRss(server.pid);
  return {
    server,
    dataDir,
    tenantId: tenant.id,
    auth: `Bearer ${tenant.api_key}`,
    rss,
    stopAndVerify: async (acked) => {
      const drainSeconds = await waitForShipped(server.url);
      const code = await server.stop();
      if (code !== 0) return { ok: false, detail: `server exited with ${code}`, drainSeconds };
      try {
        const v = await verifyExactlyOnce(dataDir, tenant.id, acked);
        return { ...v, detail: `${v.detail}; the log had shipped everything ${drainSeconds.toFixed(1)} s after the load stopped`, drainSeconds };
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Seconds until `tally_eventlog_pending_bytes` reads 0 (the log has shipped everything). */
async function waitForShipped(url: string): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 600_000) {
    const text = await (await fetch(`${url}/metrics`)).text();
    if (/^tally_eventlog_pending_bytes 0$/m.test(text)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return (Date.now() - started) / 1000;
}

/**
 * Every acknowledged event is stored exactly once, nothing is stored twice, and the
 * deduplicated view has one row per stored id. Events committed whose 202 was cut off when
 * the load generator stopped are counted but allowed.
 */
async function verifyExactlyOnce(dataDir: string, tenantId: string, acked: readonly string[]): Promise<{ ok: boolean; detail: string }> {
  // The acknowledged ids go to a file the engine reads: a sustained run acknowledges more ids
  // than a JavaScript Map or Set can hold.
  const ackedFile = path.join(dataDir, 'acked.txt');
  const fd = openSync(ackedFile, 'w');
  try {
    for (let i = 0; i < acked.length; i += 1_000_000) writeSync(fd, `${acked.slice(i, i + 1_000_000).join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
  const ch = await openClickHouse({ url: undefined, database: 'tally', dataDir });
  try {
    const one = async (query: string) => {
      const rs = await ch.client.query({ query, query_params: { t: tenantId, f: ackedFile }, format: 'JSONEachRow' });
      return (await rs.json<Record<string, string>>())[0]!;
    };
    const acks = `file({f:String}, 'LineAsString', 'id String')`;
    const raw = ch.table('raw_events_v1');
    const { missing, distinct_acked } = await one(
      `SELECT countIf(id NOT IN (SELECT id FROM ${raw} WHERE tenant_id = {t:String})) AS missing, uniqExact(id) AS distinct_acked FROM ${acks} WHERE id != ''`,
    );
    const { stored, twice } = await one(`SELECT count() AS stored, countIf(n != 1) AS twice FROM (SELECT id, count() AS n FROM ${raw} WHERE tenant_id = {t:String} GROUP BY id)`);
    const { n: viewRows } = await one(`SELECT count() AS n FROM ${ch.table('events_v1')} WHERE tenant_id = {t:String}`);
    const unackedStored = Number(stored) - Number(distinct_acked);
    const ok = Number(missing) === 0 && Number(twice) === 0 && Number(viewRows) === Number(stored) && acked.length === Number(distinct_acked);
    return {
      ok,
      detail: `${acked.length} acknowledged events: ${missing} missing, ${twice} stored more than once; ${unackedStored} committed while their 202 was cut off at the end of the run; events_v1 rows ${viewRows} for ${stored} ids`,
    };
  } finally {
    await ch.close();
  }
}
