import type { z } from 'zod';
import { TallyError, type ErrorCode } from '../../core/errors.js';
import type { Request } from './types.js';

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
  let data: unknown;
  try {
    data = JSON.parse(req.body.length === 0 ? '{}' : req.body.toString('utf8'));
  } catch (e) {
    throw new TallyError('TALLY_ERR_INVALID_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
  return validate(schema, data);
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
  const limit = raw === null ? dflt : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new TallyError('TALLY_ERR_INVALID_VALUE', `limit must be a whole number from 1 to ${max}`, { field: 'limit' });
  }
  return limit;
}
