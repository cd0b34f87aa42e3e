import { describe, expect, it } from 'vitest';
import { gaugeHours } from '../../metering/usage.js';

describe('weighted_sum: value x milliseconds to value x hours', () => {
  it.each([
    ['3600000', '1'],
    ['1', '0'], // 1/3,600,000 of a unit-hour rounds to 0 at 6 decimals
    ['1800', '0.0005'],
    ['1.8', '0'], // exactly 0.0000005: a tie, and half-even rounds it to 0
    ['5400', '0.0015'],
    // The largest: a value just below 10^20 held for a 31-day month, to the last digit.
    ['267839999999999999999997321600.000000', '74399999999999999999999.256'],
    ['-7200000', '-2'],
  ])('%s → %s', (ms, hours) => {
    expect(gaugeHours(ms)).toBe(hours);
  });
});
