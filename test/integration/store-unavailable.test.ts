import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../app/api.js';
import { createLogger } from '../../core/log.js';
import { createRegistry } from '../../core/metrics.js';
import { openPostgres, type PostgresStore } from '../../core/postgres.js';
import { storeUnavailable } from '../../core/store-errors.js';
import { freePort } from '../support/ports.js';
import { openTestStores, type TestStores } from '../support/stores.js';

/**
 * A store that cannot do the work right now (unreachable, out of disk or memory) is a 503 with
 * Retry-After, which clients and load balancers retry, not a 500 that reads as a defect. The
 * errors here are the engines' own: a pool pointed at a port nobody listens on, a SQLSTATE
 * raised by Postgres, a memory limit hit in ClickHouse.
 */
let stores: TestStores;
let dead: PostgresStore;

beforeAll(async () => {
  stores = await openTestStores();
  dead = await openPostgres({ url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, poolSize: 1, dataDir: stores.dataDir });
}, 120_000);
afterAll(async () => {
  await dead.close();
  await stores.cleanup();
});

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('which store errors mean "not now"', () => {
  it('an unreachable Postgres', async () => {
    expect(storeUnavailable(await caught(dead.query('SELECT 1')))).toBe('cannot be reached');
  });

  it.each([
    ['disk_full', 'is out of disk space'],
    ['out_of_memory', 'is out of memory'],
    ['too_many_connections', 'is overloaded'],
    ['admin_shutdown', 'is shutting down'],
    ['io_error', 'cannot read or write its files'],
  ])('Postgres raising %s', async (condition, reason) => {
    const e = await caught(stores.postgres.query(`DO $$ BEGIN RAISE EXCEPTION 'raised by the test' USING ERRCODE = '${condition}'; END $$`));
    expect(storeUnavailable(e)).toBe(reason);
  });

  it('ClickHouse over its memory limit', async () => {
    const e = await caught(stores.clickhouse.client.query({ query: 'SELECT groupArray(number) FROM numbers(10000000) SETTINGS max_memory_usage = 1000000', format: 'JSONEachRow' }).then((r) => r.json()));
    expect(storeUnavailable(e)).toBe('is out of memory');
  });

  it.each([
    ['a unique violation', "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'unique_violation'; END $$"],
    ['a syntax error', 'SELEC 1'],
    ['a division by zero', 'SELECT 1/0'],
  ])('not %s: that is a defect or a bad request, and stays one', async (_name, sql) => {
    expect(storeUnavailable(await caught(stores.postgres.query(sql)))).toBeUndefined();
  });

  it('not a ClickHouse syntax error', async () => {
    const e = await caught(stores.clickhouse.client.query({ query: 'SELEC 1', format: 'JSONEachRow' }).then((r) => r.json()));
    expect(storeUnavailable(e)).toBeUndefined();
  });
});

describe('a request that meets one', () => {
  it('is a 503 TALLY_ERR_STORE_UNAVAILABLE with Retry-After, naming no host', async () => {
    const server = createApi({ config: stores.config, stores: { ...stores, postgres: dead }, logger: createLogger(stores.config), registry: createRegistry(), adminKey: undefined });
    const port = await server.listen();
    try {
      // The API key is looked up in Postgres.
      const res = await fetch(`http://127.0.0.1:${port}/v1/tenant`, { headers: { authorization: `Bearer tly_0123456789abcdef_${'a'.repeat(43)}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('TALLY_ERR_STORE_UNAVAILABLE');
      expect(body.error.message).toMatch(/cannot be reached/);
      expect(body.error.message).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^tally_http_requests_total\{method="GET",route="\/v1\/tenant",status="503"\} 1$/m);
    } finally {
      await server.stop();
    }
  });
});
