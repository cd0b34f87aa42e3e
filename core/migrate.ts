import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClickHouseStore } from './clickhouse.js';
import { quoteIdent } from './clickhouse.js';
import { distributedRawEvents, forCluster } from './clickhouse-cluster.js';
import type { PostgresStore } from './postgres.js';
import { packageRoot } from './paths.js';

/**
 * Numbered SQL migrations for both stores (`core/migrations/{postgres,clickhouse}/NNNN_name.sql`).
 * Each store records what it applied with a checksum; every statement is written to be
 * idempotent (`IF NOT EXISTS`), so a run cut short is simply run again. A migration that was
 * edited after it was applied is refused rather than silently skipped.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export type Engine = 'postgres' | 'clickhouse';

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function migrationsDir(engine: Engine): string {
  return path.join(packageRoot(), 'core', 'migrations', engine);
}

/** Reads a folder of migrations; versions must run 1, 2, 3... with no gap or repeat. */
export function loadMigrations(dir: string): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const migrations = files.map((file) => {
    const m = FILE.exec(file);
    if (!m) throw new MigrationError(`${dir}/${file}: migration files are named NNNN_name.sql`);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    return { version: Number(m[1]), name: `${m[1]}_${m[2]}`, sql, checksum: sha256(sql) };
  });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new MigrationError(`${dir}: expected migration ${pad(i + 1)}, found ${m.name}`);
  });
  return migrations;
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

// ---- Postgres --------------------------------------------------------------------------------

const PG_LOCK_KEY = 7_201_186_451; // any constant: serialises concurrent `tally migrate` runs

export async function migratePostgres(store: PostgresStore, migrations: readonly Migration[]): Promise<string[]> {
  return store.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PG_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations');
    const pending = comparePending('postgres', migrations, rows);
    for (const m of pending) {
      await tx.query(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
    }
    return pending.map((m) => m.name);
  });
}

async function postgresApplied(store: PostgresStore): Promise<{ version: number; checksum: string }[]> {
  const exists = await store.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (exists.rows[0]?.t == null) return [];
  return (await store.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations')).rows;
}

// ---- ClickHouse ------------------------------------------------------------------------------

export async function migrateClickHouse(store: ClickHouseStore, migrations: readonly Migration[]): Promise<string[]> {
  const { client } = store;
  // On a cluster, the same statements run ON CLUSTER with Replicated engines (clickhouse-cluster.ts).
  const ddl = (sql: string) => (store.cluster === undefined ? sql : forCluster(sql, store.cluster));
  await client.command({ query: ddl(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(store.database)}`) });
  await client.command({
    query: ddl(`CREATE TABLE IF NOT EXISTS ${store.table('schema_migrations')}
      (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
      ENGINE = ReplacingMergeTree ORDER BY version`),
  });
  const pending = comparePending('clickhouse', migrations, await clickhouseApplied(store));
  for (const m of pending) {
    for (const statement of splitStatements(m.sql.replaceAll('{db}', quoteIdent(store.database)))) {
      await client.command({ query: ddl(statement) });
    }
    await client.insert({
      table: store.table('schema_migrations'),
      values: [{ version: m.version, name: m.name, checksum: m.checksum }],
      format: 'JSONEachRow',
    });
  }
  if (store.cluster !== undefined) await client.command({ query: distributedRawEvents(store.database, store.cluster) });
  return pending.map((m) => m.name);
}

async function clickhouseApplied(store: ClickHouseStore): Promise<{ version: number; checksum: string }[]> {
  const exists = await store.client.query({
    query: 'SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}',
    query_params: { db: store.database, t: 'schema_migrations' },
    format: 'JSONEachRow',
  });
  const [row] = await exists.json<{ n: string }>();
  if (row === undefined || row.n === '0') return [];
  const rs = await store.client.query({
    query: `SELECT version, checksum FROM ${store.table('schema_migrations')} FINAL`,
    format: 'JSONEachRow',
  });
  return rs.json<{ version: number; checksum: string }>();
}

/** Splits a migration into statements at semicolons that end a line; `--` comment lines are dropped. */
export function splitStatements(sql: string): string[] {
  const lines = sql.split('\n').filter((l) => !l.trim().startsWith('--'));
  return lines
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

// ---- both ------------------------------------------------------------------------------------

export interface MigrateTargets {
  postgres: PostgresStore;
  clickhouse: ClickHouseStore;
}

export async function migrateAll(stores: MigrateTargets): Promise<Record<Engine, string[]>> {
  const postgres = await migratePostgres(stores.postgres, loadMigrations(migrationsDir('postgres')));
  const clickhouse = await migrateClickHouse(stores.clickhouse, loadMigrations(migrationsDir('clickhouse')));
  return { postgres, clickhouse };
}

/** What `tally serve` checks before it takes traffic: every migration applied, none edited. */
export async function migrationStatus(stores: MigrateTargets): Promise<Record<Engine, MigrationStatus>> {
  const status = (engine: Engine, applied: { version: number; checksum: string }[]): MigrationStatus => {
    const all = loadMigrations(migrationsDir(engine));
    const pending = comparePending(engine, all, applied);
    return { applied: all.filter((m) => !pending.includes(m)).map((m) => m.name), pending: pending.map((m) => m.name) };
  };
  const chExists = await stores.clickhouse.client.query({
    query: 'SELECT count() AS n FROM system.databases WHERE name = {db:String}',
    query_params: { db: stores.clickhouse.database },
    format: 'JSONEachRow',
  });
  const [dbRow] = await chExists.json<{ n: string }>();
  const chApplied = dbRow?.n === '0' ? [] : await clickhouseApplied(stores.clickhouse);
  return {
    postgres: status('postgres', await postgresApplied(stores.postgres)),
    clickhouse: status('clickhouse', chApplied),
  };
}

function comparePending(
  engine: Engine,
  migrations: readonly Migration[],
  applied: readonly { version: number | string; checksum: string }[],
): Migration[] {
  const byVersion = new Map(applied.map((r) => [Number(r.version), r.checksum]));
  for (const m of migrations) {
    const sum = byVersion.get(m.version);
    if (sum !== undefined && sum !== m.checksum) {
      throw new MigrationError(`${engine} migration ${m.name} was changed after it was applied; add a new migration instead`);
    }
  }
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...byVersion.keys()].filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new MigrationError(`${engine} has migration ${unknown.map(pad).join(', ')} applied that this version of Tally does not know; run a newer Tally`);
  }
  return migrations.filter((m) => !byVersion.has(m.version));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function pad(n: number): string {
  return String(n).padStart(4, '0');
}
