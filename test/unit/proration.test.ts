import { describe, expect, it } from 'vitest';
import { prorateBaseFee } from '../../rating/proration.js';

const start = new Date('2026-11-01T00:00:00Z');
const end = new Date('2026-12-01T00:00:00Z'); // 30 days
const day = (n: number) => new Date(start.getTime() + n * 86_400_000);

describe('base-fee proration', () => {
  it.each([
    ['upgrade 49.00 → 199.00 with 15 of 30 days left', '49.00', '199.00', day(15), '75.000000'],
    ['downgrade 199.00 → 49.00 with 15 of 30 days left (a credit)', '199.00', '49.00', day(15), '-75.000000'],
    ['at the very start: the whole difference', '49.00', '199.00', day(0), '150.000000'],
    ['at the very end: nothing', '49.00', '199.00', day(30), '0.000000'],
    ['the same fee: nothing', '99.00', '99.00', day(10), '0.000000'],
    ['a third of the period: 100 x 10/30, rounded half-even at 6 decimals', '0', '100', day(20), '33.333333'],
    ['two thirds: 100 x 20/30', '0', '100', day(10), '66.666667'],
    ['one millisecond left of a 12-decimal fee', '0', '0.000000000001', new Date(end.getTime() - 1), '0.000000'],
  ])('%s', (_what, oldFee, newFee, at, expected) => {
    expect(prorateBaseFee(oldFee, newFee, start, end, at)).toBe(expected);
  });

  it('uses the real length of the period (February has 28 days)', () => {
    const febStart = new Date('2026-02-01T00:00:00Z');
    const febEnd = new Date('2026-03-01T00:00:00Z');
    expect(prorateBaseFee('0', '28', febStart, febEnd, new Date('2026-02-15T00:00:00Z'))).toBe('14.000000');
  });

  it('refuses a change outside the period', () => {
    expect(() => prorateBaseFee('1', '2', start, end, new Date('2026-12-02T00:00:00Z'))).toThrow(RangeError);
    expect(() => prorateBaseFee('1', '2', end, start, day(1))).toThrow(RangeError);
  });
});
