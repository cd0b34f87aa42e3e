import { describe, expect, it } from 'vitest';
import { isCurrency } from '../../core/currency.js';
import { stripeAmount, stripeDecimals, stripeScale } from '../../stripe/currency.js';
import { isSupportedCurrency, minorUnits as fakeMinorUnits } from '../../stripe-fake/currency.js';

describe('Tally amounts as Stripe API amounts', () => {
  it('uses the decimals of Stripe’s table (the local Stripe server’s own copy) for every currency both know', () => {
    const both = Intl.supportedValuesOf('currency').filter((c) => isCurrency(c) && isSupportedCurrency(c.toLowerCase()));
    expect(both.length).toBeGreaterThan(130);
    const differ = both.filter((c) => stripeDecimals(c) !== fakeMinorUnits(c.toLowerCase()));
    expect(differ).toEqual([]);
  });

  it.each([
    ['USD', { decimals: 2, factor: 1 }],
    ['JPY', { decimals: 0, factor: 1 }],
    ['BHD', { decimals: 3, factor: 1 }],
    // Whole krónur in Tally, two decimals in Stripe: 1 króna is 100.
    ['ISK', { decimals: 0, factor: 100 }],
    // Two decimals in Tally, whole ariary in Stripe.
    ['MGA', { decimals: 0, factor: 1 }],
  ])('%s', (currency, scale) => {
    expect(stripeScale(currency)).toEqual(scale);
  });

  it('turns a total into Stripe units, or refuses one Stripe cannot carry exactly', () => {
    expect(stripeAmount('4990', 'ISK')).toBe(499_000);
    expect(stripeAmount('12.34', 'USD')).toBe(1234);
    expect(stripeAmount('1.208', 'BHD')).toBe(1208);
    expect(stripeAmount('1234.00', 'MGA')).toBe(1234);
    expect(stripeAmount('1234.56', 'MGA')).toBeUndefined();
    expect(stripeAmount('-5', 'JPY')).toBe(-5);
  });
});
