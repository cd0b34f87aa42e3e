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
  return LONG_NUMBER_RUN.test(text) ? { data: losslessParse(text), lossless: true } : { data: JSON.parse(text), lossless: false };
}

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
