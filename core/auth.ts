import { keyMatches, parseApiKey, hashKey } from './apikeys.js';
import { timingSafeEqual } from 'node:crypto';
import { TallyError } from './errors.js';
import type { TenantRepository } from './tenants.js';

/** `keyId` names the API key that made a call (the audit trail's "who"). */
export type Principal = { kind: 'admin' } | { kind: 'tenant'; tenantId: string; keyId: string };

export interface Authenticator {
  /** Resolves a bearer token to who is calling; throws TALLY_ERR_UNAUTHORIZED otherwise. */
  authenticate(authorization: string): Promise<Principal>;
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
 * the ingest hot path does not ask Postgres on every request; a revoked key therefore stops
 * working within `cacheSeconds`.
 */
export function createAuthenticator(opts: AuthOptions): Authenticator {
  const now = opts.now ?? Date.now;
  const adminHash = opts.adminKey === undefined ? undefined : hashKey(opts.adminKey);
  const cache = new Map<string, { tenantId: string; keyId: string; until: number }>();

  const unauthorized = (message: string) => new TallyError('TALLY_ERR_UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': 'Bearer' } });

  return {
    async authenticate(authorization) {
      if (authorization === '') throw unauthorized('missing API key: send Authorization: Bearer <key>');
      const token = BEARER.exec(authorization)?.[1];
      if (token === undefined) throw unauthorized('malformed Authorization header: expected Bearer <key>');

      const presentedHash = hashKey(token);
      if (adminHash !== undefined && timingSafeEqual(presentedHash, adminHash)) return { kind: 'admin' };

      const cacheKey = presentedHash.toString('base64');
      const hit = cache.get(cacheKey);
      if (hit !== undefined && hit.until > now()) return { kind: 'tenant', tenantId: hit.tenantId, keyId: hit.keyId };

      const keyId = parseApiKey(token);
      const stored = keyId === undefined ? undefined : await opts.tenants.findKey(keyId);
      if (keyId === undefined || stored === undefined || !keyMatches(token, stored.hash)) throw unauthorized('invalid API key');

      if (opts.cacheSeconds > 0) {
        if (cache.size >= CACHE_LIMIT) cache.clear();
        cache.set(cacheKey, { tenantId: stored.tenantId, keyId, until: now() + opts.cacheSeconds * 1000 });
      }
      return { kind: 'tenant', tenantId: stored.tenantId, keyId };
    },
  };
}
