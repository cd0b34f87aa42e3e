import { minorUnits } from '../core/currency.js';
import { Dec } from '../core/money.js';

/**
 * How Tally's amounts become Stripe API amounts. Stripe counts amounts in its own table of
 * decimals, which is ISO 4217's except for two currencies Tally can bill in:
 *
 * - ISK has no minor unit (ISO 4217: 0 decimals, so Tally rounds to whole krónur), yet Stripe
 *   keeps it two-decimal in the API: 1 króna is `100`, and charged amounts must be multiples
 *   of 100.
 * - MGA has two decimals in ISO 4217 (Tally rounds to them), yet Stripe takes it as
 *   zero-decimal: only whole ariary can be sent.
 *
 * Stripe's other zero- and three-decimal currencies have ISO 4217's decimals (JPY 0, BHD 3).
 */
const STRIPE_DECIMALS: Readonly<Record<string, number>> = { ISK: 2, MGA: 0 };

/** Decimals of the currency's amounts in Stripe's API (USD 2, JPY 0, ISK 2, MGA 0, BHD 3). */
export function stripeDecimals(currency: string): number {
  return STRIPE_DECIMALS[currency] ?? minorUnits(currency);
}

export interface StripeScale {
  /** The decimals line amounts are apportioned to: the coarser of Tally's and Stripe's. */
  decimals: number;
  /** What one apportioned unit is in Stripe API units (ISK: 100). */
  factor: number;
}

/** How to turn a Tally invoice in this currency into Stripe API amounts. */
export function stripeScale(currency: string): StripeScale {
  const api = stripeDecimals(currency);
  const decimals = Math.min(api, minorUnits(currency));
  return { decimals, factor: 10 ** (api - decimals) };
}

/**
 * A Tally total in Stripe API units, or undefined when Stripe's unit cannot carry it exactly
 * (an MGA total with fractions of an ariary).
 */
export function stripeAmount(total: string, currency: string): number | undefined {
  const scaled = new Dec(total).times(new Dec(10).pow(stripeDecimals(currency)));
  return scaled.isInteger() ? scaled.toNumber() : undefined;
}
