import { isLosslessNumber, parse as losslessParse, stringify as losslessStringify } from 'lossless-json';
import { Dec } from '../core/money.js';
import { MAX_DECIMALS, fromDecimalText, normalizeValue, type ValueResult } from './value.js';

/**
 * JSON with exact numbers. `JSON.parse` is fast but turns every number into a double, which
 * holds any literal of at most 15 significant digits exactly and may silently round a longer
 * one. A literal of 16 or more significant digits needs a run of at least 16 digit-or-dot
 * characters in the text, so a body without such a run takes the fast path with nothing lost,
 * and any other body is parsed by lossless-json, which keeps each number's literal text.
 * An exponent of three digits also takes the exact path: past a double's range, 1e-400 would
 * become 0 and be accepted, and 1e400 Infinity, where the exact path refuses both by what they
 * are (too precise, too large). (A long digit run or an exponent-like text inside a string, an
 * id say, only costs the slower parser.)
 */
const LONG_NUMBER_RUN = /[0-9.]{16}|\d[eE][+-]?\d{3}/;

export interface ParsedJson {
  data: unknown;
  /** True when numbers are lossless-json LosslessNumbers (the slow, exact path). */
  lossless: boolean;
}

export function parseJsonExact(text: string): ParsedJson {
  return LONG_NUMBER_RUN.test(text) ? { data: losslessParse(text, null, EXACT), lossless: true } : { data: JSON.parse(text), lossless: false };
}

/**
 * A key given twice in one object: the last one wins, as `JSON.parse` has it (and every other
 * route of the API), so an event means the same on either path. lossless-json would refuse the
 * whole body, and so a batch's other events, for it.
 */
const EXACT = { onDuplicateKey: ({ newValue }: { newValue: unknown }) => newValue };

/** A value parsed by `parseJsonExact`: a plain number, or a number literal kept as text. */
export function exactValue(v: unknown): ValueResult {
  if (isLosslessNumber(v)) {
    const literal = v.value;
    // Exponent literals (2e3) are converted exactly; plain ones are checked as written.
    if (/[eE]/.test(literal)) {
      let d: Dec;
      try {
        d = new Dec(literal);
      } catch {
        return fromDecimalText(literal);
      }
      if (!d.isFinite()) return fromDecimalText(literal);
      // Judge size and scale before writing digits out: 1e1000000000 must not become a
      // billion-character string.
      if (d.abs().gte('1e20')) return { ok: false, code: 'TALLY_ERR_VALUE_OUT_OF_RANGE', message: `value ${literal.slice(0, 40)} is not below 10^20 in magnitude` };
      if (d.decimalPlaces() > MAX_DECIMALS) return { ok: false, code: 'TALLY_ERR_VALUE_TOO_PRECISE', message: `value ${literal.slice(0, 40)} has more than ${MAX_DECIMALS} decimal places; it is never rounded` };
      return fromDecimalText(d.toFixed());
    }
    return fromDecimalText(literal);
  }
  return normalizeValue(v);
}

/** JSON text of a parsed value, number literals as they were written. */
export function stringifyExact(v: unknown, lossless: boolean): string {
  return (lossless ? losslessStringify(v) : JSON.stringify(v)) ?? 'null';
}

/**
 * The first number literal in a lossless-parsed properties object that the event store cannot
 * read back exactly, with its path (`a.b[2]`). ClickHouse's JSON functions (simdjson) read a
 * number as a 64-bit integer when it is one (from -2^63 to 2^64 - 1) and otherwise as a double:
 * a longer integer makes the whole object unreadable (every property of the event would read as
 * missing), and a literal a double does not keep (`0.1000000000000000001`,
 * `123456789012345678.25`, `1e400`) would be read as another number. A literal the double keeps
 * is one whose shortest form has the same value (`0.30000000000000004` is one). The fast path's
 * numbers (at most 15 significant digits, small exponents) are always kept, so only the exact
 * path's literals are looked at.
 */
export function unreadableNumber(v: unknown, path = ''): { path: string; literal: string } | undefined {
  if (isLosslessNumber(v)) return storeReadsExactly(v.value) ? undefined : { path, literal: v.value };
  if (v === null || typeof v !== 'object') return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = unreadableNumber(v[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const k in v) {
    const bad = unreadableNumber((v as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`);
    if (bad) return bad;
  }
  return undefined;
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function storeReadsExactly(literal: string): boolean {
  if (/^-?\d+$/.test(literal)) {
    // A long run of digits is out of range whatever it says: no BigInt of a million digits.
    if (literal.length > 21) return false;
    const n = BigInt(literal);
    return n >= INT64_MIN && n <= UINT64_MAX;
  }
  const n = Number(literal);
  if (!Number.isFinite(n)) return false;
  try {
    return new Dec(String(n)).eq(new Dec(literal));
  } catch {
    return false;
  }
}
