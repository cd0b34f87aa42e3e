import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomToken } from './ids.js';

/**
 * API keys are `tly_<key id>_<secret>`: the key id finds the stored row, the SHA-256 of the
 * whole key is compared in constant time. A key carries 256 random bits, so a plain hash is
 * enough (password hashing exists for low-entropy secrets).
 */
const KEY = /^tly_([0-9a-z]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewApiKey {
  id: string;
  key: string;
  hash: Buffer;
}

export function generateApiKey(): NewApiKey {
  const id = randomToken(16);
  const key = `tly_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, key, hash: hashKey(key) };
}

/** The key id of a well-formed key, or undefined. */
export function parseApiKey(key: string): string | undefined {
  return KEY.exec(key)?.[1];
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The same SHA-256 as base64 text, in one call: on every request the key is checked against
 * the cache of verified keys by this text, and building a Hash object for it cost several
 * times the hashing.
 */
export function hashKeyText(key: string): string {
  return hash('sha256', key, 'base64');
}

/** Constant-time comparison of a presented key with a stored hash. */
export function keyMatches(presented: string, storedHash: Buffer): boolean {
  const h = hashKey(presented);
  return h.length === storedHash.length && timingSafeEqual(h, storedHash);
}

/** A fresh admin key, for embedded mode when none is configured. */
export function generateAdminKey(): string {
  return `tly_admin_${randomBytes(32).toString('base64url')}`;
}
