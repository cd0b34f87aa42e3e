import { tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import { arr, instant, int, nullable, obj, shape, str } from '../http/openapi-shapes.js';

const seconds = (description: string) => ({ type: 'number', description });

export const Pipeline = shape(
  'Pipeline',
  obj({
    aggregator: obj({
      watermark: nullable(instant),
      lag_seconds: nullable(seconds('Age of the watermark: events accepted since then are not in the hourly usage yet.')),
      set_aside: {
        ...arr(obj({ meter: str(), since: instant, lag_seconds: seconds('Age of `since`: how far behind the meter\'s usage is.') })),
        description: "The tenant's meters whose recompute failed while the watermark moved on: each run does them again, and their usage is complete only up to `since`.",
      },
    }),
    event_log: nullable(
      obj({
        node: str('The node that answers (its event log).'),
        pending_bytes: int('Acknowledged bytes not shipped to the event store yet.'),
        pending_segments: int(),
        oldest_unshipped_age_seconds: nullable(seconds('Age of the oldest acknowledged event not shipped yet; null when everything is shipped.')),
      }),
    ),
    stripe_outbox: obj({ pending: int(), failed: int(), oldest_pending_age_seconds: nullable(seconds('Age of the oldest write still to make.')) }),
    webhooks: obj({ pending: int('Deliveries still being tried.'), failed: int('Deliveries that gave up.') }),
  }),
);

export interface PipelineDeps {
  watermark: () => Promise<Date>;
  /** The tenant's meters the aggregator set aside (metering's metersSetAside). */
  setAside: (tenantId: string) => Promise<{ meter: string; since: Date }[]>;
  eventLog: { nodeId: string; pendingBytes: number; pendingSegments: number; oldestUnshippedSeconds(): number } | undefined;
  outbox: (tenantId: string) => Promise<{ pending: number; failed: number; oldestPendingSeconds: number | null }>;
  deliveries: (tenantId: string) => Promise<{ pending: number; failed: number }>;
  clock: () => number;
}

/**
 * `GET /v1/pipeline`: how far behind each stage is, as a tenant sees it: the aggregator (shared
 * by every tenant), this node's event log, and the tenant's own Stripe writes and webhook
 * deliveries. The console's pipeline page; Prometheus has the same figures for every tenant.
 */
export function pipelineRoute(d: PipelineDeps): Route {
  return {
    method: 'GET',
    pattern: '/v1/pipeline',
    access: 'tenant',
    doc: { operationId: 'getPipeline', tag: 'System', summary: 'How far behind each stage of the pipeline is', responses: { 200: json('The stages.', Pipeline) } },
    handler: async (req) => {
      const tenantId = tenantOf(req);
      const [watermark, setAside, outbox, deliveries] = await Promise.all([d.watermark(), d.setAside(tenantId), d.outbox(tenantId), d.deliveries(tenantId)]);
      // The epoch is the watermark of an aggregator that never ran.
      const ran = watermark.getTime() > 0;
      const log = d.eventLog;
      return {
        status: 200,
        body: {
          aggregator: {
            watermark: ran ? watermark.toISOString() : null,
            lag_seconds: ran ? Math.max(0, (d.clock() - watermark.getTime()) / 1000) : null,
            set_aside: setAside.map((s) => ({ meter: s.meter, since: s.since.toISOString(), lag_seconds: Math.max(0, (d.clock() - s.since.getTime()) / 1000) })),
          },
          event_log:
            log === undefined
              ? null
              : { node: log.nodeId, pending_bytes: log.pendingBytes, pending_segments: log.pendingSegments, oldest_unshipped_age_seconds: log.pendingBytes > 0 ? log.oldestUnshippedSeconds() : null },
          stripe_outbox: { pending: outbox.pending, failed: outbox.failed, oldest_pending_age_seconds: outbox.oldestPendingSeconds },
          webhooks: deliveries,
        },
      };
    },
  };
}
