import { describe, expect, it } from 'vitest';
import { RepeatedWarnings } from '../../core/repeated-warnings.js';

describe('the warnings of an item that fails on every run', () => {
  it('are logged first, then once per interval, saying how many were not', () => {
    let now = 0;
    const w = new RepeatedWarnings(60_000, 100, () => now);
    expect(w.take('a')).toEqual({ log: true, quiet: 0 });
    for (let i = 1; i <= 5; i++) {
      now += 10_000;
      expect(w.take('a')).toEqual({ log: false, quiet: i });
    }
    // Another item is its own.
    expect(w.take('b')).toEqual({ log: true, quiet: 0 });
    now += 10_000;
    expect(w.take('a')).toEqual({ log: true, quiet: 5 });
    now += 1_000;
    expect(w.take('a')).toEqual({ log: false, quiet: 1 });
  });

  it('remember a bounded number of items, forgetting the one logged longest ago', () => {
    let now = 0;
    const w = new RepeatedWarnings(60_000, 2, () => now);
    w.take('a');
    now++;
    w.take('b');
    now++;
    w.take('c');
    expect(w.take('b').log).toBe(false);
    expect(w.take('a').log).toBe(true);
  });
});
