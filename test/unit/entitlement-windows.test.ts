import { describe, expect, it } from 'vitest';
import { TimeZoneSchema } from '../../catalog/address.js';
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

describe('resetWindow in a time zone', () => {
  it.each<[string, Reset, string, string, string, string]>([
    ['a day in Berlin (UTC+1) begins at 23:00 UTC', 'day', 'Europe/Berlin', '2026-12-03T23:30:00Z', '2026-12-03T23:00:00Z', '2026-12-04T23:00:00Z'],
    ['the same instant is still the day before in New York', 'day', 'America/New_York', '2026-12-03T23:30:00Z', '2026-12-03T05:00:00Z', '2026-12-04T05:00:00Z'],
    ['a half-hour zone (Kolkata, UTC+5:30)', 'day', 'Asia/Kolkata', '2026-12-03T18:29:59Z', '2026-12-02T18:30:00Z', '2026-12-03T18:30:00Z'],
    ['the spring-forward day in Berlin has 23 hours', 'day', 'Europe/Berlin', '2026-03-29T12:00:00Z', '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z'],
    ['the fall-back day in Berlin has 25 hours', 'day', 'Europe/Berlin', '2026-10-25T12:00:00Z', '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'],
    ['Santiago skips midnight: the day begins at 01:00 local, the change', 'day', 'America/Santiago', '2026-09-06T12:00:00Z', '2026-09-06T04:00:00Z', '2026-09-07T03:00:00Z'],
    ['the day before the change in Santiago ends at it', 'day', 'America/Santiago', '2026-09-06T03:59:59Z', '2026-09-05T04:00:00Z', '2026-09-06T04:00:00Z'],
    ['a week from Monday in Tokyo (UTC+9)', 'week', 'Asia/Tokyo', '2026-11-29T16:00:00Z', '2026-11-29T15:00:00Z', '2026-12-06T15:00:00Z'],
    ['a week in New York across the fall-back change', 'week', 'America/New_York', '2026-11-04T12:00:00Z', '2026-11-02T05:00:00Z', '2026-11-09T05:00:00Z'],
    ['a month in New York across a change', 'month', 'America/New_York', '2026-11-15T12:00:00Z', '2026-11-01T04:00:00Z', '2026-12-01T05:00:00Z'],
    ['December in Auckland (UTC+13 in summer) begins in November UTC', 'month', 'Pacific/Auckland', '2026-11-30T11:00:00Z', '2026-11-30T11:00:00Z', '2026-12-31T11:00:00Z'],
    ['UTC spelled out is UTC', 'day', 'UTC', '2026-12-03T23:30:00Z', '2026-12-03T00:00:00Z', '2026-12-04T00:00:00Z'],
  ])('%s', (_, reset, zone, now, start, end) => {
    expect(resetWindow(reset, period, at(now), zone)).toEqual({ start: at(start), end: at(end) });
  });

  it('the period is the period in any zone', () => {
    expect(resetWindow('period', period, at('2026-12-01T00:00:00Z'), 'Asia/Tokyo')).toEqual(period);
  });

  it('successive instants across a zone and its days give contiguous windows', () => {
    let w = resetWindow('day', period, at('2026-03-20T00:00:00Z'), 'Europe/Berlin');
    for (let i = 0; i < 30; i++) {
      const next = resetWindow('day', period, w.end, 'Europe/Berlin');
      expect(next.start).toBe(w.end);
      expect(resetWindow('day', period, w.end - 1, 'Europe/Berlin')).toEqual(w);
      w = next;
    }
  });
});

describe('a customer time zone', () => {
  it.each([
    ['asia/tokyo', 'Asia/Tokyo'],
    ['UTC', 'UTC'],
    ['Etc/GMT+5', 'Etc/GMT+5'],
    // ICU's canonical name for the same zone (a link in the tz database).
    ['America/Argentina/Buenos_Aires', 'America/Buenos_Aires'],
  ])('%s is kept as %s', (given, kept) => {
    expect(TimeZoneSchema.parse(given)).toBe(kept);
  });

  it.each(['Mars/Olympus_Mons', '', '../etc/passwd', 'Europe/Berlin\u0000', `Europe/${'x'.repeat(60)}`, 'Europe/Berlin\ud800', '+01:00', ' Europe/Berlin'])('%j is refused', (given) => {
    expect(TimeZoneSchema.safeParse(given).success).toBe(false);
  });
});
