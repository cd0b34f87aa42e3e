import { describe, expect, it } from 'vitest';
import { inexactNumber } from '../../http/json-numbers.js';

describe('number literals JSON.parse would change', () => {
  it('are found, with the path of their value', () => {
    expect(inexactNumber('{"a":1,"b":[1,2,{"c":9007199254740993}]}')).toEqual({ path: ['b', 2, 'c'], literal: '9007199254740993' });
    expect(inexactNumber('{"x\\"y":{"z":1e-400}}')).toEqual({ path: ['x"y', 'z'], literal: '1e-400' });
    expect(inexactNumber('[1e400]')).toEqual({ path: [0], literal: '1e400' });
    expect(inexactNumber('12345678901234567890123')).toEqual({ path: [], literal: '12345678901234567890123' });
    expect(inexactNumber('{"a":{},"b":[],"c":[[],{}],"d":123456789012345678.25}')).toEqual({ path: ['d'], literal: '123456789012345678.25' });
  });

  it('are named by their own path after an empty object or array', () => {
    expect(inexactNumber('[{}, "x", 1e400]')).toEqual({ path: [2], literal: '1e400' });
    expect(inexactNumber('{"m":[{},"x",{"y":1e400}]}')).toEqual({ path: ['m', 2, 'y'], literal: '1e400' });
    expect(inexactNumber('{"a":[],"b":{},"c":9007199254740993}')).toEqual({ path: ['c'], literal: '9007199254740993' });
  });

  it('include one far below what decimal arithmetic holds, which reads as zero', () => {
    expect(inexactNumber('[1e-9000000000000001]')).toEqual({ path: [0], literal: '1e-9000000000000001' });
    expect(inexactNumber('[0e-9000000000000001, 0.000, -0e5]')).toBeUndefined();
  });

  it('leave alone what comes back as written, and numbers inside strings', () => {
    expect(inexactNumber('{"a":0.1,"b":-0,"c":1.5e3,"d":"9007199254740993","e":9007199254740992,"f":-123456789012345,"g":0.30000000000000004}')).toBeUndefined();
  });

  it('read a long run of zeros before a last digit in one pass', () => {
    // Stripping the zeros with /0+$/ restarted at each zero of the run: 200,000 of them took
    // hours of the event loop; this is linear and done in milliseconds.
    const literal = `1${'0'.repeat(200_000)}1`;
    expect(inexactNumber(`{"x":${literal}}`)).toEqual({ path: ['x'], literal });
    expect(inexactNumber(`[0.${'0'.repeat(200_000)}1]`)).toEqual({ path: [0], literal: `0.${'0'.repeat(200_000)}1` });
  });
});
