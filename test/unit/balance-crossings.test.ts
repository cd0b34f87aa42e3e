import { describe, expect, it } from 'vitest';
import { balanceCrossings } from '../../alerts/balance.js';

describe('balanceCrossings', () => {
  it.each([
    ['above the level: nothing', '3.01', '3', []],
    ['at the level: low', '3.00', '3', ['low 3']],
    ['below the level, above zero: low', '0.01', '3', ['low 3']],
    ['exactly zero: low and depleted', '0.00', '3', ['low 3', 'depleted 0']],
    ['below zero: low and depleted', '-0.25', '3', ['low 3', 'depleted 0']],
    ['level 0, above zero: nothing', '0.01', '0', []],
    ['level 0, at zero: depleted only', '0', '0', ['depleted 0']],
  ])('%s', (_name, balance, level, expected) => {
    expect(balanceCrossings(balance, level).map((c) => `${c.kind} ${c.threshold}`)).toEqual(expected);
  });
});
