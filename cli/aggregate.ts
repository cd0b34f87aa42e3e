import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Stores } from '../core/stores.js';
import { Aggregator, aggregatorMetrics, type Progress } from '../metering/aggregator.js';
import { pgMeterRepository } from '../metering/meters.js';
import { createHttpServer, type HttpServer } from '../http/server.js';
import { healthRoutes } from '../api/routes/health.js';
import { createAuthenticator } from '../core/auth.js';
import { httpMetrics, loopMetrics } from '../core/metrics.js';
import { pgTenantRepository } from '../core/tenants.js';
import { startLoop } from './loop.js';

export function createAggregator(config: Config, stores: Stores, logger: Logger, registry: Registry): Aggregator {
  return new Aggregator({
    ch: stores.clickhouse,
    pg: stores.postgres,
    meters: pgMeterRepository(stores.postgres),
    logger: logger.child({ component: 'aggregator' }),
    metrics: aggregatorMetrics(registry),
    overlapMs: config.aggregator.overlapMs,
    settleMs: config.aggregator.settleMs,
    leaseSeconds: config.aggregator.leaseSeconds,
    itemFailures: loopMetrics(registry).itemFailures,
  });
}

/** The aggregator loop of `tally aggregate` and `tally start`. */
export function startAggregatorLoop(aggregator: Aggregator, intervalMs: number, logger: Logger, progress?: Progress): { stop(): Promise<void> } {
  return startLoop(
    'aggregator',
    async () => {
      const r = await aggregator.runOnce(progress);
      if (r.ran && r.hoursRecomputed > 0) logger.debug({ hours: r.hoursRecomputed, watermark: r.watermark }, 'aggregated');
    },
    intervalMs,
    logger,
  );
}

/**
 * The HTTP face of a standalone worker (`tally aggregate`, `tally sync`): /healthz, /readyz
 * (both stores) and /metrics (whatever the worker registered), so it can be probed and
 * scraped like a serve node.
 */
export function workerHttp(config: Config, stores: Stores, logger: Logger, registry: Registry): HttpServer {
  const timeout = config.http.healthTimeoutMs;
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
      isShuttingDown: () => server.shuttingDown,
    }),
  });
  return server;
}
