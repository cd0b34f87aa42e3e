import { describe, expect, it } from 'vitest';
import { resetWindow, type Reset } from '../../entitlements/windows.js';

const at = (s: string) => Date.parse(s);
const period = { start: at('2026-11-15T09:30:00Z'), end: at('2026-12-15T09:30:00Z') };

describe('resetWindow', () => {
  it.each<[string, Reset, string, string, string]>([
    ['the billing period, whatever the day', 'period', '2026-12-01T00:00:00Z', '2026-11-15T09:30:00Z', '2026-12-15T09:30:00Z'],
    ['a day from midnight UTC', 'day', '2026-12-03T23:59:59.999Z', '2026-12-03T00:00:00Z', '2026-12-04T00:00:00Z'],
    ['a day starting on its midnight', 'day', '2026-12-04T00:00:00Z', '2026-12-04T00:00:00Z', '2026-12-05T00:00:00Z'],
    ['a week from Monday (a Thursday)', 'week', '2026-12-03T12:00:00Z', '2026-11-30T00:00:00Z', '2026-12-07T00:00:00Z'],
    ['a week from Monday (a Sunday night)', 'week', '2026-12-06T23:00:00Z', '2026-11-30T00:00:00Z', '2026-12-07T00:00:00Z'],
    ['a week from Monday (the Monday itself)', 'week', '2026-11-30T00:00:00Z', '2026-11-30T00:00:00Z', '2026-12-07T00:00:00Z'],
    ['a week across a new year', 'week', '2027-01-01T08:00:00Z', '2026-12-28T00:00:00Z', '2027-01-04T00:00:00Z'],
    ['a calendar month', 'month', '2026-12-31T23:00:00Z', '2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z'],
    ['February of a leap year', 'month', '2028-02-29T12:00:00Z', '2028-02-01T00:00:00Z', '2028-03-01T00:00:00Z'],
  ])('%s', (_, reset, now, start, end) => {
    expect(resetWindow(reset, period, at(now))).toEqual({ start: at(start), end: at(end) });
  });
});
