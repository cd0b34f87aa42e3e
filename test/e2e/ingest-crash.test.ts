import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openClickHouse } from '../../core/clickhouse.js';
import { startTally } from '../support/cli.js';
import { freshDatabaseUrl, preparedDataDir } from '../support/stores.js';

const ADMIN = 'crash-test-admin-key-0123456789';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('crash during ingest', () => {
  it('SIGKILL mid-stream: every acknowledged event is stored exactly once; retries of the rest all land', async () => {
    const dataDir = preparedDataDir();
    dirs.push(dataDir);
    const db = process.env.DATABASE_URL ? await freshDatabaseUrl(process.env.DATABASE_URL) : undefined;
    const env = { TALLY_DATA_DIR: dataDir, TALLY_ADMIN_KEY: ADMIN, DATABASE_URL: db?.url };
    try {
      const first = await startTally(['start'], env);
      const created = await fetch(`${first.url}/v1/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: '{"name":"crash"}',
      });
      const tenant = (await created.json()) as { id: string; api_key: string };
      const headers = { authorization: `Bearer ${tenant.api_key}`, 'content-type': 'application/json' };
      const events = (ids: string[]) => JSON.stringify(ids.map((id) => ({ id, customer: 'c', meter: 'api_calls', value: '1' })));

      const acked = new Set<string>();
      const unacked: string[][] = [];
      let crashed = false;
      const client = async (c: number) => {
        for (let b = 0; !crashed; b++) {
          const ids = Array.from({ length: 10 }, (_, i) => `k${c}_${b}_${i}`);
          try {
            const res = await fetch(`${first.url}/v1/events`, { method: 'POST', headers, body: events(ids) });
            if (res.status === 202) {
              const body = (await res.json()) as { accepted: number };
              expect(body.accepted).toBe(10);
              ids.forEach((id) => acked.add(id));
            } else unacked.push(ids);
          } catch {
            unacked.push(ids); // connection reset by the crash: the client does not know
            return;
          }
        }
      };
      const clients = Promise.all(Array.from({ length: 6 }, (_, c) => client(c)));
      while (acked.size < 500) await new Promise((r) => setTimeout(r, 20));
      first.child.kill('SIGKILL');
      crashed = true;
      expect(await first.exited).toBe(null);
      await clients;
      expect(acked.size).toBeGreaterThanOrEqual(500);

      // Restart on the same data; the clients retry what they were not told was accepted.
      const second = await startTally(['start'], env);
      for (const ids of unacked) {
        const res = await fetch(`${second.url}/v1/events`, { method: 'POST', headers, body: events(ids) });
        expect(res.status).toBe(202);
      }
      let signal: string | null = null;
      second.child.on('exit', (_code, s) => (signal = s));
      second.child.kill('SIGTERM');
      const code = await second.exited;
      // A rare CI run saw this process end by the signal itself after a graceful stop began; its log's last lines say how far the stop got.
      expect(code, `exit signal ${signal ?? 'none'}; stderr:\n${second.stderr()}\nlast of stdout:\n${second.stdout().split('\n').slice(-15).join('\n')}`).toBe(0);

      const ch = await openClickHouse({ url: undefined, database: 'tally', dataDir });
      const rs = await ch.client.query({
        query: `SELECT id, count() AS n FROM ${ch.table('raw_events_v1')} WHERE tenant_id = {t:String} GROUP BY id`,
        query_params: { t: tenant.id },
        format: 'JSONEachRow',
      });
      const counts = new Map((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)]));
      // The deduplicated events every downstream reader uses: exactly one per id.
      const dedup = await ch.client.query({
        query: `SELECT count() AS rows, uniqExact(id) AS ids FROM ${ch.table('events_v1')} WHERE tenant_id = {t:String}`,
        query_params: { t: tenant.id },
        format: 'JSONEachRow',
      });
      const [view] = await dedup.json<{ rows: string; ids: string }>();
      await ch.close();
      expect(Number(view!.rows)).toBe(counts.size);
      expect(Number(view!.ids)).toBe(counts.size);

      for (const id of acked) expect(counts.get(id), `acknowledged ${id}`).toBe(1);
      // A request cut off by the crash may have committed without its 202; its retry then adds
      // a second copy, which the first-copy-wins dedup downstream removes. Nothing is missing.
      for (const id of unacked.flat()) expect(counts.get(id), `retried ${id}`).toBeGreaterThanOrEqual(1);
      const stored = [...counts.keys()];
      expect(stored.every((id) => acked.has(id) || unacked.some((ids) => ids.includes(id)))).toBe(true);
    } finally {
      await db?.drop();
    }
  });
});
