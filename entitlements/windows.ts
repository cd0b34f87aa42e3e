import type { Feature } from '../catalog/plans.js';

/**
 * The reset window of a metered feature at an instant, as a pure function: the subscription's
 * billing period, or the calendar day, week (from Monday) or month in UTC that holds `at`.
 * A window is [start, end); the usage counts the events timestamped inside it.
 */
export type Reset = Extract<Feature, { type: 'metered' }>['reset'];

const DAY_MS = 86_400_000;

export function resetWindow(reset: Reset, billingPeriod: { start: number; end: number }, at: number): { start: number; end: number } {
  const day = Math.floor(at / DAY_MS) * DAY_MS;
  switch (reset) {
    case 'period':
      return billingPeriod;
    case 'day':
      return { start: day, end: day + DAY_MS };
    case 'week': {
      // 1970-01-01 was a Thursday: days since a Monday are (days + 3) mod 7.
      const start = day - (((day / DAY_MS + 3) % 7) + 7) % 7 * DAY_MS;
      return { start, end: start + 7 * DAY_MS };
    }
    case 'month': {
      const d = new Date(at);
      return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
    }
  }
}
