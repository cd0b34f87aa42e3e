import type { Feature } from '../catalog/plans.js';

/**
 * The reset window of a metered feature at an instant, as a pure function: the subscription's
 * billing period, or the calendar day, week (from Monday) or month that holds `at` in the
 * customer's time zone (UTC when it has none). A window is [start, end); the usage counts the
 * events timestamped inside it. A local day begins at its first instant: where a daylight-saving
 * change skips midnight, at the change; where midnight happens twice, at the first.
 */
export type Reset = Extract<Feature, { type: 'metered' }>['reset'];

const DAY_MS = 86_400_000;

export function resetWindow(reset: Reset, billingPeriod: { start: number; end: number }, at: number, timeZone: string | null = null): { start: number; end: number } {
  if (reset === 'period') return billingPeriod;
  if (timeZone === null || timeZone === 'UTC') return utcWindow(reset, at);
  // Windows of one zone and kind are shared by every customer in it: the last one is kept.
  const key = `${timeZone}\n${reset}`;
  const kept = lastWindow.get(key);
  if (kept !== undefined && kept.start <= at && at < kept.end) return kept;
  const w = zonedWindow(reset, at, timeZone);
  if (lastWindow.size > 10_000) lastWindow.clear();
  lastWindow.set(key, w);
  return w;
}

const lastWindow = new Map<string, { start: number; end: number }>();

function utcWindow(reset: Exclude<Reset, 'period'>, at: number): { start: number; end: number } {
  const day = Math.floor(at / DAY_MS) * DAY_MS;
  switch (reset) {
    case 'day':
      return { start: day, end: day + DAY_MS };
    case 'week': {
      // 1970-01-01 was a Thursday: days since a Monday are (days + 3) mod 7.
      const start = day - ((((day / DAY_MS + 3) % 7) + 7) % 7) * DAY_MS;
      return { start, end: start + 7 * DAY_MS };
    }
    case 'month': {
      const d = new Date(at);
      return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
    }
  }
}

function zonedWindow(reset: Exclude<Reset, 'period'>, at: number, tz: string): { start: number; end: number } {
  const { year, month, day } = localDate(tz, at);
  switch (reset) {
    case 'day':
      return { start: startOfLocalDay(tz, year, month, day), end: startOfLocalDay(tz, year, month, day + 1) };
    case 'week': {
      const sinceMonday = (new Date(Date.UTC(year, month, day)).getUTCDay() + 6) % 7;
      return { start: startOfLocalDay(tz, year, month, day - sinceMonday), end: startOfLocalDay(tz, year, month, day - sinceMonday + 7) };
    }
    case 'month':
      return { start: startOfLocalDay(tz, year, month, 1), end: startOfLocalDay(tz, year, month + 1, 1) };
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock date and time in `tz` at instant `t` (month 0-based), as a UTC timestamp of those fields, and the date. */
function localDate(tz: string, t: number): { year: number; month: number; day: number; wall: number } {
  // Calendar fields (year, month, day, hour, minute, second): small integers, never amounts.
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const year = p.year!;
  const month = p.month! - 1;
  const day = p.day!;
  return { year, month, day, wall: Date.UTC(year, month, day, p.hour, p.minute, p.second) };
}

/** The offset of `tz` at instant `t` (wall clock less UTC), in ms; seconds-exact, which every zone's offsets since 1970 are. */
function offsetAt(tz: string, t: number): number {
  const whole = Math.floor(t / 1000) * 1000;
  return localDate(tz, whole).wall - whole;
}

/** The first instant of the local calendar day (year, month 0-based, day; overflowing days roll over) in `tz`. */
function startOfLocalDay(tz: string, year: number, month: number, day: number): number {
  const midnight = Date.UTC(year, month, day);
  const target = new Date(midnight);
  // The offsets in force half a day either side: midnight is at one of them, or (a change
  // that skips it) the day begins at the change, which the earlier offset finds.
  const candidates = [midnight - offsetAt(tz, midnight - DAY_MS / 2), midnight - offsetAt(tz, midnight + DAY_MS / 2)];
  const onTheDay = candidates.filter((t) => {
    const d = localDate(tz, t);
    return d.year === target.getUTCFullYear() && d.month === target.getUTCMonth() && d.day === target.getUTCDate();
  });
  return Math.min(...(onTheDay.length > 0 ? onTheDay : candidates));
}
