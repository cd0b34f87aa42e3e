import { ERRORS } from '../core/errors.js';
import { METER_KEY } from '../core/meter-key.js';
import { arr, decimal, int, obj, oneOfStrings, schemaRef, shape, str, type JsonSchema } from '../http/openapi-shapes.js';

/**
 * `POST /v1/events` for the OpenAPI document: the event (checked by a hand-written validator,
 * ingest/event.ts, for speed, not by a schema, so described here), its body formats
 * (ingest/parse.ts) and the answer (ingest/service.ts `IngestResult`).
 */

// The fields of a native event and of a CloudEvent.
const eventId = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]+$' };
const meterKey = { type: 'string', pattern: METER_KEY.source };
const eventTime = { type: 'string', format: 'date-time', description: 'RFC 3339 with a zone; at most 35 days old and 5 minutes ahead (configurable); default: receive time.' };
const eventProperties = {
  type: 'object',
  description: 'At most 100 keys and 16 KiB as JSON (configurable). Numbers: 64-bit integers, or literals a double keeps exactly; send longer ones as strings.',
};
/** The per-event rejections of the catalogue: the status an event alone would have earned, 422. */
const EVENT_REJECTIONS = Object.entries(ERRORS).flatMap(([code, e]) => (e.status === 422 ? [code] : []));

export const Event = shape('Event', {
  type: 'object',
  description: 'A usage event. An event that breaks a rule is rejected on its own (in the 202 answer), never the whole request.',
  properties: {
    id: { ...eventId, description: 'Unique per tenant: a resend with the same id is never counted twice.' },
    customer: { ...eventId, description: "The tenant's id of the customer." },
    meter: meterKey,
    value: { anyOf: [decimal('At most 6 decimal places, magnitude below 10^20; never rounded.'), { type: 'number' }, { type: 'null' }] },
    timestamp: eventTime,
    properties: eventProperties,
  },
  required: ['id', 'customer', 'meter'],
  additionalProperties: false,
});

export const CloudEvent = shape('CloudEvent', {
  type: 'object',
  description: 'A CloudEvent 1.0: `type` is the meter, `subject` the customer, `time` the timestamp, `data` the properties. Other attributes are allowed and not stored.',
  properties: {
    specversion: { const: '1.0' },
    id: eventId,
    source: { type: 'string', minLength: 1 },
    type: meterKey,
    subject: eventId,
    time: eventTime,
    datacontenttype: { type: 'string', pattern: '^application/(.+\\+)?json(;|$)' },
    data: eventProperties,
  },
  required: ['specversion', 'id', 'source', 'type', 'subject'],
});

export const IngestResult = shape(
  'IngestResult',
  obj({
    accepted: int('Events committed by this request.'),
    duplicates: int('Resends recognised and not written again.'),
    rejected: arr(obj({ index: int('Position of the event in the request.'), id: str(), code: oneOfStrings(EVENT_REJECTIONS), message: str() }, ['id'])),
  }),
);

/** The body formats of `POST /v1/events` (ingest/parse.ts). */
export const EVENT_FORMATS: Record<string, { schema: JsonSchema }> = {
  'application/json': { schema: { anyOf: [schemaRef(Event), { type: 'array', items: schemaRef(Event) }] } },
  'application/x-ndjson': { schema: { type: 'string', description: 'One `Event` as JSON per line.' } },
  'application/msgpack': { schema: { description: 'One `Event` as a msgpack map, or an array of them.' } },
  'application/cloudevents+json': { schema: schemaRef(CloudEvent) },
  'application/cloudevents-batch+json': { schema: { type: 'array', items: schemaRef(CloudEvent) } },
};
