import { Counter, Gauge, type Registry } from 'prom-client';

/** Billing-sync metrics (bounded labels: states, kinds, endpoints, outcomes, event types). */
export interface SyncMetrics {
  outboxRows: Gauge<'state'>;
  lag: Gauge;
  rows: Counter<'kind' | 'outcome'>;
  requests: Counter<'endpoint' | 'result'>;
  webhooks: Counter<'type' | 'result'>;
  meterEvents: Counter;
}

export function syncMetrics(registry: Registry): SyncMetrics {
  return {
    outboxRows: new Gauge({ name: 'tally_stripe_outbox_rows', help: 'Stripe outbox rows by state (pending, done, failed).', labelNames: ['state'] as const, registers: [registry] }),
    lag: new Gauge({ name: 'tally_stripe_sync_lag_seconds', help: 'Age of the oldest pending Stripe outbox row (0 when none is pending).', registers: [registry] }),
    rows: new Counter({ name: 'tally_stripe_outbox_processed_total', help: 'Outbox rows worked on, by kind and outcome (done, retried, failed).', labelNames: ['kind', 'outcome'] as const, registers: [registry] }),
    requests: new Counter({ name: 'tally_stripe_requests_total', help: 'Stripe API requests by endpoint and result.', labelNames: ['endpoint', 'result'] as const, registers: [registry] }),
    meterEvents: new Counter({ name: 'tally_stripe_meter_events_total', help: 'Billing Meter events pushed to Stripe (hourly usage and corrections).', registers: [registry] }),
    webhooks: new Counter({ name: 'tally_stripe_webhook_events_total', help: 'Stripe webhook events by type and result.', labelNames: ['type', 'result'] as const, registers: [registry] }),
  };
}
