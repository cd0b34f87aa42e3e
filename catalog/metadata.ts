import { z } from 'zod';
import { TallyError } from '../core/errors.js';

/**
 * Metadata: free string pairs under Stripe's limits (at most 50 keys, keys up to 40 characters,
 * values up to 500) and Stripe's merge rule on update (keys merge, a key set to "" is removed).
 * The key limit is on what the object holds, so an update is checked on the merged result:
 * checking each request's keys alone let a few PATCHes pile up any number of keys.
 */
export const MAX_METADATA_KEYS = 50;
const TOO_MANY_KEYS = `at most ${MAX_METADATA_KEYS} keys`;

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/**
 * JSON.parse makes `__proto__` an own key, but a zod record skips it without a word (and
 * `constructor`/`prototype` invite prototype pollution wherever metadata is merged), so these
 * keys are refused by name before the record sees them.
 */
export const Metadata = z.preprocess(
  (m, ctx) => {
    if (m !== null && typeof m === 'object' && !Array.isArray(m)) {
      for (const k of Object.keys(m)) {
        if (RESERVED_KEYS.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'is a reserved key name (__proto__, constructor and prototype are refused)' });
      }
    }
    return m;
  },
  z
    .record(z.string().min(1, 'keys must not be empty').max(40, 'keys are at most 40 characters'), z.string().max(500, 'values are at most 500 characters'))
    .refine((m) => Object.keys(m).length <= MAX_METADATA_KEYS, TOO_MANY_KEYS),
);

/**
 * The metadata an update leaves: `patch` merged into `current`. Refused like an object created
 * with too many keys (same code and field), so the caller writes nothing.
 */
export function mergeMetadata(current: Readonly<Record<string, string>>, patch: Readonly<Record<string, string>>): Record<string, string> {
  const merged = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === '') delete merged[k];
    else merged[k] = v;
  }
  const keys = Object.keys(merged).length;
  if (keys > MAX_METADATA_KEYS) {
    throw new TallyError('TALLY_ERR_INVALID_VALUE', `metadata: ${TOO_MANY_KEYS}; merged with the ${Object.keys(current).length} already set, it would have ${keys}`, { field: 'metadata' });
  }
  return merged;
}
