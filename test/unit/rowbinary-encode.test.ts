import { describe, expect, it } from 'vitest';
import type { EventRow } from '../../ingest/event.js';
import { encodeRows } from '../../ingest/rowbinary.js';

/**
 * The encoder's fast paths (ASCII strings copied in JavaScript, small non-negative values scaled
 * as integers) against the plain rules: UTF-8 bytes after a LEB128 length, and the value times
 * 10^6 as a little-endian Int128 computed with BigInt. (test/integration/rowbinary.test.ts reads
 * the edges back through the engine.)
 */
const base: EventRow = { tenant_id: 'ten_1', id: 'e', customer: 'c', meter: 'm', value: '1', timestamp: 1_700_000_000_000, properties: '{}', ingested_at: 1_700_000_000_000_000 };

function leb128(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** The value's 16 bytes, read back from a one-row encoding whose strings are all one byte. */
function valueBytes(value: string): bigint {
  const bytes = encodeRows([{ ...base, tenant_id: 't', value }]);
  // t(2) e(2) c(2) m(2), then the null byte.
  expect(bytes[8]).toBe(0);
  return (bytes.readBigInt64LE(17) << 64n) | bytes.readBigUInt64LE(9);
}

function scaled(value: string): bigint {
  const [int, frac = ''] = value.split('.');
  return BigInt(int! + frac.padEnd(6, '0'));
}

// A small deterministic generator: the same cases on every run.
let seed = 42;
const next = (n: number) => {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
  return seed % n;
};
const digits = (n: number) => Array.from({ length: n }, (_, i) => String(i === 0 ? 1 + next(9) : next(10))).join('');

describe('RowBinary encoding', () => {
  it('writes every value as its BigInt scaling, on both sides of the fast path', () => {
    const values = ['0', '1', '0.000001', '0.5', '999999999.999999', '999999999', '1000000000', '1000000000.000001', '-1', '-0.000001', '4294967.296', '4294967.295', '18446744073709.551617', '99999999999999999999.999999', '-99999999999999999999.999999'];
    for (let i = 0; i < 2_000; i++) {
      const int = next(4) === 0 ? '0' : digits(1 + next(20));
      const frac = next(3) === 0 ? '' : `.${digits(1 + next(6)).replace(/0+$/, '') || '1'}`;
      values.push(`${next(4) === 0 ? '-' : ''}${int}${frac}`);
    }
    for (const v of values) expect(valueBytes(v), v).toBe(BigInt.asIntN(128, scaled(v)));
  });

  it('writes strings as their UTF-8 bytes after a LEB128 length, ASCII or not', () => {
    const strings = ['', 'a', 'x'.repeat(127), 'x'.repeat(128), `${'x'.repeat(126)}é`, 'éa', 'aé', 'a\u0000b', '\u007f', '\u0080', '😀', `ids-${'z'.repeat(100)}-日本`];
    for (const s of strings) {
      const bytes = encodeRows([{ ...base, tenant_id: 't', id: s }]);
      const utf8 = Buffer.from(s, 'utf8');
      const expected = Buffer.from([...leb128(utf8.length), ...utf8]);
      expect(bytes.subarray(2, 2 + expected.length).equals(expected), JSON.stringify(s)).toBe(true);
    }
  });
});
