/**
 * Billing periods, as a pure core (no clock: callers pass the instant). Periods are anchored
 * on the subscription's start: period k starts k months (or years) after it, on the anchor's
 * day of month clamped to the month's last day, at the anchor's time of day (UTC). Clamping
 * never accumulates: Jan 31 → Feb 28 (29 in leap years) → Mar 31 → Apr 30. Feb 29 yearly →
 * Feb 28 in other years. A period is [start, end), its end being the next period's start.
 */
export type Interval = 'month' | 'year';

export interface Period {
  index: number;
  start: Date;
  end: Date;
}

function daysInMonth(year: number, month0: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month0 + 1, 0);
  return d.getUTCDate();
}

/** The start of period `k` (k ≥ 0). */
export function periodStart(anchor: Date, interval: Interval, k: number): Date {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`period index must be a whole number ≥ 0, got ${k}`);
  const months = interval === 'month' ? k : 12 * k;
  const total = anchor.getUTCFullYear() * 12 + anchor.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month0 = total % 12;
  const day = Math.min(anchor.getUTCDate(), daysInMonth(year, month0));
  // Not Date.UTC, which reads years 0–99 as 1900–1999 (a stored start in year 1 would get periods in 1901).
  const d = new Date(0);
  d.setUTCFullYear(year, month0, day);
  d.setUTCHours(anchor.getUTCHours(), anchor.getUTCMinutes(), anchor.getUTCSeconds(), anchor.getUTCMilliseconds());
  return d;
}

export function period(anchor: Date, interval: Interval, k: number): Period {
  return { index: k, start: periodStart(anchor, interval, k), end: periodStart(anchor, interval, k + 1) };
}

/** The period that contains `at` (which must not be before the anchor). */
export function periodAt(anchor: Date, interval: Interval, at: Date): Period {
  if (at.getTime() < anchor.getTime()) throw new RangeError(`${at.toISOString()} is before the subscription starts (${anchor.toISOString()})`);
  const monthsApart = (at.getUTCFullYear() - anchor.getUTCFullYear()) * 12 + (at.getUTCMonth() - anchor.getUTCMonth());
  let k = Math.max(0, interval === 'month' ? monthsApart : Math.floor(monthsApart / 12));
  while (k > 0 && periodStart(anchor, interval, k).getTime() > at.getTime()) k--;
  while (periodStart(anchor, interval, k + 1).getTime() <= at.getTime()) k++;
  return period(anchor, interval, k);
}
