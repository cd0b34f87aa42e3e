import { describe, expect, it } from 'vitest';
import { STRIPE_NAME_MAX, meterEventIdentifier, meterEventName, meterValue } from '../../stripe/meter-usage.js';

/** Stripe's limits on meter names and event identifiers, and exact meter values at any size. */
const tenant = 'ten_0m4k2c9x8r7q6p5n4m3k';
const sub = 'sub_0m4k2c9x8r7q6p5n4m3k';
const long = (tail: string) => 'a'.repeat(128 - tail.length) + tail;

describe('meter event names and identifiers', () => {
  it('keep short keys as they were', () => {
    expect(meterEventName(tenant, 'api_calls')).toBe(`tally.${tenant}.api_calls`);
    expect(meterEventIdentifier(sub, 'api_calls', 1_764_000_000, 2)).toBe(`${sub}:api_calls:1764000000:2`);
  });

  it.each([
    ['a 128-character key', long('x1')],
    ['a key of dots and colons', ':.-_'.repeat(32)],
  ])('fit %s into Stripe’s 100 characters', (_name, key) => {
    expect(key.length).toBe(128);
    expect(meterEventName(tenant, key).length).toBeLessThanOrEqual(STRIPE_NAME_MAX);
    expect(meterEventIdentifier(sub, key, 4_000_000_000, 999_999).length).toBeLessThanOrEqual(STRIPE_NAME_MAX);
  });

  it('keep two long keys with a long common prefix apart', () => {
    const a = long('-a');
    const b = long('-b');
    expect(meterEventName(tenant, a)).not.toBe(meterEventName(tenant, b));
    expect(meterEventIdentifier(sub, a, 1, 1)).not.toBe(meterEventIdentifier(sub, b, 1, 1));
    // The same key always gives the same name: a retry repeats the identifier Stripe dedups on.
    expect(meterEventIdentifier(sub, a, 1, 1)).toBe(meterEventIdentifier(sub, a, 1, 1));
  });

  it('never give a shortened name that equals a whole one', () => {
    const shortened = meterEventName(tenant, long('zz'));
    const rest = shortened.slice(`tally.${tenant}.`.length);
    expect(rest).toContain('~');
    expect(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(rest)).toBe(false);
  });
});

describe('meter values', () => {
  it.each([
    ['1', '0', '1000000'],
    ['0.000001', '0', '1'],
    ['100.25', '100.5', '-250000'],
    // 21 and 26 significant digits: a 20-digit decimal would round the last ones away.
    ['123456789012345.678901', '0', '123456789012345678901'],
    ['99999999999999999999.999999', '0.000001', '99999999999999999999999998'],
  ])('%s less %s pushed is %s millionths', (quantity, pushed, value) => {
    expect(meterValue(quantity, pushed)).toBe(value);
  });
});
