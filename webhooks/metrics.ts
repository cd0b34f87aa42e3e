import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Outbound webhook metrics (labels bounded: results and states, never a tenant or URL). */
export interface WebhookMetrics {
  attempts: Counter<'result'>;
  duration: Histogram;
  deliveries: Gauge<'state'>;
  oldestPending: Gauge;
}

export function webhookMetrics(registry: Registry): WebhookMetrics {
  return {
    attempts: new Counter({
      name: 'tally_webhook_delivery_attempts_total',
      help: 'Outbound webhook delivery attempts by result: delivered (2xx), retry (to be tried again), failed (given up).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    duration: new Histogram({ name: 'tally_webhook_delivery_duration_seconds', help: 'Time from sending an outbound webhook to its answer (or error).', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    deliveries: new Gauge({ name: 'tally_webhook_deliveries', help: 'Outbound webhook deliveries by state (pending, delivered, failed), as of the last refresh by the dispatcher (every few seconds while it runs).', labelNames: ['state'] as const, registers: [registry] }),
    oldestPending: new Gauge({ name: 'tally_webhook_oldest_pending_seconds', help: 'Age of the oldest pending outbound webhook delivery (0 when none), as of the last refresh by the dispatcher (every few seconds while it runs).', registers: [registry] }),
  };
}
