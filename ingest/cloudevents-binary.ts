import { isUtf8 } from 'node:buffer';
import { TallyError } from '../core/errors.js';
import { refuseCharset } from '../http/body.js';
import type { RawEvent } from './event.js';
import { parseJsonExact } from './json.js';

/**
 * CloudEvents binary content mode (HTTP protocol binding 1.0, section 3.1), what the official
 * SDKs send by default: one event per request, its attributes in `ce-*` headers and its `data`
 * as the body, typed by Content-Type. The attributes are gathered into the same object a
 * structured-mode body holds, so one validator applies the same rules to both modes.
 */

const BEYOND_ASCII = /[^\x00-\x7f]/;

/** The context attributes Tally reads; other `ce-*` headers are extensions, allowed and not stored. */
const ATTRIBUTES = ['id', 'source', 'specversion', 'type', 'subject', 'time'] as const;

/**
 * Binary mode is a request with `ce-*` headers whose Content-Type is not a structured or batch
 * CloudEvents type (those carry the whole event in the body, and the binding says their
 * headers are not attributes). Any `ce-` header counts, so a client that forgot
 * `ce-specversion` is told so instead of getting the native format's errors.
 */
export function isBinaryCloudEvent(headers: Readonly<Record<string, string>>): boolean {
  const type = (headers['content-type'] ?? '').trim().toLowerCase();
  if (type.startsWith('application/cloudevents')) return false;
  for (const name in headers) if (name.startsWith('ce-')) return true;
  return false;
}

export function binaryCloudEvent(headers: Readonly<Record<string, string>>, body: Buffer): RawEvent[] {
  const event: Record<string, unknown> = {};
  for (const attribute of ATTRIBUTES) {
    const header = headers[`ce-${attribute}`];
    if (header === undefined) continue;
    // The binding percent-encodes bytes beyond ASCII; sent raw, they reach here decoded by
    // guesswork (U+FFFD for any that are not UTF-8), and the event would be stored under text its
    // sender never wrote. (At the very end of a value the HTTP server drops them unseen.)
    if (BEYOND_ASCII.test(header)) {
      return [{ kind: 'malformed', code: 'TALLY_ERR_CLOUDEVENT_INVALID', message: `header ce-${attribute} holds bytes beyond ASCII; the binding percent-encodes them (é is %C3%A9)` }];
    }
    const value = percentDecode(header);
    if (value === undefined) {
      return [{ kind: 'malformed', code: 'TALLY_ERR_CLOUDEVENT_INVALID', message: `header ce-${attribute} is not valid percent-encoded UTF-8` }];
    }
    event[attribute] = value;
  }
  // The binding makes Content-Type the datacontenttype; absent, the body is taken as JSON (as
  // POST /v1/events does), and the validator refuses any type that is not JSON.
  const contentType = headers['content-type']?.trim().toLowerCase();
  refuseCharset(contentType);
  if (contentType !== undefined && contentType !== '') event.datacontenttype = contentType;
  const isJson = contentType === undefined || contentType === '' || /^application\/(.+\+)?json(;|$)/.test(contentType);
  if (body.length === 0 || !isJson) return [{ kind: 'cloudevent', data: event, lossless: false }];

  if (!isUtf8(body)) throw new TallyError('TALLY_ERR_INVALID_JSON', 'body (the event data) is not valid JSON: it is not UTF-8');
  try {
    const { data, lossless } = parseJsonExact(body.toString('utf8'));
    event.data = data;
    return [{ kind: 'cloudevent', data: event, lossless }];
  } catch (e) {
    throw new TallyError('TALLY_ERR_INVALID_JSON', `body (the event data) is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Header values are percent-encoded by the binding (outside printable ASCII, and `%` itself).
 * Senders that do not encode (the JavaScript SDK among them) leave a stray `%` now and then, so
 * only well-formed `%XX` runs are decoded; a run that is not UTF-8 makes the header unreadable.
 */
function percentDecode(value: string): string | undefined {
  if (!value.includes('%')) return value;
  try {
    return value.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => decodeURIComponent(run));
  } catch {
    return undefined;
  }
}
