import { minorUnits } from '../core/currency.js';
import { Dec, withoutTrailingZeros } from '../core/money.js';

/**
 * Amounts, quantities, rates and dates as a customer's locale writes them, exactly.
 *
 * A decimal never goes through a binary float: ICU is given the integer part as a BigInt
 * (exact at any length) to place the group separators, the sign and the currency symbol, and
 * the fraction digits are written from the decimal string itself with the locale's decimal
 * separator. Nothing is rounded here: an amount shows at least its currency's minor units and
 * every further digit it has that is not a trailing zero ("12.345000" USD → "$12.345",
 * "12.340000" → "$12.34", "1200.000000" JPY → "￥1,200"), so a document shows what the invoice
 * holds, never a rounded neighbour of it.
 */
export const DEFAULT_LOCALE = 'en-US';
/**
 * Figures are written in Latin digits whatever the locale's own numbering system: the document
 * fonts have no other digits, and a reader of a financial document expects them (the
 * separators, symbol and words stay the locale's).
 */
const LATN = 'latn';

export class Formatter {
  readonly locale: string;
  private readonly money: Intl.NumberFormat;
  private readonly number: Intl.NumberFormat;
  private readonly date: Intl.DateTimeFormat;
  private readonly minor: number;
  private readonly decimalSeparator: string;

  constructor(
    locale: string | null | undefined,
    readonly currency: string,
  ) {
    this.locale = supported(locale);
    this.minor = minorUnits(currency);
    this.money = new Intl.NumberFormat(this.locale, { style: 'currency', currency, minimumFractionDigits: 0, maximumFractionDigits: 0, numberingSystem: LATN });
    this.number = new Intl.NumberFormat(this.locale, { maximumFractionDigits: 0, numberingSystem: LATN });
    this.date = new Intl.DateTimeFormat(this.locale, { dateStyle: 'medium', timeZone: 'UTC', numberingSystem: LATN });
    this.decimalSeparator = new Intl.NumberFormat(this.locale, { minimumFractionDigits: 1, numberingSystem: LATN }).formatToParts(1.5).find((p) => p.type === 'decimal')?.value ?? '.';
  }

  /** An amount in the document's currency: its minor units at least, every significant digit beyond. */
  amount(value: string): string {
    return this.write(this.money, value, this.minor);
  }

  /** A quantity or unit count, exact, with the locale's grouping. */
  quantity(value: string): string {
    return this.write(this.number, value, 0);
  }

  /** A unit price: like an amount, with every digit of its up to 12 decimals. */
  unitPrice(value: string): string {
    return this.amount(value);
  }

  /** A tax or discount rate given in percent ("19.5" → "19,5 %" in de-DE). */
  percent(value: string): string {
    // The pattern of 100 % ("1" of the percent format is 100): the number in it is replaced.
    const nf = new Intl.NumberFormat(this.locale, { style: 'percent', maximumFractionDigits: 0, numberingSystem: LATN });
    const d = new Dec(value);
    const [int, frac = ''] = d.abs().toFixed().split('.');
    const grouped = this.number.formatToParts(BigInt(int!)).filter((p) => p.type === 'integer' || p.type === 'group').map((p) => p.value).join('');
    const body = frac === '' ? grouped : grouped + this.decimalSeparator + frac;
    let placed = false;
    return nf
      .formatToParts(d.isNegative() && !d.isZero() ? -1n : 1n)
      .map((p) => {
        if (p.type !== 'integer' && p.type !== 'group') return p.value;
        if (placed) return '';
        placed = true;
        return body;
      })
      .join('');
  }

  /** A calendar date (UTC, the day an instant falls on there). */
  day(iso: string | Date): string {
    return this.date.format(typeof iso === 'string' ? new Date(iso) : iso);
  }

  /** A period [start, end) as its first and last day. */
  period(start: string, end: string): string {
    const last = new Date(new Date(end).getTime() - 1);
    return this.date.formatRange(new Date(start), last < new Date(start) ? new Date(start) : last);
  }

  private write(nf: Intl.NumberFormat, value: string, minFraction: number): string {
    const d = new Dec(value);
    const [int, frac = ''] = d.abs().toFixed().split('.');
    const digits = withoutTrailingZeros(frac).padEnd(minFraction, '0');
    const grouped = nf
      .formatToParts(BigInt(int!))
      .filter((p) => p.type === 'integer' || p.type === 'group')
      .map((p) => p.value)
      .join('');
    const body = digits.length === 0 ? grouped : grouped + this.decimalSeparator + digits;
    // The locale's pattern (sign, symbol, spacing) around the number, taken from ±1: the value
    // itself may be -0.x, which no BigInt carries the sign of.
    return nf
      .formatToParts(d.isNegative() && !d.isZero() ? -1n : 1n)
      .map((p) => (p.type === 'integer' ? body : p.value))
      .join('');
  }
}

/** The locale as given when this Node knows it, else the default. */
export function supported(locale: string | null | undefined): string {
  if (locale == null) return DEFAULT_LOCALE;
  try {
    return Intl.NumberFormat.supportedLocalesOf(locale)[0] ?? DEFAULT_LOCALE;
  } catch {
    return DEFAULT_LOCALE;
  }
}
