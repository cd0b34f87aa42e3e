import { Dec } from '../core/money.js';
import { errors } from './errors.js';
import { type Param, str } from './params.js';

/**
 * Stripe's presentment currencies and the decimals of their API amounts. Stripe's table, not
 * ISO 4217's: ISK, HUF and TWD stay two-decimal in the API (whole units are multiples of 100)
 * although they are effectively zero-decimal, and only the five three-decimal currencies below
 * have three.
 */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

const SUPPORTED = new Set([
  ...ZERO_DECIMAL,
  ...THREE_DECIMAL,
  ...`usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bmd bnd bob brl bsd bwp byn bzd cad cdf chf cny cop crc cve
  czk dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gtq gyd hkd hnl htg huf idr ils inr isk jmd kes kgs khr kyd kzt lak lbp
  lkr lrd lsl mad mdl mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln qar ron rsd rub
  sar sbd scr sek sgd shp sle sos srd std szl thb tjs top try ttd twd tzs uah uyu uzs wst xcd yer zar zmw`.split(/\s+/),
]);

/** Currencies Stripe keeps two-decimal in the API but charges in whole units only (amounts divisible by 100). */
const WHOLE_UNITS_ONLY = new Set(['isk']);

/** Whether a charged amount (minor units) is one Stripe takes in this currency. */
export function isChargeableAmount(amount: number, currency: string): boolean {
  return !WHOLE_UNITS_ONLY.has(currency.toLowerCase()) || amount % 100 === 0;
}

export function isSupportedCurrency(code: string): boolean {
  return SUPPORTED.has(code);
}

/** Decimal places of a currency's API amounts in Stripe (jpy 0, usd 2, bhd 3). */
export function minorUnits(currency: string): number {
  const c = currency.toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

/** An amount in minor units as a decimal string in major units: (32900, 'usd') → '329.00'. */
export function formatMinor(amount: number, currency: string): string {
  const places = minorUnits(currency);
  return new Dec(amount).dividedBy(new Dec(10).pow(places)).toFixed(places);
}

/** A currency parameter: three letters, one Stripe supports; returned lower-case. */
export function currency(): Param<string> {
  const code = str({ max: 3 });
  return {
    optional: false,
    parse(raw, name) {
      const c = code.parse(raw, name).toLowerCase();
      if (!SUPPORTED.has(c)) throw errors.invalidRequest(`Invalid currency: ${c}. Stripe currently supports these currencies: ${[...SUPPORTED].sort().join(', ')}`, name);
      return c;
    },
  };
}
