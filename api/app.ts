import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Stores } from '../core/stores.js';
import type { Logger } from '../core/log.js';
import { createAuthenticator } from '../core/auth.js';
import { httpMetrics } from '../core/metrics.js';
import { pgTenantRepository } from '../core/tenants.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import type { Route } from './http/types.js';
import { healthRoutes } from './routes/health.js';
import { tenantRoutes } from './routes/tenants.js';

export interface ApiDeps {
  config: Config;
  stores: Stores;
  logger: Logger;
  registry: Registry;
  adminKey: string | undefined;
  /** Extra routes (tests add fault or slow routes here). */
  extraRoutes?: readonly Route[];
}

/** Wires the HTTP API: the one place that knows which routes exist and what they depend on. */
export function createApi(deps: ApiDeps): HttpServer {
  const { config, stores } = deps;
  const tenants = pgTenantRepository(stores.postgres);
  const authenticator = createAuthenticator({ adminKey: deps.adminKey, tenants, cacheSeconds: config.auth.cacheSeconds });
  const timeout = config.http.healthTimeoutMs;
  const routes: Route[] = [
    ...healthRoutes({
      registry: deps.registry,
      checks: {
        clickhouse: () => stores.clickhouse.ping(timeout),
        postgres: () => stores.postgres.ping(timeout),
      },
      // Called per request, after `server` below exists.
      isShuttingDown: () => server.shuttingDown,
    }),
    ...tenantRoutes(tenants),
    ...(deps.extraRoutes ?? []),
  ];
  const server: HttpServer = createHttpServer({
    host: config.host,
    port: config.port,
    maxBodyBytes: config.http.maxBodyBytes,
    shutdownTimeoutMs: config.http.shutdownTimeoutMs,
    authenticator,
    adminEnabled: deps.adminKey !== undefined,
    metrics: httpMetrics(deps.registry),
    logger: deps.logger,
    routes,
  });
  return server;
}
