import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import { createLogger, type Logger } from '../core/log.js';
import { loopMetrics } from '../core/metrics.js';
import type { Stores } from '../core/stores.js';
import { pgMeterRepository } from '../metering/meters.js';
import { readWatermark } from '../metering/aggregator-state.js';
import type { Progress } from '../core/progress.js';
import { clickhouseUsageQuerier } from '../metering/usage-querier.js';
import { Billing } from '../invoicing/billing.js';
import { raterMetrics, type RaterMetrics } from '../invoicing/metrics.js';
import { createRatingPool, type RatingPool } from '../rating/pool.js';
import { Rater } from '../invoicing/rating-runs.js';
import { FIRING_RETENTION_MS, fireAlerts, pruneFirings } from '../alerts/evaluate.js';
import { alertMetrics } from '../alerts/metrics.js';
import { fireBalanceAlerts, pruneBalanceFirings } from '../alerts/balance.js';
import { pruneEntitlementFirings } from '../alerts/entitlement-events.js';
import { customerBalance } from '../invoicing/balance.js';
import { CreditService } from '../catalog/credits.js';
import { enqueue } from '../stripe/outbox.js';
import { closeEvents } from '../webhooks/payloads.js';
import type { CloseHook } from '../invoicing/close-hooks.js';
import { mailHooks } from './mail.js';

/**
 * The rater, billing and their worker pool, wired from the config (one pool for both), with the
 * side effects that follow them registered here rather than imported by the billing core:
 * usage and balance alerts after each rated batch, the Stripe outbox, outbound events and customer email after a close.
 */
export interface RatingStack {
  rater: Rater;
  billing: Billing;
  metrics: RaterMetrics;
  pool: RatingPool;
  /** Deletes the usage- and balance-alert firings of long-ended periods (see pruneFirings). */
  pruneAlerts(now: number): Promise<number>;
}

/**
 * The intent to put each invoice in Stripe commits with it (stripe/outbox.ts). Plans
 * billed through Stripe Billing Meters are invoiced by Stripe; their usage is pushed hourly instead.
 */
const stripeOutbox: CloseHook = (tx, closed) =>
  // A draft under review waits (held) until it is approved.
  enqueue(tx, closed.filter((c) => c.plan.billing_mode === 'invoice').map((c) => ({ tenantId: c.sub.tenantId, kind: 'invoice' as const, ref: c.id, held: c.draft })));

export function createRatingStack(
  config: Config,
  stores: Stores,
  registry: Registry,
  given?: RatingPool,
  logger: Logger = createLogger(config).child({ component: 'rater' }),
): RatingStack {
  const pool =
    given ??
    createRatingPool({
      ...(config.rater.threads > 0 ? { threads: config.rater.threads } : {}),
      onWorkerError: (err) => logger.error({ err }, 'a rating worker died: the tasks it held failed, and the pool starts another'),
    });
  const meters = pgMeterRepository(stores.postgres);
  const usage = clickhouseUsageQuerier(stores.clickhouse);
  const metrics = raterMetrics(registry);
  const alerts = alertMetrics(registry);
  // Every process that rates or closes (serve included, for upcoming invoices) exports the per-loop failure counter.
  const { itemFailures } = loopMetrics(registry);
  const billing = new Billing({
    ch: stores.clickhouse,
    usage,
    pg: stores.postgres,
    pool,
    meters,
    closeGraceMs: config.rater.closeGraceMs,
    review: config.rater.invoiceReview,
    watermark: () => readWatermark(stores.postgres),
    // Email after the Stripe outbox: the row that hook writes says whether Stripe collects the invoice.
    afterClose: [stripeOutbox, closeEvents({ stripeSync: config.stripe.secretKey !== undefined }), ...mailHooks(config, registry, logger).close],
    logger,
    itemFailures,
  });
  const credits = new CreditService(stores.postgres);
  const balanceOf = (tenantId: string, customerId: string, now: Date) => customerBalance({ pg: stores.postgres, credits, upcoming: (t, ids, at) => billing.upcomingMany(t, ids, at) }, tenantId, customerId, now);
  return {
    rater: new Rater({
      ch: stores.clickhouse,
      usage,
      pg: stores.postgres,
      pool,
      meters,
      metrics,
      logger,
      itemFailures,
      onRated: async (ratings) => {
        await fireAlerts(stores.postgres, ratings, Date.now(), alerts.fired, { logger, itemFailures });
        await fireBalanceAlerts({ pg: stores.postgres, balance: balanceOf, logger, itemFailures }, ratings, Date.now());
      },
    }),
    billing,
    metrics,
    pool,
    pruneAlerts: async (now) =>
      (await pruneFirings(stores.postgres, now)) + (await pruneBalanceFirings(stores.postgres, now, FIRING_RETENTION_MS)) + (await pruneEntitlementFirings(stores.postgres, now, FIRING_RETENTION_MS)),
  };
}

/** Closes every ended period as of now, with its metrics. */
export async function closeNow(stack: RatingStack, asOf: Date, progress?: Progress) {
  const started = process.hrtime.bigint();
  const report = await stack.billing.close(asOf, progress);
  stack.metrics.invoices.inc(report.invoices);
  stack.metrics.adjustments.inc(report.adjustments);
  stack.metrics.closeWaiting.inc(report.waiting);
  stack.metrics.closeDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  return report;
}

