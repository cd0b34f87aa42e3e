import { describe, expect, it } from 'vitest';
import { period, periodAt } from '../../catalog/periods.js';
import { IMPORT_HORIZON_MS, invalidStart, unstorableField } from '../../catalog/subscription-dates.js';

const NOW = Date.parse('2026-12-01T00:00:00Z');
const DAY = 86_400_000;

describe('subscription start dates', () => {
  it.each([
    ['now', NOW, undefined],
    ['within the import horizon', NOW - IMPORT_HORIZON_MS + DAY, undefined],
    ['beyond the import horizon', NOW - IMPORT_HORIZON_MS - DAY, /import horizon/],
    ['in the future', NOW + 1, /future/],
    ['before 1970 (ClickHouse DateTime starts there)', Date.parse('1969-12-31T23:59:59Z'), /before 1970/],
    ['in year 1', Date.parse('0001-01-01T00:00:00Z'), /before 1970/],
    ['after 2105 (ClickHouse DateTime ends in 2106)', Date.parse('2106-01-01T00:00:00Z'), /after 2105/],
    ['not an instant', Number.NaN, /not a valid instant/],
  ])('%s', (_what, start, refusal) => {
    const why = invalidStart(start, NOW);
    if (refusal === undefined) expect(why).toBeUndefined();
    else expect(why).toMatch(refusal);
  });

  it('names the first stored date the stores cannot hold', () => {
    const ok = new Date(NOW);
    expect(unstorableField({ startDate: ok, trialEnd: null, canceledAt: null })).toBeUndefined();
    expect(unstorableField({ startDate: new Date('0001-01-01T00:00:00Z'), trialEnd: null, canceledAt: null })).toBe('start_date');
    expect(unstorableField({ startDate: ok, trialEnd: new Date('2200-01-01T00:00:00Z'), canceledAt: null })).toBe('trial_end');
    expect(unstorableField({ startDate: ok, trialEnd: null, canceledAt: new Date(-1) })).toBe('canceled_at');
  });
});

describe('periods of a start in years 0-99', () => {
  it('are in those years, not 1900-1999', () => {
    const anchor = new Date('0001-01-31T00:00:00Z');
    expect(period(anchor, 'month', 0).start.toISOString()).toBe('0001-01-31T00:00:00.000Z');
    expect(period(anchor, 'month', 1).start.toISOString()).toBe('0001-02-28T00:00:00.000Z');
    expect(periodAt(anchor, 'year', new Date('0050-06-01T00:00:00Z')).start.toISOString()).toBe('0050-01-31T00:00:00.000Z');
  });
});
