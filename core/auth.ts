import { keyMatches, parseApiKey, hashKeyText } from './apikeys.js';
import { timingSafeEqual } from 'node:crypto';
import { TallyError } from './errors.js';
import type { TenantRepository } from './tenants.js';

/** `keyId` names the API key that made a call (the audit trail's "who"). */
export type Principal = { kind: 'admin' } | { kind: 'tenant'; tenantId: string; keyId: string };

export interface Authenticator {
  /** Resolves a bearer token to who is calling; throws TALLY_ERR_UNAUTHORIZED otherwise. */
  authenticate(authorization: string): Promise<Principal>;
  /**
   * What can be known without asking the store: the admin key or a cached tenant key (a
   * principal), a header that can never be valid (the error to answer), or undefined when only
   * `authenticate` can tell. The HTTP server calls it before reading a body, so a caller without
   * a valid key cannot make it buffer one.
   */
  authenticateFromMemory(authorization: string): Principal | TallyError | undefined;
  /** Forgets a revoked key at once, so this process refuses it on its next request. */
  forget(keyId: string): void;
}

export interface AuthOptions {
  adminKey: string | undefined;
  tenants: TenantRepository;
  /** How long a verified tenant key is trusted without asking Postgres again. */
  cacheSeconds: number;
  now?: () => number;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const CACHE_LIMIT = 10_000;

/**
 * Admin and tenant keys. Verified tenant keys are cached by their hash for a short while so
 * the ingest hot path does not ask Postgres on every request. A key revoked through this
 * process is forgotten at once; other processes keep trusting it for up to `cacheSeconds`.
 */
export function createAuthenticator(opts: AuthOptions): Authenticator {
  const now = opts.now ?? Date.now;
  const adminHash = opts.adminKey === undefined ? undefined : Buffer.from(hashKeyText(opts.adminKey));
  const cache = new Map<string, { tenantId: string; keyId: string; until: number }>();
  // Bumped by every forget(): a lookup that started before a revocation must not cache the
  // key it read (it may have read the row before the revocation committed).
  let generation = 0;

  const unauthorized = (message: string) => new TallyError('TALLY_ERR_UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': 'Bearer' } });

  /** The token, its hash (base64) and key id, or the error a header that can never be valid earns. */
  function parse(authorization: string): { token: string; hash: string; keyId: string | undefined } | TallyError {
    if (authorization === '') return unauthorized('missing API key: send Authorization: Bearer <key>');
    const token = BEARER.exec(authorization)?.[1];
    if (token === undefined) return unauthorized('malformed Authorization header: expected Bearer <key>');
    return { token, hash: hashKeyText(token), keyId: parseApiKey(token) };
  }

  function fromMemory(parsed: { hash: string; keyId: string | undefined }): Principal | TallyError | undefined {
    // Both are 44 characters of base64: equal lengths, as timingSafeEqual needs.
    if (adminHash !== undefined && timingSafeEqual(Buffer.from(parsed.hash), adminHash)) return { kind: 'admin' };
    if (parsed.keyId === undefined) return unauthorized('invalid API key');
    const hit = cache.get(parsed.hash);
    if (hit !== undefined && hit.until > now()) return { kind: 'tenant', tenantId: hit.tenantId, keyId: hit.keyId };
    return undefined;
  }

  return {
    authenticateFromMemory(authorization) {
      const parsed = parse(authorization);
      return parsed instanceof TallyError ? parsed : fromMemory(parsed);
    },

    async authenticate(authorization) {
      const parsed = parse(authorization);
      if (parsed instanceof TallyError) throw parsed;
      const known = fromMemory(parsed);
      if (known instanceof TallyError) throw known;
      if (known !== undefined) return known;

      const { token, keyId } = parsed;
      const started = generation;
      const stored = keyId === undefined ? undefined : await opts.tenants.findKey(keyId);
      if (keyId === undefined || stored === undefined || !keyMatches(token, stored.hash)) throw unauthorized('invalid API key');

      if (opts.cacheSeconds > 0 && started === generation) {
        if (cache.size >= CACHE_LIMIT) cache.clear();
        cache.set(parsed.hash, { tenantId: stored.tenantId, keyId, until: now() + opts.cacheSeconds * 1000 });
      }
      return { kind: 'tenant', tenantId: stored.tenantId, keyId };
    },

    forget(keyId) {
      generation++;
      for (const [hash, entry] of cache) if (entry.keyId === keyId) cache.delete(hash);
    },
  };
}
