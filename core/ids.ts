import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/**
 * Random bytes are taken from a pool filled 4 KiB at a time: one getrandom call per request
 * (for its request id) cost more than the rest of an ingest request's parsing. Each byte is
 * used once.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

function randomPooled(length: number): Buffer {
  if (poolAt + length > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, length));
    poolAt = 0;
  }
  const bytes = pool.subarray(poolAt, poolAt + length);
  poolAt += length;
  return bytes;
}

/** Random base32 text of `length` characters (5 bits each). */
export function randomToken(length: number): string {
  const bytes = randomPooled(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[(bytes[i] ?? 0) & 31];
  return out;
}

/**
 * A prefixed, time-sortable id such as `ten_0m4k2c9x8r7q6p5n4m3k`: 10 characters of
 * millisecond time then 14 random ones (70 bits), so ids sort by creation and never collide
 * in practice.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  let t = now;
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${time}${randomToken(14)}`;
}
