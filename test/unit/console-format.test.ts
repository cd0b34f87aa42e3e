import { describe, expect, it } from 'vitest';
import { money, period, quantity } from '../../console/format.js';
import { addDays, monthStart, startOfDay, wholeHours } from '../../console/zones.js';

/**
 * The console's figures and dates (console/format.ts, console/zones.ts): amounts are shown
 * digit for digit as the API sends them (Intl formats the decimal string itself, never a
 * double), at least to the currency's minor unit; a day in a time zone starts at that zone's
 * midnight, across daylight-saving changes.
 */
const digits = (text: string) => text.replace(/\D/g, '');

describe('console money and quantities', () => {
  it.each([
    ['beyond a double', '12345678901234567.123456', 'USD', '12345678901234567123456'],
    ['a line amount with 6 decimals', '1488.912800', 'USD', '14889128'],
    ['a sub-cent unit price', '0.000800', 'USD', '00008'],
    ['a whole amount at the minor unit', '130.000000', 'USD', '13000'],
    ['a currency without minor unit', '1200', 'JPY', '1200'],
    ['three minor digits', '1.5', 'BHD', '1500'],
  ])('%s: %s %s keeps its digits', (_case, amount, currency, expected) => {
    expect(digits(money(amount, currency))).toBe(expected);
  });

  it('keeps the sign of a negative amount', () => {
    expect(money('-411.94', 'USD')).toMatch(/[-\u2212]/);
  });

  it('shows a text that is not a decimal as it came, with its currency', () => {
    expect(money('n/a', 'USD')).toBe('n/a USD');
  });

  it('shows a quantity with every decimal', () => {
    expect(digits(quantity('2739.549123'))).toBe('2739549123');
  });
});

describe('console days in a time zone', () => {
  it.each([
    ['UTC', '2026-01-01', 'UTC', '2026-01-01T00:00:00Z'],
    ['winter in Berlin', '2026-11-22', 'Europe/Berlin', '2026-11-21T23:00:00Z'],
    ['summer in Berlin', '2026-07-01', 'Europe/Berlin', '2026-06-30T22:00:00Z'],
    ['the day Berlin moves to summer time', '2026-03-29', 'Europe/Berlin', '2026-03-28T23:00:00Z'],
    ['the day New York leaves summer time', '2026-11-01', 'America/New_York', '2026-11-01T04:00:00Z'],
    ['the day New York moves to summer time', '2026-03-08', 'America/New_York', '2026-03-08T05:00:00Z'],
    ['east of UTC across the year', '2026-01-01', 'Asia/Tokyo', '2025-12-31T15:00:00Z'],
  ])('%s: %s in %s starts at %s', (_case, date, zone, expected) => {
    expect(startOfDay(date, zone)).toBe(expected);
  });

  it.each([
    ['2026-02-28', 1, '2026-03-01'],
    ['2026-01-01', -1, '2025-12-31'],
    ['2028-02-28', 1, '2028-02-29'],
  ])('%s moved by %i days is %s', (date, days, expected) => {
    expect(addDays(date, days)).toBe(expected);
  });

  it.each([
    ['2026-12-15', 0, '2026-12-01'],
    ['2026-12-15', 1, '2027-01-01'],
    ['2026-01-31', -1, '2025-12-01'],
  ])('the month of %s moved by %i starts %s', (date, months, expected) => {
    expect(monthStart(date, months)).toBe(expected);
  });
});

describe('console billing periods', () => {
  it('shows the days a period covers, in UTC, as the invoice PDF does', () => {
    const shown = period('2026-10-26T00:00:00.000Z', '2026-11-26T00:00:00.000Z');
    expect(shown).toMatch(/Oct 26/);
    expect(shown).toMatch(/Nov 25/);
    expect(shown).not.toMatch(/Nov 26/);
  });

  it('reads the same in any zone: the period is anchored in UTC', () => {
    const before = process.env.TZ;
    try {
      process.env.TZ = 'America/Los_Angeles';
      expect(period('2026-10-26T00:00:00.000Z', '2026-11-26T00:00:00.000Z')).toMatch(/Oct 26.*Nov 25/);
    } finally {
      process.env.TZ = before;
    }
  });

  it('a period of less than a day is that day; text that is not an instant is shown as it came', () => {
    expect(period('2026-10-26T00:00:00.000Z', '2026-10-26T00:00:00.000Z')).toMatch(/Oct 26, 2026/);
    expect(period('soon', 'later')).toBe('soon – later');
  });
});

describe('zones the usage page can ask in', () => {
  const jan = Date.parse('2026-01-15T12:00:00Z');
  const jul = Date.parse('2026-07-15T12:00:00Z');
  it.each([
    ['UTC', true],
    ['Europe/Berlin', true],
    ['America/Los_Angeles', true],
    ['Asia/Kolkata', false],
    ['Asia/Kathmandu', false],
    ['Australia/Adelaide', false],
  ])('%s is whole hours off UTC: %s', (zone, whole) => {
    expect(wholeHours(zone, [jan, jul])).toBe(whole);
  });
});
