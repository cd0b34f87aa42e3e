/**
 * RFC 3339 timestamps (`2026-11-22T10:00:00.123Z`, `2026-11-22T11:00:00+01:00`). A time zone
 * is required: a local time without one names no instant. Fractions beyond milliseconds are
 * truncated (floored) to the millisecond, which can never move an event into another hour.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** The instants RFC 3339 can write in UTC: years 0000 to 9999. */
const EARLIEST_MS = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const LATEST_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/**
 * Epoch milliseconds, or undefined when `text` is not an RFC 3339 timestamp of a real instant.
 * An instant whose offset takes it out of years 0000–9999 in UTC (`9999-12-31T23:00:00-05:00`)
 * is refused too: Tally answers in UTC, and such an instant would come back in the
 * extended-year form (`+010000-…`) that RFC 3339 readers refuse.
 */
export function parseTimestamp(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const at = utc(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
  return at < EARLIEST_MS || at > LATEST_MS ? undefined : at;
}

/** Date.UTC, except that years 0–99 are those years, not 1900–1999. */
function utc(year: number, monthIndex: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  if (year >= 100) return Date.UTC(year, monthIndex, day, hour, minute, second, ms);
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime();
}

function daysIn(year: number, month: number): number {
  return new Date(utc(year, month, 0)).getUTCDate();
}

const DAY_MS = 86_400_000;
let cachedDay = Number.NaN;
let cachedDayText = '';

/**
 * `YYYY-MM-DD hh:mm:ss.sss` in UTC: what ClickHouse parses into DateTime64(3, 'UTC'). On the
 * ingest hot path: the date part is cached (events of a batch mostly share a day) and the time
 * of day is plain integer arithmetic.
 */
export function clickhouseTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedDayText = new Date(day * DAY_MS).toISOString().slice(0, 10);
  }
  let rest = ms - day * DAY_MS;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const sec = rest % 60;
  rest = (rest - sec) / 60;
  const min = rest % 60;
  const hour = (rest - min) / 60;
  return `${cachedDayText} ${two(hour)}:${two(min)}:${two(sec)}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Hours in epoch milliseconds: usage is rolled up, rated and stored by the UTC hour. */
export const HOUR_MS = 3_600_000;

export const floorHour = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;
export const ceilHour = (ms: number): number => Math.ceil(ms / HOUR_MS) * HOUR_MS;
