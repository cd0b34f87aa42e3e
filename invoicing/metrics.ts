import { Counter, Histogram, type Registry } from 'prom-client';

/** What an SRE watches of rating and closing (no customer or subscription ids as labels). */
export interface RaterMetrics {
  runs: Counter<'outcome'>;
  runDuration: Histogram;
  periods: Counter;
  ratings: Counter;
  invoices: Counter;
  adjustments: Counter;
  closeWaiting: Counter;
  closeDuration: Histogram;
}

export function raterMetrics(registry: Registry): RaterMetrics {
  const buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
  return {
    runs: new Counter({ name: 'tally_rater_runs_total', help: 'Rating runs, by outcome (ok, error).', labelNames: ['outcome'] as const, registers: [registry] }),
    runDuration: new Histogram({ name: 'tally_rater_run_duration_seconds', help: 'Duration of rating runs.', buckets, registers: [registry] }),
    periods: new Counter({ name: 'tally_rater_periods_rated_total', help: 'Subscription billing periods rated.', registers: [registry] }),
    ratings: new Counter({ name: 'tally_rater_hourly_ratings_total', help: 'Hourly quantities rated (one per subscription, meter and hour).', registers: [registry] }),
    invoices: new Counter({ name: 'tally_close_invoices_total', help: 'Invoices created by period close.', registers: [registry] }),
    adjustments: new Counter({ name: 'tally_close_adjustment_lines_total', help: 'Adjustment lines for usage that arrived after its period was invoiced.', registers: [registry] }),
    closeWaiting: new Counter({ name: 'tally_close_periods_waiting_total', help: 'Ended periods a close run left for later because the aggregator had not reached their end.', registers: [registry] }),
    closeDuration: new Histogram({ name: 'tally_close_run_duration_seconds', help: 'Duration of close runs.', buckets, registers: [registry] }),
  };
}
