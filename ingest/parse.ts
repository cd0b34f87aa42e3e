import { isUtf8 } from 'node:buffer';
// The plain JavaScript decoder, not the package's Node entry: that one loads a native string
// extractor, which decodes a run of short strings as one string and hands each out as a slice
// of it. An id kept for dedup (up to TALLY_INGEST_DEDUP_CACHE of them) then holds its whole
// run of the body in memory: 120 MB more heap under msgpack load than under JSON. Decoded in
// JavaScript each string is its own, at the same speed for event-sized strings.
import type { Unpackr as UnpackrClass } from 'msgpackr';
import * as jsDecoder from 'msgpackr/unpack';
import { TallyError } from '../core/errors.js';
import { refuseCharset } from '../http/body.js';
import { binaryCloudEvent, isBinaryCloudEvent } from './cloudevents-binary.js';
import type { RawEvent } from './event.js';
import { parseJsonExact } from './json.js';
import { foreignExtension, invalidUtf8Fields } from './msgpack-utf8.js';
import { typeName } from './value.js';

/**
 * The body formats of POST /v1/events, each turned into a list of raw events. A body that
 * cannot be parsed at all is a 400; inside a parsable body, an element that is not an event
 * (an NDJSON line that is not JSON, say) becomes a per-event rejection, never a failed request.
 */
export type Format = 'json' | 'ndjson' | 'msgpack' | 'cloudevents' | 'cloudevents-batch';

const MEDIA_TYPES: Record<string, Format> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/msgpack': 'msgpack',
  'application/x-msgpack': 'msgpack',
  'application/vnd.msgpack': 'msgpack',
  'application/cloudevents+json': 'cloudevents',
  'application/cloudevents-batch+json': 'cloudevents-batch',
};

export function formatOf(contentType: string | undefined): Format {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === '') return 'json';
  const format = MEDIA_TYPES[type];
  if (format === undefined) {
    throw new TallyError('TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Type ${type}; use one of ${Object.keys(MEDIA_TYPES).join(', ')}`);
  }
  refuseCharset(contentType);
  return format;
}

// This entry's typings point at a path NodeNext cannot resolve; the class is the package's own
// (the type-only import above loads nothing).
const { Unpackr } = jsDecoder as unknown as { Unpackr: typeof UnpackrClass };
// 64-bit integers come back as strings, so a big msgpack integer is checked exactly as text.
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'string' });

/** The events of a request: a CloudEvent in binary mode (attributes in headers), or a body in one of the formats. */
export function parseRequest(headers: Readonly<Record<string, string>>, body: Buffer, maxEvents: number): RawEvent[] {
  if (isBinaryCloudEvent(headers)) return binaryCloudEvent(headers, body);
  return parseEvents(formatOf(headers['content-type']), body, maxEvents);
}

/** Parses a body; `maxEvents` is checked before any event is looked at (413 above it). */
export function parseEvents(format: Format, body: Buffer, maxEvents: number): RawEvent[] {
  switch (format) {
    case 'json':
      return fromJsonDocument(body, 'native', maxEvents);
    case 'cloudevents':
      return fromJsonDocument(body, 'cloudevent', maxEvents, 'single');
    case 'cloudevents-batch':
      return fromJsonDocument(body, 'cloudevent', maxEvents, 'batch');
    case 'ndjson':
      return fromNdjson(body, maxEvents);
    case 'msgpack':
      return fromMsgpack(body, maxEvents);
  }
}

function fromJsonDocument(body: Buffer, kind: 'native' | 'cloudevent', maxEvents: number, shape: 'any' | 'single' | 'batch' = 'any'): RawEvent[] {
  // JSON text is UTF-8 (RFC 8259); decoding other bytes would silently make them U+FFFD.
  if (!isUtf8(body)) throw new TallyError('TALLY_ERR_INVALID_JSON', 'body is not valid JSON: it is not UTF-8');
  let parsed;
  try {
    parsed = parseJsonExact(body.toString('utf8'));
  } catch (e) {
    throw new TallyError('TALLY_ERR_INVALID_JSON', `body is not valid JSON: ${(e as Error).message}`);
  }
  const { data, lossless } = parsed;
  if (Array.isArray(data) && shape !== 'single') {
    checkCount(data.length, maxEvents);
    return (data as unknown[]).map((d) => ({ kind, data: d, lossless }));
  }
  if (data !== null && typeof data === 'object' && !Array.isArray(data) && shape !== 'batch') return [{ kind, data, lossless }];
  const expected = shape === 'batch' ? 'an array of CloudEvents' : shape === 'single' ? 'one CloudEvent object' : 'an event object or an array of events';
  throw new TallyError('TALLY_ERR_INVALID_BODY', `body must be ${expected}, got ${typeName(data)}`);
}

function fromNdjson(body: Buffer, maxEvents: number): RawEvent[] {
  // A line that is not UTF-8 is refused alone; finding which one costs a split of the bytes,
  // paid only when the body as a whole is not UTF-8.
  const lines = isUtf8(body) ? body.toString('utf8').split('\n') : splitLines(body).map((b) => (isUtf8(b) ? b.toString('utf8') : undefined));
  const events: RawEvent[] = [];
  for (const line of lines) {
    const trimmed = line?.trim();
    if (trimmed === '') continue;
    if (events.length === maxEvents) checkCount(maxEvents + 1, maxEvents);
    if (trimmed === undefined) {
      events.push({ kind: 'malformed', message: 'line is not valid JSON: it is not UTF-8' });
      continue;
    }
    try {
      const { data, lossless } = parseJsonExact(trimmed);
      events.push({ kind: 'native', data, lossless });
    } catch (e) {
      events.push({ kind: 'malformed', message: `line is not valid JSON: ${(e as Error).message}` });
    }
  }
  return events;
}

function splitLines(body: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = body.indexOf(0x0a); nl !== -1; nl = body.indexOf(0x0a, start)) {
    lines.push(body.subarray(start, nl));
    start = nl + 1;
  }
  lines.push(body.subarray(start));
  return lines;
}

function fromMsgpack(body: Buffer, maxEvents: number): RawEvent[] {
  let data: unknown;
  let ext: number | undefined;
  try {
    ext = foreignExtension(body);
    if (ext === undefined) data = unpackr.unpack(body);
  } catch (e) {
    throw new TallyError('TALLY_ERR_INVALID_BODY', `body is not valid msgpack: ${(e as Error).message}`);
  }
  if (ext !== undefined) {
    throw new TallyError('TALLY_ERR_INVALID_BODY', `msgpack extension type ${ext} is not taken: events hold maps, arrays, strings, numbers, booleans, nil and timestamps (extension -1)`);
  }
  // Read the body again for strings that were not UTF-8 only if an event asks (see RawEvent).
  let bad: Map<number, string> | 'unreadable' | undefined;
  const invalidUtf8 = (i: number) => {
    bad ??= invalidUtf8FieldsOrUnreadable(body);
    return bad === 'unreadable' ? '' : bad.get(i);
  };
  if (Array.isArray(data)) {
    checkCount(data.length, maxEvents);
    return (data as unknown[]).map((d) => ({ kind: 'native' as const, data: d, lossless: false, invalidUtf8 }));
  }
  if (data !== null && typeof data === 'object') return [{ kind: 'native', data, lossless: false, invalidUtf8 }];
  throw new TallyError('TALLY_ERR_INVALID_BODY', `msgpack body must be a map or an array of maps, got ${typeName(data)}`);
}

function invalidUtf8FieldsOrUnreadable(body: Buffer): Map<number, string> | 'unreadable' {
  try {
    return invalidUtf8Fields(body);
  } catch {
    // Not reached: `foreignExtension` walked the same structure of the whole body before msgpackr
    // read it. Were it reached, no string could be vouched for, so every event asking is refused.
    return 'unreadable';
  }
}

function checkCount(n: number, max: number): void {
  if (n > max) throw new TallyError('TALLY_ERR_BATCH_TOO_LARGE', `request has more than ${max} events (TALLY_INGEST_MAX_EVENTS); split it`);
}
