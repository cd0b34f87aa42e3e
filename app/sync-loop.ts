import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Stores } from '../core/stores.js';
import { stripeGateway } from '../stripe/gateway.js';
import { syncMetrics, type SyncMetrics } from '../stripe/metrics.js';
import { WriteLimiter } from '../stripe/rate-limit.js';
import { BillingSync } from '../stripe/sync.js';
import { sweepDunning, type SweepDeps } from '../stripe/dunning.js';
import type { DunningPolicy } from '../catalog/subscriptions.js';
import { loopMetrics } from '../core/metrics.js';
import { startLoop } from './loop.js';

export class StripeNotConfiguredError extends Error {
  constructor() {
    super('STRIPE_SECRET_KEY is not set: billing sync has nothing to write to (set STRIPE_API_BASE too for a Stripe-compatible server)');
    this.name = 'StripeNotConfiguredError';
  }
}

/** Billing sync wired from the config. */
export function createSync(config: Config, stores: Stores, logger: Logger, registry: Registry, metrics: SyncMetrics = syncMetrics(registry)): BillingSync {
  const secretKey = config.stripe.secretKey;
  if (secretKey === undefined) throw new StripeNotConfiguredError();
  return new BillingSync({
    pg: stores.postgres,
    ch: stores.clickhouse,
    gateway: stripeGateway({ secretKey, apiBase: config.stripe.apiBase, timeoutMs: config.sync.timeoutMs, observe: (endpoint, result) => metrics.requests.inc({ endpoint, result }) }),
    limiter: new WriteLimiter(config.sync.writesPerSecond),
    metrics,
    logger: logger.child({ component: 'billing-sync' }),
    leaseSeconds: config.sync.leaseSeconds,
    maxAttempts: config.sync.maxAttempts,
    itemFailures: loopMetrics(registry).itemFailures,
  });
}

/** The sync loop of `tally sync` and `tally start`: billing sync, then the dunning sweep. */
export function startSyncLoop(sync: BillingSync, intervalMs: number, logger: Logger, dunning?: SweepDeps): { stop(): Promise<void> } {
  return startLoop(
    'billing sync',
    async () => {
      const r = await sync.runOnce();
      if (r.claimed > 0) logger.debug({ ...r }, 'billing sync run');
      if (dunning !== undefined) {
        const d = await sweepDunning(dunning, new Date());
        if (d.changed > 0 || d.failed > 0) logger.info({ ...d }, 'dunning sweep');
      }
    },
    intervalMs,
    logger,
  );
}

/** The dunning sweep wired from the config. */
export function dunningSweepOf(config: Config, stores: Stores, logger: Logger, registry: Registry): SweepDeps {
  return { pg: stores.postgres, policy: dunningPolicyOf(config), logger: logger.child({ component: 'dunning' }), itemFailures: loopMetrics(registry).itemFailures };
}

/** The dunning stages from the config (TALLY_DUNNING_*). */
export function dunningPolicyOf(config: Config): DunningPolicy {
  return { graceMs: config.sync.dunningGraceMs, suspendAfterMs: config.sync.suspendAfterMs, cancelAfterMs: config.sync.cancelAfterMs };
}
