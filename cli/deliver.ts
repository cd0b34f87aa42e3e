import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Stores } from '../core/stores.js';
import { WebhookDispatcher } from '../notify/dispatcher.js';
import { notifyMetrics } from '../notify/metrics.js';
import { loopMetrics } from '../core/metrics.js';
import { startLoop } from './loop.js';

/** The outbound-webhook dispatcher wired from the config. */
export function createDispatcher(config: Config, stores: Stores, logger: Logger, registry: Registry): WebhookDispatcher {
  return new WebhookDispatcher({
    pg: stores.postgres,
    metrics: notifyMetrics(registry),
    logger: logger.child({ component: 'webhooks' }),
    owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    leaseSeconds: config.webhooks.leaseSeconds,
    timeoutMs: config.webhooks.timeoutMs,
    retentionMs: config.webhooks.retentionMs,
    allowPrivate: config.webhooks.allowPrivateUrls,
    itemFailures: loopMetrics(registry).itemFailures,
  });
}

/** The dispatcher loop of `tally deliver` and `tally start`. */
export function startDeliverLoop(dispatcher: WebhookDispatcher, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  return startLoop(
    'webhooks',
    async () => {
      const r = await dispatcher.runOnce();
      if (r.claimed > 0) logger.debug({ ...r }, 'webhook deliveries');
    },
    intervalMs,
    logger,
  );
}
