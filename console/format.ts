/**
 * Display of the API's figures. Money and quantities arrive as decimal strings and are handed
 * to Intl.NumberFormat as strings: since ES2023 it formats a numeric string exactly, digit for
 * digit, where a JS number would already have rounded a large or long amount (0.1 + 0.2, or
 * 12345678901234567.12 as a double). Nothing here turns an amount into a number.
 */

/** The reader's own locale (the browser's). */
const LOCALE: string | undefined = undefined;

type NumericString = `${number}`;
const DECIMAL = /^[+-]?\d+(\.\d+)?$/;
const isNumeric = (value: string): value is NumericString => DECIMAL.test(value);

const moneyFormats = new Map<string, Intl.NumberFormat>();

/**
 * An amount in its currency, exactly as the API holds it: the currency's minor unit at least
 * (Intl knows JPY 0, USD 2, BHD 3) and every further decimal the amount carries (line amounts
 * have 6, unit prices up to 12), so nothing is rounded away.
 */
export function money(amount: string, currency: string): string {
  if (!isNumeric(amount)) return `${amount} ${currency}`;
  let format = moneyFormats.get(currency);
  if (format === undefined) {
    try {
      format = new Intl.NumberFormat(LOCALE, { style: 'currency', currency, maximumFractionDigits: 12 });
    } catch {
      return `${amount} ${currency}`;
    }
    moneyFormats.set(currency, format);
  }
  return format.format(amount);
}

const quantityFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 12 });

/** A quantity with the locale's grouping, every decimal kept. */
export const quantity = (value: string): string => (isNumeric(value) ? quantityFormat.format(value) : value);

/** A whole count (events per second, pending rows): these are JSON integers in the API. */
export const count = (value: number): string => quantityFormat.format(value);

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

function dateTimeFormat(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const cacheKey = JSON.stringify(options);
  let format = dateTimeFormats.get(cacheKey);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(LOCALE, options);
    dateTimeFormats.set(cacheKey, format);
  }
  return format;
}

/** An instant as date and time in the reader's zone (or `timeZone`); the raw text when it is not a date. */
export function dateTime(iso: string, timeZone?: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return dateTimeFormat({ dateStyle: 'medium', timeStyle: 'short', ...(timeZone === undefined ? {} : { timeZone }) }).format(at);
}

/** An instant as a date only. */
export function date(iso: string, timeZone?: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return dateTimeFormat({ dateStyle: 'medium', ...(timeZone === undefined ? {} : { timeZone }) }).format(at);
}

/**
 * A billing period, [start, end) in UTC as the API sends it, as the dates it covers: its first
 * day to its last (the day before `end`), in UTC whatever the reader's zone, as the invoice's
 * PDF shows it (`Oct 26 – Nov 25, 2026` for 2026-10-26 to 2026-11-26).
 */
export function period(start: string, end: string): string {
  const from = new Date(start);
  const to = new Date(end);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return `${start} – ${end}`;
  const last = new Date(Math.max(from.getTime(), to.getTime() - 1));
  return dateTimeFormat({ dateStyle: 'medium', timeZone: 'UTC' }).formatRange(from, last);
}

/** An instant as a time of day with seconds (live views). */
export function timeOfDay(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return dateTimeFormat({ hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(at);
}

/** A duration in seconds, as people say it: "42 s", "3 min 5 s", "2 h 10 min". */
export function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.max(0, Math.trunc(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.trunc(s / 60)} min ${s % 60} s`;
  return `${Math.trunc(s / 3600)} h ${Math.trunc((s % 3600) / 60)} min`;
}

/** A byte count in binary units. */
export function bytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${new Intl.NumberFormat(LOCALE, { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(size)} ${units[unit]}`;
}

/** An API enum value as words ("past_due" → "past due"). */
export const words = (value: string): string => value.replace(/_/g, ' ');
