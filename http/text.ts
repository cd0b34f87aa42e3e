import { TallyError } from '../core/errors.js';

/**
 * Text from a client that no store can hold. Postgres refuses a NUL character in `text` and
 * ClickHouse and every JSON encoder mangle or refuse a lone UTF-16 surrogate, so such text is
 * refused at the door, naming where it was, instead of failing deep inside a write as a 500.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored, or undefined when it can. */
export function textFault(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate (not well-formed Unicode)';
  return undefined;
}

/** A name safe to echo in `field` and messages whatever it holds (NUL and surrogates escaped). */
export function printable(name: string): string {
  return textFault(name) === undefined ? name : JSON.stringify(name).slice(1, -1);
}

/** The error for text at `field` (`what` says what it is when that is not just the field). */
export function invalidText(field: string, fault: string, what = field): TallyError {
  return new TallyError('TALLY_ERR_INVALID_TEXT', `${what} ${fault}`, { field });
}

const NOT_URL_TEXT = /[^\x21-\x7e]/;

/** A path parameter as the route sees it: percent-decoded, well-formed, without NUL. */
export function decodePathParameter(name: string, raw: string): string {
  // A URL carries anything beyond printable ASCII percent-encoded; raw bytes arrive one
  // character each (0xFF as "ÿ"), so they would name another object than the client meant.
  if (NOT_URL_TEXT.test(raw)) throw new TallyError('TALLY_ERR_INVALID_TEXT', `${name} holds characters a URL carries only percent-encoded`, { field: name });
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    // URIError: a truncated or invalid escape, or one that is not UTF-8 (which is how an
    // encoded surrogate such as %ED%A0%80 arrives).
    throw new TallyError('TALLY_ERR_INVALID_TEXT', `${name} has a malformed percent-escape (not UTF-8)`, { field: name });
  }
  const fault = textFault(value);
  if (fault !== undefined) throw invalidText(name, fault);
  return value;
}

/**
 * The query string, refused when an escape is malformed: URLSearchParams would quietly turn
 * `%E0%A4%A` or an encoded surrogate into U+FFFD (a different id than the client meant), where
 * the same escape in the path is refused.
 */
export function parseQuery(raw: string): URLSearchParams {
  if (raw.includes('%')) {
    for (const pair of raw.split('&')) {
      const eq = pair.indexOf('=');
      const [name, value] = eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
      const field = decodable(name) ?? printable(name);
      if (decodable(name) === undefined) throw new TallyError('TALLY_ERR_INVALID_TEXT', `the query parameter name ${field} has a malformed percent-escape (not UTF-8)`, { field });
      if (decodable(value) === undefined) throw new TallyError('TALLY_ERR_INVALID_TEXT', `${field} has a malformed percent-escape (not UTF-8)`, { field });
    }
  }
  const query = new URLSearchParams(raw);
  checkQuery(query);
  return query;
}

function decodable(component: string): string | undefined {
  try {
    return decodeURIComponent(component.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/** Refuses a query string holding a name or value no store can hold. */
export function checkQuery(query: URLSearchParams): void {
  for (const [name, value] of query) {
    const nameFault = textFault(name);
    if (nameFault !== undefined) throw invalidText(printable(name), nameFault, `the query parameter name ${printable(name)}`);
    const fault = textFault(value);
    if (fault !== undefined) throw invalidText(name, fault);
  }
}
