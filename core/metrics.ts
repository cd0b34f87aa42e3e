import { Registry, collectDefaultMetrics, Counter, Histogram, Gauge } from 'prom-client';
import { STORE_TROUBLES } from './store-errors.js';

/**
 * One registry per process (or per test server), holding prom-client's default process metrics
 * and every component's own. Label sets are bounded: routes are patterns, never raw paths, and
 * no customer or tenant id is ever a label.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  inFlight: Gauge;
  /** Requests answered 503 because a store could not do the work (core/store-errors.ts). */
  storeUnavailable: Counter<'trouble'>;
}

export function httpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({
      name: 'tally_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'tally_http_request_duration_seconds',
      help: 'Time from a request arriving to its response being written, by method and route pattern.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'tally_http_requests_in_flight',
      help: 'Requests being handled right now.',
      registers: [registry],
    }),
    storeUnavailable: storeUnavailableCounter(registry),
  };
}

function storeUnavailableCounter(registry: Registry): Counter<'trouble'> {
  const counter = new Counter({
    name: 'tally_http_store_unavailable_total',
    help: 'Requests answered 503 because a store could not do the work, by what its trouble was.',
    labelNames: ['trouble'] as const,
    registers: [registry],
  });
  // Every trouble is exported from the start, at 0, so a rate over it is defined before the first.
  for (const trouble of STORE_TROUBLES) counter.inc({ trouble }, 0);
  return counter;
}

/** The label values of `tally_loop_item_failures_total`: one per background loop. */
export const LOOPS = ['aggregator', 'rater', 'close', 'sync', 'dunning', 'deliver', 'alerts', 'entitlements'] as const;
export type LoopName = (typeof LOOPS)[number];

export interface LoopMetrics {
  /**
   * One item (a tenant, subscription, outbox row, delivery, meter) that failed and was set aside
   * so the rest of the run could go on. An SRE alerts on its rate: the logs name the item.
   */
  itemFailures: Counter<'loop'>;
}

/**
 * Shared by every loop in a process; registered once per registry (`tally start` runs several
 * loops on one registry), so a second call returns the same counter.
 */
export function loopMetrics(registry: Registry): LoopMetrics {
  const name = 'tally_loop_item_failures_total';
  const existing = registry.getSingleMetric(name) as Counter<'loop'> | undefined;
  if (existing !== undefined) return { itemFailures: existing };
  const itemFailures = new Counter({
    name: 'tally_loop_item_failures_total',
    help: 'Items a background loop could not process and skipped so the rest went on (a tenant, subscription, outbox row or delivery), by loop. The logs name each item.',
    labelNames: ['loop'] as const,
    registers: [registry],
  });
  // Every loop shows a zero from the start, so a rate() over it is defined before any failure.
  for (const loop of LOOPS) itemFailures.inc({ loop }, 0);
  return { itemFailures };
}
