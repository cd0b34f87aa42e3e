import { spawn } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openClickHouse } from '../../core/clickhouse.js';
import { runTally, startTally, TALLY_BIN } from '../support/cli.js';
import { preparedDataDir } from '../support/stores.js';

const ADMIN = 'aggregate-crash-admin-key-0123456789';
const HOUR = 3_600_000;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function rollups(dataDir: string): Promise<string[]> {
  const ch = await openClickHouse({ url: undefined, database: 'tally', dataDir });
  try {
    const rs = await ch.client.query({
      query: `SELECT meter, customer, groups, toString(hour) AS hour, events, toString(sum_value) AS s, toString(max_value) AS mx, toString(min_value) AS mn,
                     toString(latest_value) AS l, toString(latest_key) AS lk, uniq_values AS u
              FROM ${ch.table('usage_hourly_v1')} FINAL WHERE events > 0 ORDER BY meter, customer, groups, hour`,
      format: 'JSONCompactEachRow',
    });
    return (await rs.json<unknown[]>()).map((r) => JSON.stringify(r));
  } finally {
    await ch.close();
  }
}

// On the embedded stores whatever the environment (it spawns `tally` without DATABASE_URL): run
// in CI's embedded run only.
describe.skipIf(process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '')('aggregator crash', () => {
  it('killed mid-backfill and run again, it writes exactly the rollups of an uninterrupted run', async () => {
    const dataDir = preparedDataDir();
    const copy = `${dataDir}-uninterrupted`;
    dirs.push(dataDir, copy);
    const env = { TALLY_DATA_DIR: dataDir, TALLY_ADMIN_KEY: ADMIN, TALLY_AGGREGATOR_LEASE_SECONDS: '1', TALLY_AGGREGATOR_SETTLE_MS: '0' };

    // Events over 30 days of hours for several meters, through the API.
    const serveMigrate = await runTally(['migrate'], env);
    expect(serveMigrate.code).toBe(0);
    const server = await startTally(['serve'], env);
    const tenant = (await (await fetch(`${server.url}/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{"name":"crash"}' })).json()) as { api_key: string };
    const auth = { authorization: `Bearer ${tenant.api_key}`, 'content-type': 'application/json' };
    const meters = ['a_sum', 'b_max', 'c_uniq', 'd_latest', 'e_count', 'f_min'];
    const aggs = ['sum', 'max', 'unique_count', 'latest', 'count', 'min'];
    for (const [i, key] of meters.entries()) {
      const body: Record<string, unknown> = { key, name: key, aggregation: aggs[i] };
      if (aggs[i] === 'unique_count') body.value_property = 'user';
      if (aggs[i] === 'sum') body.group_by = ['region'];
      expect((await fetch(`${server.url}/v1/meters`, { method: 'POST', headers: auth, body: JSON.stringify(body) })).status).toBe(201);
    }
    const start = Math.floor(Date.now() / HOUR) * HOUR - 30 * 24 * HOUR;
    let n = 0;
    for (let batch = 0; batch < 30; batch++) {
      const events = Array.from({ length: 1000 }, () => {
        n++;
        const e: Record<string, unknown> = {
          id: `e${n}`,
          customer: `c${n % 7}`,
          meter: meters[n % meters.length],
          timestamp: new Date(start + ((n * 7919) % (30 * 24)) * HOUR + (n % 3600) * 1000).toISOString(),
          properties: { region: ['eu', 'us'][n % 2], user: `u${n % 13}` },
        };
        if (meters[n % meters.length] !== 'e_count') e.value = `${n % 97}.${n % 10}`;
        return e;
      });
      const res = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: auth, body: JSON.stringify(events) });
      expect(((await res.json()) as { accepted: number }).accepted).toBe(1000);
    }
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    cpSync(dataDir, copy, { recursive: true });

    // Kill the aggregator as soon as it reports backfill progress.
    const child = spawn(process.execPath, [TALLY_BIN, 'aggregate', '--once'], { env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const killed = new Promise<NodeJS.Signals | null>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/backfill [a-z_]+ \(hours\): [1-9]\d*%/.test(out)) child.kill('SIGKILL');
      });
      child.on('exit', (_code, signal) => resolve(signal));
    });
    expect(await killed, `the run finished before it could be killed:\n${out}`).toBe('SIGKILL');

    await new Promise((r) => setTimeout(r, 1500)); // the dead run's lease expires
    const rerun = await runTally(['aggregate', '--once'], env);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/meters backfilled/);

    const uninterrupted = await runTally(['aggregate', '--once'], { ...env, TALLY_DATA_DIR: copy });
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);

    const afterCrash = await rollups(dataDir);
    const clean = await rollups(copy);
    expect(afterCrash.length).toBeGreaterThan(1000);
    expect(afterCrash).toEqual(clean);
  });
});
