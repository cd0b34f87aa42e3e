import net from 'node:net';
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
/** Postgres behind a socket that takes each connection and drops it. */
let dropping: PostgresStore;
let dropper: net.Server;

beforeAll(async () => {
  stores = await openTestStores();
  dead = await openPostgres({ url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, poolSize: 1, dataDir: stores.dataDir });
  dropper = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
  dropping = await openPostgres({ url: `postgres://postgres@127.0.0.1:${(dropper.address() as net.AddressInfo).port}/postgres`, poolSize: 1, dataDir: stores.dataDir });
}, 120_000);
afterAll(async () => {
  await dead.close();
  await dropping.close();
  dropper.close();
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
  it('an unreachable Postgres: nothing was sent', async () => {
    expect(storeUnavailable(await caught(dead.query('SELECT 1')))).toEqual({ trouble: 'unreachable', midway: false });
  });

  it('a Postgres whose connection drops: the statement may have been done', async () => {
    expect(storeUnavailable(await caught(dropping.query('SELECT 1')))).toEqual({ trouble: 'unreachable', midway: true });
  });

  it.each([
    ['disk_full', 'disk_full', false],
    ['out_of_memory', 'out_of_memory', false],
    ['too_many_connections', 'overloaded', false],
    ['cannot_connect_now', 'shutting_down', false],
    ['admin_shutdown', 'shutting_down', true],
    ['io_error', 'io_error', true],
  ] as const)('Postgres raising %s', async (condition, trouble, midway) => {
    const e = await caught(stores.postgres.query(`DO $$ BEGIN RAISE EXCEPTION 'raised by the test' USING ERRCODE = '${condition}'; END $$`));
    expect(storeUnavailable(e)).toEqual({ trouble, midway });
  });

  it.each([
    ['a unique violation', "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'unique_violation'; END $$"],
    ['a statement timeout', "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'query_canceled'; END $$"],
    ['a configuration limit', "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'configuration_limit_exceeded'; END $$"],
    ['a syntax error', 'SELEC 1'],
    ['a division by zero', 'SELECT 1/0'],
  ])('not %s: that is a defect or the request, and stays one', async (_name, sql) => {
    expect(storeUnavailable(await caught(stores.postgres.query(sql)))).toBeUndefined();
  });

  it('not a statement sent with the wrong number of parameters (08P01, in the connection class)', async () => {
    const e = await caught(stores.postgres.query('SELECT $1::int + $2::int', [1]));
    expect((e as { code?: string }).code).toBe('08P01');
    expect(storeUnavailable(e)).toBeUndefined();
  });

  it('not a ClickHouse query over its own memory limit: it fails the same way every time', async () => {
    const e = await caught(stores.clickhouse.client.query({ query: 'SELECT groupArray(number) FROM numbers(10000000) SETTINGS max_memory_usage = 1000000', format: 'JSONEachRow' }).then((r) => r.json()));
    expect((e as { type?: string }).type).toBe('MEMORY_LIMIT_EXCEEDED');
    expect(storeUnavailable(e)).toBeUndefined();
  });

  it('not a ClickHouse syntax error', async () => {
    const e = await caught(stores.clickhouse.client.query({ query: 'SELEC 1', format: 'JSONEachRow' }).then((r) => r.json()));
    expect(storeUnavailable(e)).toBeUndefined();
  });
});

describe('a request that meets one', () => {
  const key = `Bearer tly_0123456789abcdef_${'a'.repeat(43)}`;
  async function withServer(postgres: PostgresStore, fn: (url: string) => Promise<void>) {
    const server = createApi({ config: stores.config, stores: { ...stores, postgres }, logger: createLogger(stores.config), registry: createRegistry(), adminKey: undefined });
    const port = await server.listen();
    try {
      await fn(`http://127.0.0.1:${port}`);
    } finally {
      await server.stop();
    }
  }

  it('is a 503 TALLY_ERR_STORE_UNAVAILABLE with Retry-After, naming no host, and counted', async () => {
    await withServer(dead, async (url) => {
      // The API key is looked up in Postgres.
      for (const method of ['GET', 'POST']) {
        const res = await fetch(`${url}/v1/customers`, { method, headers: { authorization: key, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
        expect(res.status, method).toBe(503);
        expect(res.headers.get('retry-after')).toBe('5');
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('TALLY_ERR_STORE_UNAVAILABLE');
        expect(body.error.message).toBe('a store cannot be reached; retry shortly');
      }
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^tally_http_store_unavailable_total\{trouble="unreachable"\} 2$/m);
      expect(metrics).toMatch(/^tally_http_store_unavailable_total\{trouble="disk_full"\} 0$/m);
      expect(metrics).toMatch(/^tally_http_requests_total\{method="GET",route="\/v1\/customers",status="503"\} 1$/m);
    });
  });

  it('a connection lost mid-way: a read is a 503, a write stays a 500 (it may have been done; retrying could do it twice)', async () => {
    await withServer(dropping, async (url) => {
      const read = await fetch(`${url}/v1/customers`, { headers: { authorization: key } });
      expect(read.status).toBe(503);
      const write = await fetch(`${url}/v1/customers`, { method: 'POST', headers: { authorization: key, 'content-type': 'application/json' }, body: '{}' });
      expect(write.status).toBe(500);
      expect(((await write.json()) as { error: { code: string } }).error.code).toBe('TALLY_ERR_INTERNAL');
      expect(write.headers.get('retry-after')).toBeNull();
    });
  });
});
