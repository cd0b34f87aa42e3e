import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  /** result: accepted | duplicate | rejected; code: the rejection code, or "" */
  events: Counter<'result' | 'code'>;
  /** Requests refused as a whole, by reason: overloaded (429) | store_unavailable (503) | too_large (413) | unparsable (400/415). */
  refused: Counter<'reason'>;
  batchRows: Histogram;
  flushDuration: Histogram<'outcome'>;
  buffered: Gauge;
  storeErrors: Counter;
  storeUp: Gauge;
}

export function ingestMetrics(registry: Registry): IngestMetrics {
  return {
    events: new Counter({
      name: 'tally_ingest_events_total',
      help: 'Events received by POST /v1/events, by result (accepted, duplicate, rejected) and rejection code.',
      labelNames: ['result', 'code'] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: 'tally_ingest_requests_refused_total',
      help: 'Ingest requests refused as a whole, by reason (overloaded, store_unavailable, too_large, unparsable).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    batchRows: new Histogram({
      name: 'tally_ingest_batch_rows',
      help: 'Rows per insert batch written to ClickHouse.',
      buckets: [1, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000, 100_000],
      registers: [registry],
    }),
    flushDuration: new Histogram({
      name: 'tally_ingest_flush_duration_seconds',
      help: 'Time to commit one insert batch to ClickHouse, by outcome (ok; refused: the store refused rows, found and rejected alone, the rest committed; error).',
      labelNames: ['outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    buffered: new Gauge({
      name: 'tally_ingest_buffered_events',
      help: 'Events accepted and waiting for their batch to commit.',
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'tally_ingest_store_errors_total',
      help: 'Insert batches that ClickHouse refused or failed.',
      registers: [registry],
    }),
    storeUp: new Gauge({
      name: 'tally_ingest_store_up',
      help: '1 while inserts succeed, 0 after a failed insert until the store answers again.',
      registers: [registry],
    }),
  };
}
