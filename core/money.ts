import { Decimal } from 'decimal.js';

/**
 * The one way Tally's code gets a decimal (the lint refuses `decimal.js` anywhere else).
 *
 * decimal.js rounds every operation to `precision` significant digits, 20 by default: a
 * quantity below 10^20 with 6 decimals already has 26, and one times a price with 12 decimals
 * needs up to 46. So every decimal here computes at 100 significant digits, and rounding
 * happens only where a written rule says so, half-even unless that rule names another mode.
 */
export const Dec = Decimal.clone({ precision: 100, rounding: Decimal.ROUND_HALF_EVEN });
export type Dec = InstanceType<typeof Dec>;

/** Rated amounts carry 6 decimal places, rounded half-even. */
export function amount6(d: Dec): string {
  return d.toDecimalPlaces(6, Dec.ROUND_HALF_EVEN).toFixed(6);
}

/** A decimal string without trailing zeros ("150000.000000" → "150000", "0.500" → "0.5"). */
export function plain(s: string): string {
  return new Dec(s).toFixed();
}

/**
 * `digits` without its trailing zeros ("2500" → "25", "000" → ""). A loop, not
 * `replace(/0+$/, '')`: that expression restarts at every zero of a run that is not at the
 * end, so a value of tens of thousands of zeros before a last digit took seconds of the event
 * loop (quadratic); this is linear.
 */
export function withoutTrailingZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
  return end === digits.length ? digits : digits.slice(0, end);
}
