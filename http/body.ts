import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import { TallyError, type ErrorCode } from '../core/errors.js';
import type { Request } from './types.js';
import { parseTimestamp } from '../core/time.js';
import { invalidText, printable, textFault } from './text.js';
import { inexactNumber } from './json-numbers.js';

/**
 * Request bodies: JSON only for the management API, parsed and validated against a zod schema.
 * Every schema failure becomes one TallyError naming the field at fault; a custom refinement
 * may carry its own catalogue code in `params.code`.
 */
export function jsonBody<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== '' && type !== 'application/json') {
    throw new TallyError('TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', `expected application/json, got ${type}`);
  }
  refuseCharset(req.headers['content-type']);
  // Decoding would turn bytes that are not UTF-8 into U+FFFD without a word: another id or
  // name than the client sent (the event routes refuse them the same way).
  if (!isUtf8(req.body)) throw new TallyError('TALLY_ERR_INVALID_JSON', 'request body is not valid JSON: it is not UTF-8');
  const text = req.body.length === 0 ? '{}' : req.body.toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new TallyError('TALLY_ERR_INVALID_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
  checkText(data);
  // A number JSON.parse would change is refused, as ingest refuses it: stored, it would be
  // another number than the client sent, without a word.
  const inexact = inexactNumber(text);
  if (inexact !== undefined) {
    const field = inexact.path.length === 0 ? undefined : formatPath(inexact.path);
    const read = String(Number(inexact.literal));
    throw new TallyError(
      'TALLY_ERR_INVALID_VALUE',
      `${field ?? 'body'} is the number ${inexact.literal.slice(0, 40)}, which would be read as ${read}; send a number that is kept as written, or a decimal string where the field takes one`,
      { field },
    );
  }
  return validate(schema, data);
}

/**
 * JSON is UTF-8 (RFC 8259): a body declared in another charset would be read as UTF-8 all the
 * same, so the declaration is refused rather than ignored. `charset=utf-8` (any case, quoted or
 * not) is fine, as is none.
 */
export function refuseCharset(contentType: string | undefined): void {
  // Every one is looked at: `charset=utf-8; charset=latin1` declares latin1 too.
  for (const m of (contentType ?? '').matchAll(/;\s*charset\s*=\s*"?([^";\s]*)"?/gi)) {
    const charset = m[1]!.toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') {
      throw new TallyError('TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', `charset ${charset} is not supported; send UTF-8`, { field: 'Content-Type' });
    }
  }
}

/**
 * Refuses a body holding, anywhere (object keys too), text no store can hold: a NUL character
 * or a lone surrogate (JSON.parse turns "\ud800" into one). It walks with its own stack and
 * links each node to its parent (the path is built only for an error): a deeply nested body
 * must neither overflow the call stack nor cost a copy of its path per node.
 */
export function checkText(data: unknown): void {
  interface Node {
    value: unknown;
    key: string | number | undefined;
    parent: Node | undefined;
  }
  const pathOf = (node: Node): (string | number)[] => {
    const path: (string | number)[] = [];
    for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) path.push(typeof n.key === 'string' ? printable(n.key) : n.key);
    return path.reverse();
  };
  const stack: Node[] = [{ value: data, key: undefined, parent: undefined }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (typeof node.key === 'string') {
      const fault = textFault(node.key);
      if (fault !== undefined) throw invalidText(formatPath(pathOf(node)), fault, `the key ${formatPath(pathOf(node))}`);
      // JSON.parse makes `__proto__` an own key, which validation would drop without a word.
      if (node.key === '__proto__') {
        const field = formatPath(pathOf(node));
        throw new TallyError('TALLY_ERR_INVALID_VALUE', `${field} is a reserved key name (__proto__ is refused)`, { field });
      }
    }
    const { value } = node;
    if (typeof value === 'string') {
      const fault = textFault(value);
      if (fault !== undefined) throw invalidText(node.key === undefined ? 'body' : formatPath(pathOf(node)), fault);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: node });
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i]![1], key: entries[i]![0], parent: node });
    }
  }
}

export function validate<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw issueToError(result.error.issues[0]!, data);
}

type Issue = z.core.$ZodIssue;

function issueToError(issue: Issue, data: unknown): TallyError {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const field = formatPath([...path, issue.keys[0] ?? '?']);
    return new TallyError('TALLY_ERR_UNKNOWN_FIELD', `unknown field ${field}`, { field });
  }
  const field = path.length === 0 ? undefined : formatPath(path);
  const at = field === undefined ? 'body' : field;
  // An absent field is missing, whatever kind of value it should have been (an enum, a literal).
  if (path.length > 0 && valueAt(data, path) === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_union')) {
    return new TallyError('TALLY_ERR_MISSING_FIELD', `${at} is required`, { field });
  }
  if (issue.code === 'invalid_type') {
    if (valueAt(data, path) === undefined) return new TallyError('TALLY_ERR_MISSING_FIELD', `${at} is required`, { field });
    return new TallyError('TALLY_ERR_INVALID_TYPE', `${at} must be ${article(issue.expected)}`, { field });
  }
  if (issue.code === 'too_big' && issue.origin === 'string') {
    return new TallyError('TALLY_ERR_TOO_LONG', `${at} must be at most ${String(issue.maximum)} characters`, { field });
  }
  if (issue.code === 'custom') {
    const code = (issue.params as { code?: ErrorCode } | undefined)?.code ?? 'TALLY_ERR_INVALID_VALUE';
    return new TallyError(code, `${at}: ${issue.message}`, { field });
  }
  return new TallyError('TALLY_ERR_INVALID_VALUE', `${at}: ${issue.message}`, { field });
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** `?limit=` of a list route: a whole number from 1 to `max`, `dflt` when absent. */
export function listLimit(req: Request, dflt: number, max: number): number {
  const raw = req.query.get('limit');
  // Digits only: Number() would also take "0x10", " 1" and "1e2".
  const limit = raw === null ? dflt : /^[0-9]{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new TallyError('TALLY_ERR_INVALID_VALUE', `limit must be a whole number from 1 to ${max}`, { field: 'limit' });
  }
  return limit;
}

/**
 * `?<field>=` as text (an id to filter or page by): absent is undefined, and an empty one is a
 * 400 naming it. No id is empty, so `?customer=` would otherwise quietly answer an empty list,
 * as if the customer had nothing.
 */
export function queryText(req: Pick<Request, 'query'>, field: string): string | undefined {
  const text = req.query.get(field);
  if (text === null) return undefined;
  if (text === '') throw new TallyError('TALLY_ERR_INVALID_VALUE', `${field} must not be empty; leave it out to mean any`, { field });
  return text;
}

/** `?<field>=` as an instant: absent is undefined; anything but RFC 3339 with a zone is a 400 naming it. */
export function queryInstant(req: Pick<Request, 'query'>, field: string): Date | undefined {
  const text = req.query.get(field);
  if (text === null) return undefined;
  const ms = parseTimestamp(text);
  if (ms === undefined) throw new TallyError('TALLY_ERR_INVALID_VALUE', `${field} must be an RFC 3339 timestamp with a time zone, in years 0000 to 9999 UTC`, { field });
  return new Date(ms);
}
