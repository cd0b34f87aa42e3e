import { describe, expect, it } from 'vitest';
import { generateAdminKey, generateApiKey, hashKey, hashKeyText, keyMatches, parseApiKey } from '../../core/apikeys.js';
import { newId, newRequestId } from '../../core/ids.js';

describe('api keys', () => {
  it('generates keys that parse back to their id and match their hash', () => {
    const k = generateApiKey();
    expect(k.key).toMatch(/^tly_[0-9a-z]{16}_[A-Za-z0-9_-]{43}$/);
    expect(parseApiKey(k.key)).toBe(k.id);
    expect(keyMatches(k.key, k.hash)).toBe(true);
  });

  it('never generates the same key twice', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey().key));
    expect(keys.size).toBe(1000);
  });

  it.each([
    ['empty', ''],
    ['no prefix', 'abc'],
    ['admin key', generateAdminKey()],
    ['short secret', 'tly_0123456789abcdef_short'],
    ['upper-case id', 'tly_0123456789ABCDEF_' + 'a'.repeat(43)],
  ])('does not parse a malformed key (%s)', (_what, key) => {
    expect(parseApiKey(key)).toBeUndefined();
  });

  it('does not match a key that differs in one character', () => {
    const k = generateApiKey();
    const last = k.key.at(-1) === 'a' ? 'b' : 'a';
    expect(keyMatches(k.key.slice(0, -1) + last, k.hash)).toBe(false);
    expect(keyMatches(k.key, hashKey("other"))).toBe(false);
  });
});

describe('ids', () => {
  it('are prefixed and sort by creation time', () => {
    const a = newId('ten', 1_700_000_000_000);
    const b = newId('ten', 1_700_000_000_001);
    expect(a).toMatch(/^ten_[0-9a-z]{24}$/);
    expect(a < b).toBe(true);
  });

  it('the base64 hash the key cache uses is the SHA-256 of the key', () => {
    const k = generateApiKey();
    expect(hashKeyText(k.key)).toBe(k.hash.toString('base64'));
    expect(hashKeyText(k.key)).not.toBe(hashKeyText(generateApiKey().key));
  });
});

describe('request ids', () => {
  it('are 20 characters after req_, distinct, sharing the process prefix', () => {
    const ids = Array.from({ length: 10_000 }, () => newRequestId());
    for (const id of ids.slice(0, 50)) expect(id).toMatch(/^req_[0-9a-z]{20}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.map((id) => id.slice(0, 16))).size).toBe(1);
    // The counter part grows: later ids sort after earlier ones within a process.
    expect([...ids].sort()).toEqual(ids);
  });
});
