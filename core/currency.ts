/**
 * ISO 4217 currencies and their minor units. The set of codes is the one the runtime's ICU
 * data knows (Intl.supportedValuesOf), the minor units are ISO 4217's (which ICU does not always
 * follow, e.g. IQD has 3). Every amount on an invoice is rounded to its currency's minor unit.
 */
const MINOR_UNITS: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

// ICU leaves out a few ISO 4217 codes (the funds codes CLF, UYW), so the table above adds them.
const KNOWN = new Set([...Intl.supportedValuesOf('currency'), ...Object.keys(MINOR_UNITS)]);

export function isCurrency(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && KNOWN.has(code);
}

/** Decimal places of the currency's minor unit (JPY 0, USD 2, BHD 3). */
export function minorUnits(code: string): number {
  if (!isCurrency(code)) throw new Error(`not an ISO 4217 currency: ${code}`);
  return MINOR_UNITS[code] ?? 2;
}
