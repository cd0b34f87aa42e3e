import type { Env } from '../../core/config.js';
import { createLogger } from '../../core/log.js';
import { createRegistry } from '../../core/metrics.js';
import { migrateAll } from '../../core/migrate.js';
import { apiRoutes, serveApi, type ApiDeps } from '../../app/api.js';
import type { HttpServer } from '../../http/server.js';
import type { Route } from '../../http/types.js';
import type { LogIo } from '../../ingest/log-io.js';
import { clickHouseSink, type SegmentSink } from '../../ingest/sink.js';
import type { Aggregator } from '../../metering/aggregator.js';
import { storesAggregator } from './aggregator.js';
import { openTestStores, type TestStores } from './stores.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface TestApi {
  url: string;
  server: HttpServer;
  stores: TestStores;
  /** Bearer header for the admin key. */
  admin: Record<string, string>;
  /** Creates a tenant through the API and returns its id and key. */
  tenant(name?: string): Promise<{ id: string; key: string; auth: Record<string, string> }>;
  /**
   * Ships every event acknowledged so far into ClickHouse (202 means on the node's disk; reads
   * see an event once it is shipped). Throws if that takes over 30 s.
   */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** The real API on real (fresh, migrated) stores, listening on a free loopback port. */
export async function startTestApi(
  opts: { env?: Env; adminKey?: string | null; extraRoutes?: Route[]; wrapSink?: (s: SegmentSink) => SegmentSink; logIo?: LogIo; clock?: () => number } = {},
): Promise<TestApi> {
  const stores = await openTestStores(opts.env);
  await migrateAll(stores);
  const adminKey = opts.adminKey === null ? undefined : (opts.adminKey ?? ADMIN_KEY);
  const deps: ApiDeps = {
    config: stores.config,
    stores,
    logger: createLogger(stores.config),
    registry: createRegistry(),
    adminKey,
    ...(opts.wrapSink ? { sink: opts.wrapSink(clickHouseSink(stores.clickhouse)) } : {}),
    ...(opts.logIo ? { logIo: opts.logIo } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  };
  // The API's routes, and the test's own beside them (served, not documented).
  const api = apiRoutes(deps);
  const server = serveApi(deps, api, [...api.routes, ...(opts.extraRoutes ?? [])]);
  const port = await server.listen();
  const url = `http://127.0.0.1:${port}`;
  const admin = { authorization: `Bearer ${adminKey ?? ''}`, 'content-type': 'application/json' };
  return {
    url,
    server,
    stores,
    admin,
    tenant: async (name = 'acme') => {
      const res = await fetch(`${url}/v1/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ name }) });
      if (res.status !== 201) throw new Error(`creating tenant: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { id: string; api_key: string };
      return { id: body.id, key: body.api_key, auth: { authorization: `Bearer ${body.api_key}`, 'content-type': 'application/json' } };
    },
    drain: async () => {
      if (!(await api.drainEventLog(30_000))) throw new Error('the event log did not ship within 30 s');
    },
    stop: async () => {
      await server.stop();
      await stores.cleanup();
    },
  };
}

/**
 * An aggregator on the test API's stores that counts everything accepted so far: each run
 * first ships what the API acknowledged.
 */
export function testAggregator(api: TestApi): Aggregator {
  const aggregator = storesAggregator(api.stores);
  const runOnce = aggregator.runOnce.bind(aggregator);
  aggregator.runOnce = async (...args) => {
    await api.drain();
    return runOnce(...args);
  };
  return aggregator;
}

/**
 * A JSON request to the test API with the given headers; the status and the parsed body
 * (typed loosely: tests look into it field by field).
 */
/** A request with a body sent as it is; the answer's body parsed as JSON when it is JSON, else its text. */
export async function textRequest(url: string, method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${url}${path}`, { method, ...init });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

export async function jsonRequest(url: string, headers: Record<string, string>, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as any };
}
