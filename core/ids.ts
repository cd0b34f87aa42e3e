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

/** Request ids: a random prefix per process, then a counter (see newRequestId). */
let requestPrefix = randomToken(12);
let requestCount = 0;
/** 36^8: the counter's 8 base-36 digits; past it, a new prefix. */
const REQUEST_COUNTS = 2_821_109_907_456;

/**
 * A request id such as `req_0m4k2c9x8r7q00000a3f`: 12 random characters chosen once per process
 * (60 bits, so processes do not collide) and a counter, 20 characters in all. Ids only need to
 * be unique, not unguessable, and a fresh random token per request cost an ingest node more
 * than its metrics did.
 */
export function newRequestId(): string {
  if (++requestCount === REQUEST_COUNTS) {
    requestPrefix = randomToken(12);
    requestCount = 1;
  }
  return `req_${requestPrefix}${requestCount.toString(36).padStart(8, '0')}`;
}
