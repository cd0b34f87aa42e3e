/**
 * Time zones of usage windows. A zone is named by any spelling `Intl` accepts (`utc`,
 * `europe/berlin`, `US/Pacific`) and used under its canonical name, the one ClickHouse knows.
 * Day and month windows need the zone's offset to be whole hours wherever a boundary may fall
 * (usage is kept per UTC hour), so each zone's fractional-offset intervals over the instants
 * the store can hold are found once and kept; a query then checks its range against them
 * without walking it.
 */
const HOUR_MS = 3_600_000;
/** Offsets change a few times a year at most; since 1970 no fractional-offset spell has lasted under months. */
const STEP_MS = 14 * 24 * HOUR_MS;

/** The canonical name of a zone, or undefined when it is not an IANA time zone. */
export function canonicalZone(tz: string): string | undefined {
  if (tz.length === 0 || tz.length > 64) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** [start, end) intervals, in epoch ms on whole hours, during which a zone's offset is not whole hours. */
type Intervals = readonly (readonly [number, number])[];

export interface ZoneSpan {
  /** The first and last instants (epoch ms, whole hours) any query can cover. */
  earliest: number;
  latest: number;
}

export class TimeZones {
  private readonly fractional = new Map<string, Intervals>();

  constructor(private readonly span: ZoneSpan) {}

  /**
   * Whether the zone's UTC offset is a fraction of an hour at any instant of [from, to]. The
   * zone must be canonical (so the cache holds at most one entry per IANA zone).
   */
  hasFractionalOffset(zone: string, from: number, to: number): boolean {
    let intervals = this.fractional.get(zone);
    if (intervals === undefined) {
      intervals = fractionalIntervals(zone, this.span);
      this.fractional.set(zone, intervals);
    }
    return intervals.some(([start, end]) => start <= to && from < end);
  }
}

/**
 * Sampled every STEP_MS; where two samples disagree, the change is found to the hour by
 * bisection, and the interval is widened by an hour on either side so that a change within an
 * hour is counted in the fractional interval.
 */
function fractionalIntervals(zone: string, span: ZoneSpan): Intervals {
  // At a whole UTC hour, the local minute and second are zero exactly when the offset is whole hours.
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, minute: '2-digit', second: '2-digit' });
  const fractionalAt = (t: number) => fmt.format(t) !== '00:00';
  const out: [number, number][] = [];
  let openedAt: number | undefined;
  let prev = span.earliest;
  let prevFractional = fractionalAt(prev);
  if (prevFractional) openedAt = prev;
  for (let t = Math.min(prev + STEP_MS, span.latest); ; t = Math.min(t + STEP_MS, span.latest)) {
    const now = fractionalAt(t);
    if (now !== prevFractional) {
      // The first hour in (prev, t] whose state is `now`.
      let lo = prev / HOUR_MS;
      let hi = t / HOUR_MS;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (fractionalAt(mid * HOUR_MS) === now) hi = mid;
        else lo = mid;
      }
      const change = hi * HOUR_MS;
      if (now) openedAt = change - HOUR_MS;
      else {
        out.push([openedAt ?? span.earliest, change + HOUR_MS]);
        openedAt = undefined;
      }
      prevFractional = now;
    }
    prev = t;
    if (t >= span.latest) break;
  }
  if (openedAt !== undefined) out.push([openedAt, span.latest + HOUR_MS]);
  return out;
}
