import { Counter, type Registry } from 'prom-client';

/** What an SRE watches of usage alerts. */
export interface AlertMetrics {
  fired: Counter<'kind'>;
}

export function alertMetrics(registry: Registry): AlertMetrics {
  return {
    fired: new Counter({ name: 'tally_usage_alerts_fired_total', help: 'Usage-alert thresholds reached, by kind (included_percent, spend); each fires once per period.', labelNames: ['kind'] as const, registers: [registry] }),
  };
}
