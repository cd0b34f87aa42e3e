import { describe, expect, it } from 'vitest';
import { RepeatedWarnings } from '../../core/repeated-warnings.js';

const e = new Error('boom');

describe('the warnings of an item that fails on every run', () => {
  it('are logged first, then once per interval, saying how many were not', () => {
    let now = 0;
    const w = new RepeatedWarnings(60_000, 100, () => now);
    expect(w.take('a', e)).toEqual({ log: true, quiet: 0 });
    for (let i = 1; i <= 5; i++) {
      now += 10_000;
      expect(w.take('a', e)).toEqual({ log: false, quiet: i });
    }
    // Another item is its own.
    expect(w.take('b', e)).toEqual({ log: true, quiet: 0 });
    now += 10_000;
    expect(w.take('a', e)).toEqual({ log: true, quiet: 5 });
    now += 1_000;
    expect(w.take('a', e)).toEqual({ log: false, quiet: 1 });
    // Failing for another reason is news.
    expect(w.take('a', Object.assign(new Error('x'), { code: 'TALLY_ERR_AMOUNT_OUT_OF_RANGE' }))).toEqual({ log: true, quiet: 0 });
  });

  it('remember a bounded number of items, forgetting the one logged longest ago', () => {
    let now = 0;
    const w = new RepeatedWarnings(60_000, 2, () => now);
    w.take('a', e);
    now++;
    w.take('b', e);
    now++;
    w.take('c', e);
    expect(w.take('b', e).log).toBe(false);
    expect(w.take('a', e).log).toBe(true);
  });
});
