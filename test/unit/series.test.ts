import { describe, expect, it } from 'vitest';
import { Series } from '../../rating/series.js';

describe('Series (hourly quantities kept as joined text)', () => {
  it('reads the arrays, the last quantity and the first and last hour from the engine text', () => {
    const s = new Series(3, '1788220800,1788224400,1788231600', '1.5,2,10.000001');
    expect(s.hours).toEqual([1788220800000, 1788224400000, 1788231600000]);
    expect(s.quantities).toEqual(['1.5', '2', '10.000001']);
    expect(s.last).toBe('10.000001');
    expect(s.span).toEqual({ first: 1788220800000, last: 1788231600000 });
  });

  it('one hour', () => {
    const s = new Series(1, '1788220800', '7');
    expect(s.last).toBe('7');
    expect(s.span).toEqual({ first: 1788220800000, last: 1788220800000 });
  });

  it('no hours: quantity 0, no span', () => {
    for (const s of [Series.EMPTY, Series.of([], [])]) {
      expect(s.count).toBe(0);
      expect(s.hours).toEqual([]);
      expect(s.quantities).toEqual([]);
      expect(s.last).toBe('0');
      expect(s.span).toBeUndefined();
    }
  });

  it('from arrays gives the same text the engine would', () => {
    const s = Series.of([1788220800000, 1788224400000], ['0.25', '3']);
    expect([s.count, s.hoursText, s.quantitiesText, s.last]).toEqual([2, '1788220800,1788224400', '0.25,3', '3']);
    expect(() => Series.of([1788220800000], [])).toThrow(/1 hours but 0 quantities/);
  });
});
