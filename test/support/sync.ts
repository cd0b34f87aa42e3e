import type { Counter } from 'prom-client';
import { createLogger } from '../../core/log.js';
import { createRegistry } from '../../core/metrics.js';
import { stripeGateway } from '../../stripe/gateway.js';
import { syncMetrics } from '../../stripe/metrics.js';
import { WriteLimiter } from '../../stripe/rate-limit.js';
import { BillingSync } from '../../stripe/sync.js';
import type { TestApi } from './api.js';

/**
 * A billing-sync worker on the test API's stores against a Stripe-compatible server: no write
 * limit to speak of, retries due at once (tests drive the runs) and in place without a pause,
 * many attempts allowed.
 */
export function testSync(
  api: TestApi,
  stripeUrl: string,
  o: { timeoutMs?: number; backoffMs?: number | ((stalled: number) => number); maxAttempts?: number; meters?: boolean; itemFailures?: Counter<'loop'> } = {},
): BillingSync {
  const backoff = o.backoffMs;
  return new BillingSync({
    pg: api.stores.postgres,
    ...(o.meters === true ? { ch: api.stores.clickhouse } : {}),
    gateway: stripeGateway({ secretKey: 'sk_test_tally', apiBase: stripeUrl, timeoutMs: o.timeoutMs ?? 2_000 }),
    limiter: new WriteLimiter(10_000),
    metrics: syncMetrics(createRegistry()),
    logger: createLogger(api.stores.config),
    leaseSeconds: 30,
    maxAttempts: o.maxAttempts ?? 1_000,
    backoff: typeof backoff === 'function' ? backoff : () => backoff ?? 0,
    retryPause: () => 0,
    ...(o.itemFailures !== undefined ? { itemFailures: o.itemFailures } : {}),
  });
}
