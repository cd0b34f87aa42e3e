import type { Registry } from 'prom-client';
import { isEmbedded, type Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Stores } from '../core/stores.js';
import { createAuthenticator } from '../core/auth.js';
import { clickhouseMemoryGauges } from '../core/clickhouse-memory.js';
import { diskSpaceCheck, diskSpaceGauges } from '../core/disk-space.js';
import { httpMetrics } from '../core/metrics.js';
import { pgTenantRepository } from '../core/tenants.js';
import { healthRoutes } from '../http/health.js';
import { createHttpServer, type HttpServer } from '../http/server.js';

/**
 * The HTTP face of a standalone worker (`tally aggregate`, `tally sync`): /healthz, /readyz
 * (both stores) and /metrics (whatever the worker registered), so it can be probed and
 * scraped like a serve node.
 */
function workerHttp(config: Config, stores: Stores, logger: Logger, registry: Registry): HttpServer {
  const timeout = config.http.healthTimeoutMs;
  clickhouseMemoryGauges(registry, stores.clickhouse);
  // On server stores a worker keeps nothing in its data dir: its disk would be the wrong one to watch.
  const embedded = isEmbedded(config);
  if (embedded) diskSpaceGauges(registry, config.dataDir);
  const server: HttpServer = createHttpServer({
    host: config.host,
    port: config.port,
    maxBodyBytes: config.http.maxBodyBytes,
    shutdownTimeoutMs: config.http.shutdownTimeoutMs,
    // Only public routes are served; the authenticator is never asked.
    authenticator: createAuthenticator({ adminKey: undefined, tenants: pgTenantRepository(stores.postgres), cacheSeconds: 0 }),
    adminEnabled: false,
    metrics: httpMetrics(registry),
    logger,
    routes: healthRoutes({
      registry,
      checks: { clickhouse: () => stores.clickhouse.ping(timeout), postgres: () => stores.postgres.ping(timeout) },
      degradedBy: embedded ? { disk: diskSpaceCheck(config.dataDir, config.diskMinFreeBytes, timeout) } : {},
      isShuttingDown: () => server.shuttingDown,
    }),
  });
  return server;
}

export interface RunningWorker {
  port: number;
  /** Stops taking probes, then lets the loop finish its run in progress. */
  stop(): Promise<void>;
}

/**
 * A standalone worker process (`tally aggregate`, `rate --loop`, `sync`, `deliver`): its HTTP
 * face listening first, then its loop.
 */
export async function startWorker(
  config: Config,
  stores: Stores,
  logger: Logger,
  registry: Registry,
  startLoop: () => { stop(): Promise<void> },
): Promise<RunningWorker> {
  const http = workerHttp(config, stores, logger, registry);
  const port = await http.listen();
  const loop = startLoop();
  return {
    port,
    stop: async () => {
      await http.stop();
      await loop.stop();
    },
  };
}
