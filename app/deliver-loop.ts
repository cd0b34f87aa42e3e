import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Stores } from '../core/stores.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { webhookMetrics } from '../webhooks/metrics.js';
import { loopMetrics } from '../core/metrics.js';
import { startLoop } from './loop.js';

/** The outbound-webhook dispatcher wired from the config. */
export function createDispatcher(config: Config, stores: Stores, logger: Logger, registry: Registry): WebhookDispatcher {
  return new WebhookDispatcher({
    pg: stores.postgres,
    metrics: webhookMetrics(registry),
    logger: logger.child({ component: 'webhooks' }),
    owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    leaseSeconds: config.webhooks.leaseSeconds,
    timeoutMs: config.webhooks.timeoutMs,
    retentionMs: config.webhooks.retentionMs,
    allowPrivate: config.webhooks.allowPrivateUrls,
    itemFailures: loopMetrics(registry).itemFailures,
  });
}

/**
 * The dispatcher loop of `tally deliver` and `tally start`. A run goes on while deliveries keep
 * falling due, so stopping aborts it: it claims no more and ends once its sends are finished.
 */
export function startDeliverLoop(dispatcher: WebhookDispatcher, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const loop = startLoop(
    'webhooks',
    async () => {
      const r = await dispatcher.runOnce(undefined, { signal: stopping.signal });
      if (r.claimed > 0) logger.debug({ ...r }, 'webhook deliveries');
    },
    intervalMs,
    logger,
  );
  return {
    stop: async () => {
      stopping.abort();
      await loop.stop();
    },
  };
}
