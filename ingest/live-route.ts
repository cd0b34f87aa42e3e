import { tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import { arr, instant, int, nullable, obj, oneOfStrings, shape, str } from '../http/openapi-shapes.js';
import { LIVE_RECENT, LIVE_WINDOW_SECONDS, type LiveFeed } from './live.js';

const counts = { accepted: int(), duplicates: int(), rejected: int() };
const LiveEventShape = obj({
  received_at: instant,
  id: nullable(str()),
  meter: nullable(str()),
  customer: nullable(str()),
  timestamp: nullable(str('As accepted (RFC 3339); for a rejected event the text it sent, when a string.')),
  result: oneOfStrings(['accepted', 'duplicate', 'rejected']),
  code: nullable(str('The rejection code.')),
  message: nullable(str()),
});
export const LiveEvents = shape(
  'LiveEvents',
  obj({
    node: str("The node that answers: each node sees the requests it received (the event log's node id)."),
    window_seconds: int(),
    per_second: arr(obj({ at: instant, ...counts })),
    totals: obj(counts),
    rejected_by_code: { type: 'object', additionalProperties: int() },
    recent: arr(LiveEventShape),
  }),
);

/** `GET /v1/events/live`: the tenant's last minute of ingest on this node, for the console's live view. */
export function liveEventsRoute(feed: LiveFeed): Route {
  return {
    method: 'GET',
    pattern: '/v1/events/live',
    access: 'tenant',
    doc: {
      operationId: 'getLiveEvents',
      tag: 'Events',
      summary: "This node's last minute of ingest",
      description:
        `Events per second over the last ${LIVE_WINDOW_SECONDS} s (accepted, resent copies, rejected), rejections by code, and the last ${LIVE_RECENT} events with what became of each, newest first. ` +
        'Kept in the memory of the node that received the requests: behind a load balancer, each node shows its own share. Requests refused whole (429, 503) are not events and are not shown.',
      responses: { 200: json('The live view.', LiveEvents) },
    },
    handler: (req) => ({ status: 200, body: feed.view(tenantOf(req)) }),
  };
}
