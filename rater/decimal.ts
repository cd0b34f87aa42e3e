import { Decimal } from 'decimal.js';

/**
 * The rater's decimal type. decimal.js rounds every operation to `precision` significant
 * digits (20 by default); quantities below 10^20 with 6 decimals times prices with 12 need up
 * to 46, so the rater computes at 100 and rounds only where a rule says so.
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
