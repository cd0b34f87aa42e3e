import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, migrateAll, migrateClickHouse, migratePostgres, migrationStatus, migrationsDir, MigrationError, type Migration } from '../../core/migrate.js';
import { openTestStores, type TestStores } from '../support/stores.js';

let stores: TestStores;
beforeEach(async () => {
  stores = await openTestStores();
});
afterEach(async () => {
  await stores.cleanup();
});

async function pgTables(): Promise<string[]> {
  const { rows } = await stores.postgres.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((r) => r.table_name);
}

async function chTables(): Promise<string[]> {
  const rs = await stores.clickhouse.client.query({
    query: 'SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name',
    query_params: { db: stores.clickhouse.database },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ name: string }>()).map((r) => r.name);
}

async function chSchema(): Promise<string[]> {
  const rs = await stores.clickhouse.client.query({
    query: 'SELECT name, create_table_query FROM system.tables WHERE database = {db:String} ORDER BY name',
    query_params: { db: stores.clickhouse.database },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ create_table_query: string }>()).map((r) => r.create_table_query);
}

describe(`migrations (Postgres ${process.env.DATABASE_URL ? 'server' : 'PGlite'}, ClickHouse ${process.env.CLICKHOUSE_URL ? 'server' : 'chDB'})`, () => {
  it('apply every migration on a fresh store, then nothing the second time', async () => {
    const pgCount = loadMigrations(migrationsDir('postgres')).length;
    const chCount = loadMigrations(migrationsDir('clickhouse')).length;

    const first = await migrateAll(stores);
    expect(first.postgres).toHaveLength(pgCount);
    expect(first.clickhouse).toHaveLength(chCount);
    const pgAfterFirst = await pgTables();
    const chAfterFirst = await chSchema();
    expect(pgAfterFirst).toEqual(expect.arrayContaining(['schema_migrations', 'tenants', 'api_keys', 'meters', 'aggregator_state', 'customers', 'plans', 'subscriptions', 'subscription_plans', 'subscription_audit']));
    expect(await chTables()).toEqual(expect.arrayContaining(['schema_migrations', 'raw_events_v1', 'events_v1']));

    const second = await migrateAll(stores);
    expect(second).toEqual({ postgres: [], clickhouse: [] });
    expect(await pgTables()).toEqual(pgAfterFirst);
    expect(await chSchema()).toEqual(chAfterFirst);
    const { rows } = await stores.postgres.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
    expect(Number(rows[0]!.n)).toBe(pgCount);
  });

  it('re-running a migration whose record was lost changes nothing (statements are idempotent)', async () => {
    await migrateAll(stores);
    const before = await chSchema();
    await stores.clickhouse.client.command({ query: `TRUNCATE TABLE ${stores.clickhouse.table('schema_migrations')}` });
    const again = await migrateClickHouse(stores.clickhouse, loadMigrations(migrationsDir('clickhouse')));
    expect(again.length).toBeGreaterThan(0);
    expect(await chSchema()).toEqual(before);

    await stores.postgres.query('DELETE FROM schema_migrations');
    const pgAgain = await migratePostgres(stores.postgres, loadMigrations(migrationsDir('postgres')));
    expect(pgAgain.length).toBeGreaterThan(0);
  });

  it('reports pending migrations before and none after', async () => {
    const before = await migrationStatus(stores);
    expect(before.postgres.pending.length).toBeGreaterThan(0);
    expect(before.clickhouse.pending.length).toBeGreaterThan(0);
    await migrateAll(stores);
    const after = await migrationStatus(stores);
    expect(after.postgres.pending).toEqual([]);
    expect(after.clickhouse.pending).toEqual([]);
  });

  it('refuses a migration edited after it was applied', async () => {
    await migrateAll(stores);
    const edited: Migration[] = loadMigrations(migrationsDir('postgres')).map((m, i) => (i === 0 ? { ...m, checksum: 'different' } : m));
    await expect(migratePostgres(stores.postgres, edited)).rejects.toThrow(MigrationError);
    await expect(migratePostgres(stores.postgres, edited)).rejects.toThrow(/changed after it was applied/);
    const chEdited = loadMigrations(migrationsDir('clickhouse')).map((m) => ({ ...m, checksum: 'different' }));
    await expect(migrateClickHouse(stores.clickhouse, chEdited)).rejects.toThrow(/changed after it was applied/);
  });

  it('refuses to run against a store migrated by a newer version', async () => {
    await migrateAll(stores);
    await stores.postgres.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future', 'x')");
    await expect(migratePostgres(stores.postgres, loadMigrations(migrationsDir('postgres')))).rejects.toThrow(/does not know; run a newer Tally/);
  });

  it('serialises concurrent runs so each migration is applied once', async () => {
    const results = await Promise.all([
      migratePostgres(stores.postgres, loadMigrations(migrationsDir('postgres'))),
      migratePostgres(stores.postgres, loadMigrations(migrationsDir('postgres'))),
    ]);
    expect(results.flat()).toHaveLength(loadMigrations(migrationsDir('postgres')).length);
  });
});
