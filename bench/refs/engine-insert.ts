import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openClickHouse } from '../../core/clickhouse.js';
import { loadMigrations, migrateClickHouse, migrationsDir } from '../../core/migrate.js';

/**
 * Reference: the engine's own insert rate for the raw-event row shape, with no HTTP, JSON or
 * JavaScript in the way: INSERT INTO raw_events_v1 SELECT ... FROM numbers(N). Prints one JSON line.
 */
const rowsPerInsert = Number(process.env.REF_ROWS ?? 1_000_000);
const inserts = Number(process.env.REF_INSERTS ?? 3);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tally-engine-'));
const ch = await openClickHouse({ url: undefined, database: 'tally', dataDir });
await migrateClickHouse(ch, loadMigrations(migrationsDir('clickhouse')));
const started = process.hrtime.bigint();
for (let i = 0; i < inserts; i++) {
  await ch.client.command({
    query: `INSERT INTO ${ch.table('raw_events_v1')} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at)
      SELECT 'ten_bench', concat('r', toString(${i}), '_', toString(number)), concat('c', toString(number % 1000)), 'api_calls',
             toDecimal128(number % 100, 6), now64(3), '{}', now64(6)
      FROM numbers(${rowsPerInsert})`,
  });
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const rs = await ch.client.query({ query: `SELECT count() AS n FROM ${ch.table('raw_events_v1')}`, format: 'JSONEachRow' });
const [{ n }] = (await rs.json()) as [{ n: string }];
await ch.close();
rmSync(dataDir, { recursive: true, force: true });
console.log(JSON.stringify({ rows: Number(n), expected: rowsPerInsert * inserts, seconds }));
