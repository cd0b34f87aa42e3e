import { isTallyError } from '../core/errors.js';
import type { IngestConfig } from '../core/config.js';
import { tenantOf, type Route } from '../http/types.js';
import type { IngestMetrics } from './metrics.js';
import { parseRequest } from './parse.js';
import type { IngestService } from './service.js';
import { json } from '../http/openapi-doc.js';
import { CloudEvent, Event, EVENT_FORMATS, IngestResult } from './openapi.js';

const REFUSAL_REASON: Record<string, string> = {
  TALLY_ERR_INGEST_OVERLOADED: 'overloaded',
  TALLY_ERR_EVENT_LOG_UNAVAILABLE: 'log_unavailable',
  TALLY_ERR_SHUTTING_DOWN: 'shutting_down',
  TALLY_ERR_BATCH_TOO_LARGE: 'too_large',
  TALLY_ERR_INVALID_JSON: 'unparsable',
  TALLY_ERR_INVALID_BODY: 'unparsable',
  TALLY_ERR_UNSUPPORTED_MEDIA_TYPE: 'unparsable',
};

/** `POST /v1/events`: 202 with per-event results once every accepted event is in this node's event log. */
export function eventsRoute(service: IngestService, config: IngestConfig, metrics: IngestMetrics): Route {
  return {
    method: 'POST',
    pattern: '/v1/events',
    access: 'tenant',
    doc: {
      operationId: 'ingestEvents',
      tag: 'Events',
      summary: 'Send usage events',
      description:
        "One event or many, in any of the body formats. The answer comes once every accepted event is on the node's disk (its event log); events are visible in usage once shipped to the event store, normally within a second. One bad event never sinks its batch. " +
        'NDJSON is also accepted as `application/ndjson` and `application/jsonl`, msgpack as `application/x-msgpack` and `application/vnd.msgpack`. ' +
        'After a 429 or 503 nothing of the request was accepted: send it again, whole.',
      requestBody: { description: 'The events.', required: true, content: EVENT_FORMATS },
      uses: [Event, CloudEvent],
      responses: { 202: json('What happened to each event.', IngestResult) },
      errors: ['TALLY_ERR_INVALID_JSON', 'TALLY_ERR_INVALID_BODY', 'TALLY_ERR_BATCH_TOO_LARGE', 'TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', 'TALLY_ERR_INGEST_OVERLOADED', 'TALLY_ERR_EVENT_LOG_UNAVAILABLE', 'TALLY_ERR_SHUTTING_DOWN'],
    },
    handler: async (req) => {
      try {
        const raws = parseRequest(req.headers, req.body, config.maxEvents);
        const result = await service.ingest(tenantOf(req), raws);
        return { status: 202, body: result };
      } catch (e) {
        const reason = isTallyError(e) ? REFUSAL_REASON[e.code] : undefined;
        if (reason !== undefined) metrics.refused.inc({ reason });
        throw e;
      }
    },
  };
}
