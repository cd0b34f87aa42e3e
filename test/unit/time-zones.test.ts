import { describe, expect, it } from 'vitest';
import { canonicalZone, TimeZones } from '../../metering/time-zones.js';

/** Time zones of usage windows: canonical names, and fractional offsets found once per zone, not by walking a range. */
const zones = new TimeZones({ earliest: Date.UTC(1970, 0, 1), latest: Date.UTC(2106, 0, 1) });
const at = (iso: string) => Date.parse(iso);

describe('canonicalZone', () => {
  it.each([
    ['utc', 'UTC'],
    ['UTC', 'UTC'],
    ['europe/berlin', 'Europe/Berlin'],
    ['AMERICA/NEW_YORK', 'America/New_York'],
    ['Asia/Kolkata', new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Kolkata' }).resolvedOptions().timeZone],
  ])('%s is %s', (tz, canonical) => {
    expect(canonicalZone(tz)).toBe(canonical);
  });

  it.each(['', 'Mars/Olympus', '+01:00', 'x'.repeat(65), 'Europe/Berlin\u0000'])('%j is no zone', (tz) => {
    expect(canonicalZone(tz)).toBeUndefined();
  });
});

describe('fractional offsets', () => {
  it.each([
    ['Europe/Berlin', '1970-01-01T00:00:00Z', '2106-01-01T00:00:00Z', false, 'whole hours, DST included'],
    ['UTC', '1970-01-01T00:00:00Z', '2106-01-01T00:00:00Z', false, 'never offset'],
    ['Asia/Kolkata', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', true, '+5:30'],
    ['Asia/Kathmandu', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', true, '+5:45'],
    ['America/Caracas', '2000-01-01T00:00:00Z', '2007-12-09T00:00:00Z', false, '-4 until 9 December 2007'],
    ['America/Caracas', '2007-12-09T00:00:00Z', '2007-12-10T00:00:00Z', true, '-4:30 from 9 December 2007'],
    ['America/Caracas', '2012-01-01T00:00:00Z', '2012-01-02T00:00:00Z', true, '-4:30 until 1 May 2016'],
    ['America/Caracas', '2016-05-02T00:00:00Z', '2106-01-01T00:00:00Z', false, '-4 again after it'],
    ['America/Montevideo', '1974-03-01T00:00:00Z', '1974-03-02T00:00:00Z', true, '-2:30 for some months of 1974'],
    ['America/Montevideo', '1980-01-01T00:00:00Z', '2106-01-01T00:00:00Z', false, 'whole hours since'],
    ['Australia/Lord_Howe', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', false, '+11 in the southern summer'],
    ['Australia/Lord_Howe', '2026-07-01T00:00:00Z', '2026-07-02T00:00:00Z', true, '+10:30 in the winter'],
  ])('%s from %s to %s: %s (%s)', (zone, from, to, expected) => {
    expect(zones.hasFractionalOffset(zone, at(from), at(to))).toBe(expected);
  });

  it('answers for the widest range without walking it: a thousand checks of a cached zone take milliseconds', () => {
    zones.hasFractionalOffset('America/New_York', 0, 1);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) zones.hasFractionalOffset('America/New_York', Date.UTC(1970, 0, 1), Date.UTC(2106, 0, 1));
    expect(performance.now() - started).toBeLessThan(100);
  });
});
