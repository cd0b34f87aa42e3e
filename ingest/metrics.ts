import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  /** result: accepted | duplicate | rejected; code: the rejection code, or "" */
  events: Counter<'result' | 'code'>;
  /** Requests refused as a whole, by reason: overloaded (429) | log_unavailable (503) | shutting_down (503) | too_large (413) | unparsable (400/415). */
  refused: Counter<'reason'>;
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
      help: 'Ingest requests refused as a whole, by reason (overloaded, log_unavailable, shutting_down, too_large, unparsable).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}

/** The event log (event-log.ts) and its shipper (shipper.ts). */
export interface EventLogMetrics {
  pendingBytes: Gauge;
  pendingSegments: Gauge;
  syncDuration: Histogram;
  groupAppends: Histogram;
  writeErrors: Counter;
  up: Gauge;
  tornBytes: Counter;
  shippedRows: Counter;
  shippedBytes: Counter;
  shipDuration: Histogram<'outcome'>;
  shipLag: Histogram;
  shipErrors: Counter;
  storeUp: Gauge;
  rowsRefused: Counter<'reason'>;
  /** Read when Prometheus scrapes; the log sets it to its own reading. */
  oldestUnshippedSeconds: () => number;
}

export function eventLogMetrics(registry: Registry): EventLogMetrics {
  const metrics: EventLogMetrics = {
    oldestUnshippedSeconds: () => 0,
    pendingBytes: new Gauge({ name: 'tally_eventlog_pending_bytes', help: 'Bytes of acknowledged events in this node\'s log not shipped to the event store yet (429 above TALLY_EVENTLOG_MAX_PENDING_BYTES).', registers: [registry] }),
    pendingSegments: new Gauge({ name: 'tally_eventlog_pending_segments', help: 'Log segments not shipped yet, the open one included.', registers: [registry] }),
    syncDuration: new Histogram({
      name: 'tally_eventlog_fsync_duration_seconds',
      help: 'Time to write and fdatasync one group of appends (what an acknowledgement waits for).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    groupAppends: new Histogram({
      name: 'tally_eventlog_group_appends',
      help: 'Requests covered by one fdatasync (group commit).',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    writeErrors: new Counter({ name: 'tally_eventlog_write_errors_total', help: 'Groups of appends whose write or fdatasync failed (their requests got 503).', registers: [registry] }),
    up: new Gauge({ name: 'tally_eventlog_up', help: '1 while log writes succeed, 0 after a failed write or sync until one succeeds again.', registers: [registry] }),
    tornBytes: new Counter({ name: 'tally_eventlog_torn_bytes_total', help: 'Bytes of unacknowledged appends cut from segments when the log was opened after a crash.', registers: [registry] }),
    shippedRows: new Counter({ name: 'tally_eventlog_shipped_rows_total', help: 'Rows shipped from the log into the event store.', registers: [registry] }),
    shippedBytes: new Counter({ name: 'tally_eventlog_shipped_bytes_total', help: 'Bytes of log segments shipped into the event store.', registers: [registry] }),
    shipDuration: new Histogram({
      name: 'tally_eventlog_ship_duration_seconds',
      help: 'Time to insert one segment, by outcome (ok; refused: rows the store refused were set aside and the rest inserted).',
      labelNames: ['outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    shipLag: new Histogram({
      name: 'tally_eventlog_ship_lag_seconds',
      help: 'From the first acknowledged append of a segment to its rows being in the event store.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800],
      registers: [registry],
    }),
    shipErrors: new Counter({ name: 'tally_eventlog_ship_errors_total', help: 'Segment inserts that failed and are retried.', registers: [registry] }),
    storeUp: new Gauge({ name: 'tally_ingest_store_up', help: '1 while segments ship, 0 after a failed insert until one succeeds again (ingest keeps accepting meanwhile).', registers: [registry] }),
    rowsRefused: new Counter({
      name: 'tally_eventlog_rows_refused_total',
      help: 'Rows the event store refused for their content, set aside under the log\'s refused/ folder, by the store\'s reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'tally_eventlog_oldest_unshipped_seconds',
    help: 'Age of the oldest acknowledged event not in the event store yet (0 when everything is shipped).',
    registers: [registry],
    collect() {
      this.set(metrics.oldestUnshippedSeconds());
    },
  });
  return metrics;
}
