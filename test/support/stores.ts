import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type Config, type Env } from '../../core/config.js';
import { openClickHouse, quoteIdent, type ClickHouseStore } from '../../core/clickhouse.js';
import { openPostgres, type PostgresStore } from '../../core/postgres.js';
import { randomToken } from '../../core/ids.js';
import type { Stores } from '../../core/stores.js';
import { pgliteTemplateDir } from './global-setup.js';

/**
 * Real stores for tests, each call fully isolated:
 * - ClickHouse: a new database on the server at CLICKHOUSE_URL, or in this process's chDB
 *   (chDB is one engine per process, so every test file shares one chDB path and gets its own
 *   databases inside it);
 * - Postgres: a new database on the server at DATABASE_URL, or a new PGlite copied from the
 *   template made by global-setup.
 */
const chdbDir = path.join(os.tmpdir(), `tally-test-chdb-${process.pid}`);
process.on('exit', () => rmSync(chdbDir, { recursive: true, force: true }));

export interface TestStores extends Stores {
  /** Config matching these stores (data dir, URLs, database names). */
  config: Config;
  /** A Postgres URL for processes spawned by the test, when a server is in use. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Closes the stores (if still open) and drops everything the test created. */
  cleanup(): Promise<void>;
}

export async function freshDatabaseUrl(serverUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tally_t_${randomToken(12)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A data dir whose embedded Postgres is already initialised (copied from the template). */
export function preparedDataDir(): string {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tally-test-'));
  cpSync(pgliteTemplateDir(), path.join(dataDir, 'postgres'), { recursive: true });
  return dataDir;
}

export async function openTestStores(env: Env = {}): Promise<TestStores> {
  const dataDir = preparedDataDir();
  const serverPg = process.env.DATABASE_URL;
  const fresh = serverPg === undefined || serverPg === '' ? undefined : await freshDatabaseUrl(serverPg);
  const database = `t_${randomToken(10)}`;
  const config = loadConfig({
    TALLY_DATA_DIR: dataDir,
    CLICKHOUSE_URL: process.env.CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    DATABASE_URL: fresh?.url,
    LOG_LEVEL: 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    ...env,
  });
  const clickhouse: ClickHouseStore = await openClickHouse({
    url: config.clickhouse.url,
    database,
    // chDB's path is per process, not per test (see above).
    dataDir: config.clickhouse.url === undefined ? chdbDir : dataDir,
  });
  const postgres: PostgresStore = await openPostgres({ url: config.postgres.url, poolSize: 4, dataDir });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await postgres.close();
    await clickhouse.close();
  };
  return {
    clickhouse,
    postgres,
    config,
    databaseUrl: fresh?.url,
    dataDir,
    close,
    cleanup: async () => {
      if (!closed) {
        await clickhouse.client.command({ query: `DROP DATABASE IF EXISTS ${quoteIdent(database)}` }).catch(() => undefined);
      }
      await close();
      await fresh?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
