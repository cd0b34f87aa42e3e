/**
 * Calendar dates in an IANA time zone, turned into the instants the usage API takes: a day
 * "2026-11-22" in Europe/Berlin begins at 2026-11-21T23:00:00Z. Intl knows the zones' rules, so
 * daylight-saving changes are the zone's, not the browser's.
 */

/** The browser's own zone, the default of the usage page. */
export const browserZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** Whether Intl knows `zone` (the API checks again, and says which zones it takes). */
export function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const partsFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall clock of `zone` at `ms`, as numbers. */
function wallClock(ms: number, zone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  let format = partsFormats.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    partsFormats.set(zone, format);
  }
  // Calendar fields, small integers; the instant is formatted once.
  const parts = format.formatToParts(ms);
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return { year: part('year'), month: part('month'), day: part('day'), hour: part('hour'), minute: part('minute'), second: part('second') };
}

/** The zone's offset from UTC at `ms`, in milliseconds. */
function offsetAt(ms: number, zone: string): number {
  const c = wallClock(ms, zone);
  return Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second) - (ms - (ms % 1000));
}

/**
 * Whether `zone` is a whole number of hours off UTC at each of these instants. Usage is kept
 * by the UTC hour, so the API takes day and month windows only in such a zone (India's +5:30
 * or Nepal's +5:45 start their days inside an hour).
 */
export function wholeHours(zone: string, at: readonly number[]): boolean {
  return at.every((ms) => offsetAt(ms, zone) % 3_600_000 === 0);
}

/** The first instant of the day `date` (YYYY-MM-DD) in `zone`, as RFC 3339 UTC. */
export function startOfDay(date: string, zone: string): string {
  const [y = 1970, m = 1, d = 1] = date.split('-').map(Number);
  const local = Date.UTC(y, m - 1, d);
  let at = local - offsetAt(local, zone);
  // Once more with the offset in force at that instant (the guess may sit across a change).
  at = local - offsetAt(at, zone);
  return new Date(at).toISOString().replace('.000Z', 'Z');
}

/** Today's date (YYYY-MM-DD) in `zone`. */
export function today(zone: string): string {
  const c = wallClock(Date.now(), zone);
  return isoDate(Date.UTC(c.year, c.month - 1, c.day));
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** `date` moved by whole days. */
export function addDays(date: string, days: number): string {
  const [y = 1970, m = 1, d = 1] = date.split('-').map(Number);
  return isoDate(Date.UTC(y, m - 1, d + days));
}

/** The first day of the month `date` is in, moved by whole months. */
export function monthStart(date: string, months = 0): string {
  const [y = 1970, m = 1] = date.split('-').map(Number);
  return isoDate(Date.UTC(y, m - 1 + months, 1));
}
