import path from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { withTimeout } from './clickhouse.js';
import { packageRoot } from './paths.js';

const execFileAsync = promisify(execFile);
const INITDB = "const { PGlite } = await import('@electric-sql/pglite'); await (await PGlite.create(process.argv[1])).close();";

/**
 * Postgres behind one small interface. With a URL it is a server; without, PGlite runs the
 * engine in-process under the data dir and `pglite-socket` serves the wire protocol on
 * loopback, so the same `pg` code runs against both.
 *
 * PGlite is a single session: its pool has one connection, so code must run every statement
 * of a transaction on the client `transaction()` hands it, never on the pool.
 */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: readonly unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PostgresStore extends Queryable {
  readonly kind: 'server' | 'embedded';
  /** Runs `fn` in a transaction on one connection; commits if it resolves, rolls back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: string | undefined;
  poolSize: number;
  dataDir: string;
  /** shared_buffers of the embedded engine (Postgres' 128MB default costs ~100 MB of RSS). */
  embeddedSharedBuffers?: string;
}

// NUMERIC stays a string (pg's default); BIGINT (int8) too. Dates come back as JS Dates only
// for timestamptz, which is what Tally stores.

export async function openPostgres(opts: PostgresOptions): Promise<PostgresStore> {
  if (opts.url !== undefined) {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize, idleTimeoutMillis: 30_000 });
    // Sessions in UTC, as the embedded Postgres runs, whatever the server's or database's
    // default: date arithmetic in SQL (a timestamp plus days) then means the same everywhere.
    // Set on each new connection (a startup `options` would be replaced by one in DATABASE_URL,
    // and older PgBouncers refuse it); pg runs it before the connection's first query.
    pool.on('connect', (client) => {
      client.query("SET TIME ZONE 'UTC'").catch(() => undefined);
    });
    return wrapPool(pool, 'server', async () => {
      await pool.end();
    });
  }
  const dir = path.join(opts.dataDir, 'postgres');
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    // initdb grows the WASM heap to ~750 MB, which this process would keep; a reopened
    // database needs about a third of that. So initdb runs once in a short-lived child.
    await execFileAsync(process.execPath, ['--input-type=module', '-e', INITDB, dir], { cwd: packageRoot() });
  }
  const db: PGlite = await PGlite.create(dir, { postgresqlconf: [`shared_buffers=${opts.embeddedSharedBuffers ?? '32MB'}`] });
  const server: PGLiteSocketServer = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 4 });
  await server.start();
  const [host, port] = splitHostPort(server.getServerConn());
  const pool = new pg.Pool({ host, port, user: 'postgres', database: 'postgres', max: 1, idleTimeoutMillis: 0 });
  return wrapPool(pool, 'embedded', async () => {
    await pool.end();
    await server.stop();
    await db.close();
  });
}

function wrapPool(pool: pg.Pool, kind: PostgresStore['kind'], close: () => Promise<void>): PostgresStore {
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  let closed = false;
  return {
    kind,
    query: (text, params) => pool.query(text, params as unknown[] | undefined),
    transaction: async (fn) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    ping: async (timeoutMs = 2_000) => {
      await withTimeout(pool.query('SELECT 1'), timeoutMs, 'Postgres ping');
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await close();
    },
  };
}

function splitHostPort(conn: string): [string, number] {
  const i = conn.lastIndexOf(':');
  return [conn.slice(0, i), Number(conn.slice(i + 1))];
}
