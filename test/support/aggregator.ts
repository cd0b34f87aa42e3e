import { createLogger } from '../../core/log.js';
import { createRegistry } from '../../core/metrics.js';
import { Aggregator, aggregatorMetrics, type AggregatorOptions } from '../../metering/aggregator.js';
import { pgMeterRepository, type MeterRepository } from '../../metering/meters.js';
import type { TestStores } from './stores.js';

/**
 * An aggregator on a test's stores, as the tests run it: every run looks two minutes back,
 * waits for nothing to settle, and holds a short lease.
 */
export function storesAggregator(
  stores: Pick<TestStores, 'clickhouse' | 'postgres' | 'config'>,
  meters?: MeterRepository,
  options: Pick<AggregatorOptions, 'queryMemory' | 'clock'> = {},
): Aggregator {
  return new Aggregator({
    ch: stores.clickhouse,
    pg: stores.postgres,
    meters: meters ?? pgMeterRepository(stores.postgres),
    logger: createLogger(stores.config),
    metrics: aggregatorMetrics(createRegistry()),
    overlapMs: 120_000,
    settleMs: 0,
    leaseSeconds: 5,
    ...options,
  });
}
