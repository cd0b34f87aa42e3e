import { withoutTrailingZeros } from '../core/money.js';
/**
 * Event values, exactly. A value is a decimal string (`"12.5"`) or a JSON/msgpack number; it
 * must be finite, have at most 6 decimal places and a magnitude below 10^20. Nothing is ever
 * rounded: a value that cannot be stored exactly is rejected.
 *
 * Numbers arrive as binary doubles. Any decimal literal of at most 15 significant digits
 * survives the trip through a double, and `String(n)` gives it back (in shortest form); the
 * JSON parser sends bodies with longer literals down an exact path (see json.ts), so every
 * number seen here is the value the client wrote.
 */
export type ValueResult = { ok: true; value: string } | { ok: false; code: ValueCode; message: string };
export type ValueCode = 'TALLY_ERR_VALUE_INVALID' | 'TALLY_ERR_VALUE_TOO_PRECISE' | 'TALLY_ERR_VALUE_OUT_OF_RANGE';

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$/;
export const MAX_DECIMALS = 6;
const MAX_INTEGER_DIGITS = 20; // |v| < 10^20

export function normalizeValue(v: unknown): ValueResult {
  if (typeof v === 'number') return fromNumber(v);
  if (typeof v === 'bigint') return fromDecimalText(v.toString());
  if (typeof v === 'string') {
    if (v.trim() !== v) return { ok: false, code: 'TALLY_ERR_VALUE_INVALID', message: `value ${JSON.stringify(v.slice(0, 40))} has white space around it` };
    return fromDecimalText(v);
  }
  return { ok: false, code: 'TALLY_ERR_VALUE_INVALID', message: `value must be a decimal string or a number, got ${typeName(v)}` };
}

function fromNumber(n: number): ValueResult {
  if (!Number.isFinite(n)) return { ok: false, code: 'TALLY_ERR_VALUE_INVALID', message: `value must be finite, got ${String(n)}` };
  const text = String(n);
  if (text.includes('e')) {
    // Exponent form appears only for |n| < 1e-6 (too many decimals) or |n| >= 1e21 (too large).
    return Math.abs(n) < 1
      ? { ok: false, code: 'TALLY_ERR_VALUE_TOO_PRECISE', message: `value ${text} has more than ${MAX_DECIMALS} decimal places` }
      : { ok: false, code: 'TALLY_ERR_VALUE_OUT_OF_RANGE', message: `value ${text} is not below 10^20` };
  }
  return fromDecimalText(text);
}

/** Validates plain decimal notation and returns it canonical: no '+', no leading zeros, no trailing fractional zeros, no "-0". */
export function fromDecimalText(text: string): ValueResult {
  if (isCanonical(text)) return { ok: true, value: text };
  const m = DECIMAL.exec(text);
  if (m === null) {
    return { ok: false, code: 'TALLY_ERR_VALUE_INVALID', message: `value ${JSON.stringify(text.slice(0, 40))} is not a decimal number (digits, one optional '.', optional sign)` };
  }
  const sign = m[1] === '-' ? '-' : '';
  const intPart = m[2]!.replace(/^0+(?=\d)/, '');
  const frac = withoutTrailingZeros(m[3] ?? '');
  if (frac.length > MAX_DECIMALS) {
    return { ok: false, code: 'TALLY_ERR_VALUE_TOO_PRECISE', message: `value ${text.slice(0, 40)}${text.length > 40 ? '…' : ''} has more than ${MAX_DECIMALS} decimal places; it is never rounded` };
  }
  if (intPart.length > MAX_INTEGER_DIGITS) {
    return { ok: false, code: 'TALLY_ERR_VALUE_OUT_OF_RANGE', message: `value ${text.slice(0, 40)} is not below 10^20 in magnitude` };
  }
  const isZero = intPart === '0' && frac === '';
  return { ok: true, value: `${isZero ? '' : sign}${intPart}${frac === '' ? '' : `.${frac}`}` };
}

/**
 * Whether the text is already a canonical non-negative value within the limits (most values
 * are: "1", "0.25"), read character by character: the general path's regular expressions cost
 * more than the rest of an event's validation.
 */
export function isCanonical(t: string): boolean {
  const n = t.length;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x2e && dot < 0) dot = i;
    else if (c < 0x30 || c > 0x39) return false;
  }
  const intDigits = dot < 0 ? n : dot;
  if (intDigits === 0 || intDigits > MAX_INTEGER_DIGITS) return false;
  if (intDigits > 1 && t.charCodeAt(0) === 0x30) return false; // a leading zero
  if (dot < 0) return true;
  const decimals = n - dot - 1;
  return decimals > 0 && decimals <= MAX_DECIMALS && t.charCodeAt(n - 1) !== 0x30;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
