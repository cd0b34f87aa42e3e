import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { openPostgres } from '../../core/postgres.js';
import { aggregatorLagGauge } from '../../metering/aggregator-state.js';
import { freePort } from '../support/ports.js';

/**
 * The aggregator's lag while Postgres cannot be reached from the start (a real client, a port
 * nothing listens on): unknown (NaN), never a lag of 0 that reads as healthy.
 */
describe('the aggregator lag with Postgres unreachable', () => {
  it('is NaN until a watermark has been read', async () => {
    const port = await freePort();
    const pg = await openPostgres({ url: `postgres://nobody@127.0.0.1:${port}/none`, poolSize: 1, dataDir: '/nonexistent' });
    try {
      const registry = createRegistry();
      aggregatorLagGauge(registry, pg);
      const text = await registry.getSingleMetricAsString('tally_aggregator_lag_seconds');
      // prom-client writes it "Nan"; Prometheus reads NaN in any case.
      expect(text).toMatch(/^tally_aggregator_lag_seconds nan$/im);
    } finally {
      await pg.close();
    }
  });
});
