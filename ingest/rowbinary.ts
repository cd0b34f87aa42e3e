import type { EventRow } from './event.js';

/**
 * Accepted events as ClickHouse RowBinary, in exactly the raw table's column order, so the
 * engine reads a log segment as it is (`file(...)` on chDB, `input(...)` on a server) and
 * parses it about six times faster than JSON text. The store sets `visible_at` at the insert.
 *
 * Per row: tenant_id, id, customer, meter as String (LEB128 length, UTF-8 bytes); value as
 * Nullable(Decimal(38, 6)) (a null byte, then the value x 10^6 as a little-endian Int128);
 * timestamp as DateTime64(3) (Int64 ms); properties as String; ingested_at as DateTime64(6)
 * (Int64 µs).
 */
export const ROW_COLUMNS = ['tenant_id', 'id', 'customer', 'meter', 'value', 'timestamp', 'properties', 'ingested_at'] as const;

/** The structure argument of `file()` / `input()` for a segment. */
export const ROW_STRUCTURE =
  "tenant_id String, id String, customer String, meter String, value Nullable(Decimal(38, 6)), timestamp DateTime64(3, 'UTC'), properties String, ingested_at DateTime64(6, 'UTC')";

const SCALE_DIGITS = 6;
const TWO_32 = 2 ** 32;

/** Encodes rows into one buffer (sized for the worst case, then trimmed). */
export function encodeRows(rows: readonly EventRow[]): Buffer {
  let bound = 0;
  for (const r of rows) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; a length prefix at most 5 bytes.
    bound += 3 * (r.tenant_id.length + r.id.length + r.customer.length + r.meter.length + r.properties.length) + 5 * 5 + 17 + 8 + 8;
  }
  const buf = Buffer.allocUnsafe(bound);
  let at = 0;
  for (const r of rows) {
    at = writeString(buf, at, r.tenant_id);
    at = writeString(buf, at, r.id);
    at = writeString(buf, at, r.customer);
    at = writeString(buf, at, r.meter);
    at = writeDecimal(buf, at, r.value);
    at = writeInt64(buf, at, r.timestamp);
    at = writeString(buf, at, r.properties);
    at = writeInt64(buf, at, r.ingested_at);
  }
  return buf.subarray(0, at);
}

/**
 * Writes a string with its length. Short ASCII text (ids, keys, meters: most strings) is copied
 * unit by unit here: a native UTF-8 write per string cost more than the bytes it wrote. Anything
 * else is written by the encoder after a one-byte length guess, moved when the length needs more.
 */
function writeString(buf: Buffer, at: number, s: string): number {
  const len = s.length;
  if (len < 0x80) {
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + 1 + i] = c;
    }
    if (i === len) {
      buf[at] = len;
      return at + 1 + len;
    }
  }
  const n = buf.write(s, at + 1, 'utf8');
  if (n < 0x80) {
    buf[at] = n;
    return at + 1 + n;
  }
  const prefix = n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
  buf.copyWithin(at + prefix, at + 1, at + 1 + n);
  let v = n;
  let p = at;
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p] = v;
  return at + prefix + n;
}

/** A non-negative integer below 2^53 (epoch ms or µs) as Int64. */
function writeInt64(buf: Buffer, at: number, v: number): number {
  buf.writeUInt32LE(v % TWO_32, at);
  buf.writeUInt32LE(Math.floor(v / TWO_32), at + 4);
  return at + 8;
}

/**
 * A canonical decimal (validated: at most 20 integer digits and 6 decimals, so the scaled value
 * is below 10^26 and fits Int128), scaled to an integer, never through a float. A non-negative
 * value of at most 9 integer digits scales below 10^15 < 2^53, where integer arithmetic on a
 * Number is exact: its parts are read as integers and written as two 32-bit halves, the upper
 * 64 bits zero. Every other value goes through BigInt.
 */
function writeDecimal(buf: Buffer, at: number, value: string | null): number {
  if (value === null) {
    buf[at] = 1;
    return at + 1;
  }
  buf[at] = 0;
  const dot = value.indexOf('.');
  const intDigits = dot < 0 ? value.length : dot;
  if (value.charCodeAt(0) !== 0x2d && intDigits <= 9) {
    const fraction = dot < 0 ? '' : value.slice(dot + 1);
    // Both parts are digit strings (validated): integers, read exactly.
    const scaled = Number(value.slice(0, intDigits)) * 1_000_000 + (fraction === '' ? 0 : Number(fraction) * 10 ** (SCALE_DIGITS - fraction.length));
    buf.writeUInt32LE(scaled % TWO_32, at + 1);
    buf.writeUInt32LE(Math.floor(scaled / TWO_32), at + 5);
    buf.writeUInt32LE(0, at + 9);
    buf.writeUInt32LE(0, at + 13);
    return at + 17;
  }
  const digits = dot < 0 ? value + '0'.repeat(SCALE_DIGITS) : value.slice(0, dot) + value.slice(dot + 1).padEnd(SCALE_DIGITS, '0');
  const scaled = BigInt(digits);
  buf.writeBigInt64LE(BigInt.asIntN(64, scaled), at + 1);
  buf.writeBigInt64LE(BigInt.asIntN(64, scaled >> 64n), at + 9);
  return at + 17;
}

/**
 * Where each row ends in `data`, read by the layout above; undefined when the bytes do not
 * hold whole rows (used to set aside single rows the store refuses).
 */
export function rowEnds(data: Buffer): number[] | undefined {
  const ends: number[] = [];
  let at = 0;
  const skipString = (): boolean => {
    let len = 0;
    let shift = 0;
    for (;;) {
      if (at >= data.length || shift > 28) return false;
      const b = data[at++]!;
      len += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
    }
    at += len;
    return at <= data.length;
  };
  while (at < data.length) {
    for (let i = 0; i < 4; i++) if (!skipString()) return undefined;
    if (at >= data.length) return undefined;
    at += data[at] === 1 ? 1 : 17;
    at += 8;
    if (at > data.length || !skipString()) return undefined;
    at += 8;
    if (at > data.length) return undefined;
    ends.push(at);
  }
  return ends;
}
