import { describe, expect, it } from 'vitest';
import { period, periodAt, periodStart } from '../../catalog/periods.js';

const d = (s: string) => new Date(s);
const day = (x: Date) => x.toISOString();

describe('billing periods', () => {
  it.each([
    ['Jan 31 → Feb 28 → Mar 31 → Apr 30 (no accumulation)', '2026-01-31T00:00:00.000Z', ['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30', '2026-05-31']],
    ['Jan 31 in a leap year → Feb 29', '2024-01-31T00:00:00.000Z', ['2024-01-31', '2024-02-29', '2024-03-31']],
    ['Jan 30 → Feb 28 → Mar 30', '2025-01-30T00:00:00.000Z', ['2025-01-30', '2025-02-28', '2025-03-30']],
    ['the 15th stays the 15th', '2026-06-15T00:00:00.000Z', ['2026-06-15', '2026-07-15', '2026-08-15']],
    ['across a year end', '2026-11-30T00:00:00.000Z', ['2026-11-30', '2026-12-30', '2027-01-30', '2027-02-28']],
  ])('monthly: %s', (_what, anchor, starts) => {
    starts.forEach((s, k) => expect(day(periodStart(d(anchor), 'month', k)).slice(0, 10), `period ${k}`).toBe(s));
  });

  it.each([
    ['Feb 29 → Feb 28 in common years, Feb 29 again in leap years', '2024-02-29T00:00:00.000Z', ['2024-02-29', '2025-02-28', '2026-02-28', '2027-02-28', '2028-02-29']],
    ['an ordinary date', '2026-03-10T00:00:00.000Z', ['2026-03-10', '2027-03-10', '2028-03-10']],
  ])('yearly: %s', (_what, anchor, starts) => {
    starts.forEach((s, k) => expect(day(periodStart(d(anchor), 'year', k)).slice(0, 10), `period ${k}`).toBe(s));
  });

  it('keeps the time of day of the anchor', () => {
    expect(day(periodStart(d('2026-01-31T13:45:10.123Z'), 'month', 1))).toBe('2026-02-28T13:45:10.123Z');
  });

  it.each([
    ['a backdated start (imports)', '2025-06-15T00:00:00.000Z', 'month', '2026-11-22T10:00:00.000Z', 17, '2026-11-15', '2026-12-15'],
    ['the very start', '2026-01-31T00:00:00.000Z', 'month', '2026-01-31T00:00:00.000Z', 0, '2026-01-31', '2026-02-28'],
    ['exactly on a boundary: the new period', '2026-01-31T00:00:00.000Z', 'month', '2026-02-28T00:00:00.000Z', 1, '2026-02-28', '2026-03-31'],
    ['one millisecond before a boundary', '2026-01-31T00:00:00.000Z', 'month', '2026-02-27T23:59:59.999Z', 0, '2026-01-31', '2026-02-28'],
    ['late in a clamped month', '2026-01-31T00:00:00.000Z', 'month', '2026-03-30T12:00:00.000Z', 1, '2026-02-28', '2026-03-31'],
    ['yearly, years later', '2024-02-29T00:00:00.000Z', 'year', '2027-06-01T00:00:00.000Z', 3, '2027-02-28', '2028-02-29'],
    ['anchor late in the day, at early next month', '2026-01-31T23:00:00.000Z', 'month', '2026-02-28T22:00:00.000Z', 0, '2026-01-31', '2026-02-28'],
  ] as const)('the period containing an instant: %s', (_what, anchor, interval, at, index, start, end) => {
    const p = periodAt(d(anchor), interval, d(at));
    expect(p.index).toBe(index);
    expect(day(p.start).slice(0, 10)).toBe(start);
    expect(day(p.end).slice(0, 10)).toBe(end);
    expect(p.start.getTime()).toBeLessThanOrEqual(d(at).getTime());
    expect(p.end.getTime()).toBeGreaterThan(d(at).getTime());
  });

  it('periods tile time: each ends where the next starts, for many anchors', () => {
    for (let a = 0; a < 400; a++) {
      const anchor = new Date(Date.UTC(2023, 0, 1) + a * 86_400_000 + (a % 24) * 3_600_000);
      for (const interval of ['month', 'year'] as const) {
        let prev = period(anchor, interval, 0);
        for (let k = 1; k < 30; k++) {
          const p = period(anchor, interval, k);
          expect(p.start.getTime()).toBe(prev.end.getTime());
          expect(p.end.getTime()).toBeGreaterThan(p.start.getTime());
          const mid = new Date((p.start.getTime() + p.end.getTime()) / 2);
          expect(periodAt(anchor, interval, mid).index).toBe(k);
          prev = p;
        }
      }
    }
  });

  it('refuses an instant before the start and a negative index', () => {
    expect(() => periodAt(d('2026-01-31T00:00:00Z'), 'month', d('2026-01-30T00:00:00Z'))).toThrow(RangeError);
    expect(() => periodStart(d('2026-01-31T00:00:00Z'), 'month', -1)).toThrow(RangeError);
  });
});
