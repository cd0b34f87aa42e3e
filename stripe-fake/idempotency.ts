import { errors, type StripeApiError } from './errors.js';
import type { Clock } from './random.js';

/**
 * Stripe's idempotency layer for POSTs: the first response to a key (status and body, errors
 * included) is kept for 24 hours and replayed for the same endpoint and parameters; the key
 * with other parameters or on another endpoint is an `idempotency_error`. Only requests whose
 * endpoint began executing are saved: a request that failed validation, authentication, the
 * rate limiter or an injected 500 leaves nothing behind, so it can be retried with its key.
 */
export interface SavedResponse {
  status: number;
  body: string;
  requestId: string;
  errorType: string | null;
  errorCode: string | null;
}

interface Entry extends SavedResponse {
  endpoint: string;
  fingerprint: string;
  savedAt: number;
}

export type Lookup = { kind: 'miss' } | { kind: 'replay'; saved: SavedResponse } | { kind: 'mismatch'; error: StripeApiError };

export const MAX_KEY_LENGTH = 255;
const TTL_MS = 24 * 60 * 60 * 1000;

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock) {}

  /** `scope` is the API key: keys are per account in Stripe. `endpoint` is "POST /v1/…". */
  lookup(scope: string, key: string, endpoint: string, fingerprint: string): Lookup {
    const id = `${scope}\n${key}`;
    const e = this.entries.get(id);
    if (e === undefined) return { kind: 'miss' };
    if (this.clock() - e.savedAt >= TTL_MS) {
      this.entries.delete(id);
      return { kind: 'miss' };
    }
    if (e.endpoint !== endpoint) return { kind: 'mismatch', error: errors.idempotencyEndpoint(key, e.endpoint, endpoint) };
    if (e.fingerprint !== fingerprint) return { kind: 'mismatch', error: errors.idempotencyParams(key) };
    return { kind: 'replay', saved: { status: e.status, body: e.body, requestId: e.requestId, errorType: e.errorType, errorCode: e.errorCode } };
  }

  save(scope: string, key: string, endpoint: string, fingerprint: string, response: SavedResponse): void {
    this.entries.set(`${scope}\n${key}`, { ...response, endpoint, fingerprint, savedAt: this.clock() });
  }

  clear(): void {
    this.entries.clear();
  }
}
