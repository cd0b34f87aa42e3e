import { Histogram, type Registry } from 'prom-client';
import type { Logger } from '../core/log.js';
import { loopMetrics } from '../core/metrics.js';
import type { PostgresStore } from '../core/postgres.js';
import { recordEntitlementEvents } from '../alerts/entitlement-events.js';
import { EntitlementService, type EntitlementDeps } from '../entitlements/service.js';
import { startLoop } from './loop.js';

/** How often the tenants with a live subscription to a plan with metered features are looked up (they are refreshed for their window events even when not checked). */
const DISCOVER_MS = 30_000;
/** The refresh loop's tick: each tick refreshes the tenants that are due. */
const TICK_MS = 100;

/**
 * Entitlement checks of a serving node, wired: the service, its refresh loop (every checked
 * tenant every TALLY_ENTITLEMENT_CACHE_MS, every tenant with metered features every 30 s for
 * its window events), the events recorded once each, and the metrics.
 */
export function entitlementChecks(
  deps: Omit<EntitlementDeps, 'onWindowEvents' | 'onRefreshFailed' | 'onEventsFailed' | 'onRefreshed'> & { pg: PostgresStore; registry: Registry; logger: Logger },
): { service: EntitlementService; stop(): Promise<void> } {
  const { pg, registry, logger, ...rest } = deps;
  const { itemFailures } = loopMetrics(registry);
  const duration =
    (registry.getSingleMetric('tally_entitlement_refresh_duration_seconds') as Histogram | undefined) ??
    new Histogram({
      name: 'tally_entitlement_refresh_duration_seconds',
      help: "Time to read one tenant's entitlement usage (and, every fifth time, its subscriptions, overrides and grants) into a serving node's memory.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  const service = new EntitlementService({
    ...rest,
    onWindowEvents: async (tenantId, events) => {
      await recordEntitlementEvents(pg, tenantId, events);
    },
    onRefreshFailed: (tenantId, error) => {
      itemFailures.inc({ loop: 'entitlements' });
      logger.warn({ err: error, tenant: tenantId }, 'entitlements: reading a tenant failed; its answers keep the previous figures');
    },
    onEventsFailed: (tenantId, error) => {
      itemFailures.inc({ loop: 'entitlements' });
      logger.warn({ err: error, tenant: tenantId }, 'entitlements: recording window events failed; tried again at the next read');
    },
    onRefreshed: (seconds) => duration.observe(seconds),
  });
  let watched = new Set<string>();
  let discoveredAt = -Infinity;
  const loop = startLoop(
    'entitlements',
    async () => {
      if (performance.now() - discoveredAt >= DISCOVER_MS) {
        watched = new Set(await rest.store.tenantsWithMeteredFeatures());
        discoveredAt = performance.now();
      }
      await service.refreshDue(watched);
    },
    TICK_MS,
    logger,
  );
  return { service, stop: () => loop.stop() };
}
