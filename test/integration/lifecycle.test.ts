import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { openClickHouse } from '../../core/clickhouse.js';
import { createApi } from '../../app/api.js';
import { createLogger } from '../../core/log.js';
import { createRegistry } from '../../core/metrics.js';
import { startTestApi } from '../support/api.js';
import { openTestStores } from '../support/stores.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A keep-alive connection on which requests can be sent one after another. */
function keepAlive(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let buffer = '';
  let waiter: (() => void) | undefined;
  socket.on('data', (d) => {
    buffer += d.toString();
    waiter?.();
  });
  return {
    async send(path: string): Promise<string> {
      buffer = '';
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise<void>((r) => (waiter = r));
      return buffer;
    },
    close: () => socket.destroy(),
  };
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

describe('graceful shutdown', () => {
  it('stops accepting, lets in-flight requests finish, and refuses new work on open connections', async () => {
    const gate = deferred();
    const api = await startTestApi({
      extraRoutes: [
        {
          method: 'POST',
          pattern: '/test/slow',
          access: 'public',
          handler: async () => {
            await gate.promise;
            return { status: 200, body: { finished: true } };
          },
        },
      ],
    });
    const port = Number(new URL(api.url).port);
    const idle = keepAlive(port);
    expect(await idle.send('/healthz')).toMatch(/^HTTP\/1.1 200/);

    const slow = fetch(`${api.url}/test/slow`, { method: 'POST', body: '{}' });
    await waitFor(() => api.server.inFlight === 1);

    let stopped = false;
    const stopping = api.server.stop().then(() => (stopped = true));
    await waitFor(() => api.server.shuttingDown);

    expect(await connects(port)).toBe(false);
    const refused = await idle.send('/healthz');
    expect(refused).toMatch(/^HTTP\/1.1 503/);
    expect(refused).toContain('TALLY_ERR_SHUTTING_DOWN');
    expect(stopped).toBe(false);

    gate.resolve();
    const res = await slow;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ finished: true });
    await stopping;
    expect(stopped).toBe(true);
    idle.close();
    await api.stores.cleanup();
  });

  it('gives up waiting after the shutdown timeout', async () => {
    const api = await startTestApi({
      env: { TALLY_SHUTDOWN_TIMEOUT_MS: '200' },
      extraRoutes: [{ method: 'POST', pattern: '/test/hang', access: 'public', handler: () => new Promise(() => undefined) }],
    });
    void fetch(`${api.url}/test/hang`, { method: 'POST', body: '{}' }).catch(() => undefined);
    await waitFor(() => api.server.inFlight === 1);
    const t0 = Date.now();
    await api.server.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(Date.now() - t0).toBeLessThan(5000);
    await api.stores.cleanup();
  });
});

describe('readiness', () => {
  it('/readyz is degraded naming ClickHouse when it cannot be reached (ingest still takes events into its log), while /healthz stays 200', async () => {
    const stores = await openTestStores({ TALLY_HEALTH_TIMEOUT_MS: '500' });
    // A real client pointed at a port where nothing listens.
    const deadClickHouse = await openClickHouse({ url: 'http://127.0.0.1:1', database: 'nowhere', dataDir: stores.dataDir });
    const server = createApi({
      config: stores.config,
      stores: { ...stores, clickhouse: deadClickHouse },
      logger: createLogger(stores.config),
      registry: createRegistry(),
      adminKey: undefined,
    });
    const port = await server.listen();
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('degraded');
    expect(body.checks.postgres).toBe('ok');
    expect(body.checks.eventlog).toBe('ok');
    expect(body.checks.clickhouse).toMatch(/^unreachable/);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await server.stop();
    await deadClickHouse.close();
    await stores.cleanup();
  });

  it("/readyz is degraded naming the disk while the data dir's disk has less free than TALLY_DISK_MIN_FREE_BYTES, and /metrics shows what is free", async () => {
    // 1 PiB, more than the disk can have free: the check fails here as it would on a full disk.
    const stores = await openTestStores({ TALLY_DISK_MIN_FREE_BYTES: String(2 ** 50) });
    const server = createApi({ config: stores.config, stores, logger: createLogger(stores.config), registry: createRegistry(), adminKey: undefined });
    const port = await server.listen();
    try {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { status: string; checks: Record<string, string> };
      expect(body).toMatchObject({ status: 'degraded', checks: { postgres: 'ok', eventlog: 'ok', clickhouse: 'ok' } });
      expect(body.checks.disk).toMatch(/^low: [\d.]+ MiB free on the data dir's disk, below TALLY_DISK_MIN_FREE_BYTES \(1073741824\.0 MiB\)$/);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
      expect(gauge('tally_data_dir_free_bytes')).toBeGreaterThan(0);
      expect(gauge('tally_data_dir_size_bytes')).toBeGreaterThanOrEqual(gauge('tally_data_dir_free_bytes'));
    } finally {
      await server.stop();
      await stores.cleanup();
    }
  });

  it('/readyz names the disk ok with room to spare', async () => {
    const stores = await openTestStores({ TALLY_DISK_MIN_FREE_BYTES: '1048576' });
    const server = createApi({ config: stores.config, stores, logger: createLogger(stores.config), registry: createRegistry(), adminKey: undefined });
    const port = await server.listen();
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()).toMatchObject({ status: 'ready', checks: { disk: 'ok' } });
    } finally {
      await server.stop();
      await stores.cleanup();
    }
  });

  it('/metrics still answers while Postgres cannot be reached, and /readyz names it', async () => {
    const stores = await openTestStores({ TALLY_HEALTH_TIMEOUT_MS: '500' });
    const refused = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    const deadPostgres = Object.assign(Object.create(stores.postgres) as typeof stores.postgres, { query: refused, ping: refused });
    const server = createApi({ config: stores.config, stores: { ...stores, postgres: deadPostgres }, logger: createLogger(stores.config), registry: createRegistry(), adminKey: undefined });
    const port = await server.listen();
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^process_resident_memory_bytes /m);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.postgres).toMatch(/^unreachable/);
    await server.stop();
    await stores.cleanup();
  });
});

describe('admin key not configured', () => {
  it('admin routes answer 403 TALLY_ERR_ADMIN_DISABLED', async () => {
    const api = await startTestApi({ adminKey: null });
    const res = await fetch(`${api.url}/v1/tenants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('TALLY_ERR_ADMIN_DISABLED');
    await api.stop();
  });
});
