import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Stores } from '../core/stores.js';
import { Aggregator, aggregatorMetrics } from '../metering/aggregator.js';
import type { Progress } from '../core/progress.js';
import { pgMeterRepository } from '../metering/meters.js';
import { loopMetrics } from '../core/metrics.js';
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
    queryMemory: config.aggregator.queryMemory,
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
