import { randomToken } from '../core/ids.js';
import type { Queryable } from '../core/postgres.js';

/**
 * The `idempotency_keys` table (migration 0019): a claim per `(scope, key)`, taken by inserting
 * it if absent, so that of two requests racing on one key exactly one runs, whichever node
 * serves them. The claim is held under a lease its owner renews; one whose lease lapsed (its
 * node died mid-request) can be taken over. Completing it stores the answer to replay.
 */
export interface SavedAnswer {
  status: number;
  contentType: string;
  headers: Record<string, string>;
  body: Buffer;
}

export type Claim =
  /** This request runs; `owner` proves it in `renew`, `complete` and `release`. */
  | { kind: 'claimed'; owner: string }
  /** The key was used for a different request. */
  | { kind: 'mismatch' }
  /** The first request with this key is still running. */
  | { kind: 'in_progress' }
  /** The first request finished: its answer. */
  | { kind: 'done'; answer: SavedAnswer };

export interface IdempotencyStore {
  claim(scope: string, key: string, requestHash: string, leaseMs: number): Promise<Claim>;
  /** Extends the lease; false when the claim is no longer this owner's. */
  renew(scope: string, key: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Saves the answer; false when the claim is no longer this owner's (taken over after a lapse). */
  complete(scope: string, key: string, owner: string, answer: SavedAnswer): Promise<boolean>;
  /** Drops an unfinished claim, so a retry runs again. */
  release(scope: string, key: string, owner: string): Promise<void>;
  /** Deletes at most `limit` finished (or abandoned) keys older than `retentionSeconds`; how many. */
  prune(retentionSeconds: number, limit: number): Promise<number>;
}

interface Row {
  request_hash: string;
  status: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  body: Buffer | null;
  lapsed: boolean;
}

/** A claim can be lost between reading it and acting on it (released, pruned): read again, a few times. */
const CLAIM_ATTEMPTS = 3;

export function pgIdempotencyStore(pg: Queryable): IdempotencyStore {
  const lease = 'now() + $4::bigint * interval \'1 millisecond\'';

  async function takeOnce(scope: string, key: string, requestHash: string, leaseMs: number): Promise<Claim | undefined> {
    const owner = randomToken(20);
    const inserted = await pg.query(
      `INSERT INTO idempotency_keys (scope, key, owner, locked_until, request_hash)
       VALUES ($1, $2, $3, ${lease}, $5) ON CONFLICT (scope, key) DO NOTHING`,
      [scope, key, owner, leaseMs, requestHash],
    );
    if (inserted.rowCount === 1) return { kind: 'claimed', owner };

    const { rows } = await pg.query<Row>(
      `SELECT request_hash, status, content_type, headers, body, locked_until < now() AS lapsed
       FROM idempotency_keys WHERE scope = $1 AND key = $2`,
      [scope, key],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    if (row.request_hash !== requestHash) return { kind: 'mismatch' };
    if (row.status !== null) {
      return { kind: 'done', answer: { status: row.status, contentType: row.content_type ?? 'application/json', headers: row.headers ?? {}, body: row.body ?? Buffer.alloc(0) } };
    }
    if (!row.lapsed) return { kind: 'in_progress' };
    // The owner stopped renewing (its node died): one taker wins, since the row lock makes the
    // second UPDATE see the first one's fresh lease.
    const taken = await pg.query(
      `UPDATE idempotency_keys SET owner = $3, locked_until = ${lease}
       WHERE scope = $1 AND key = $2 AND status IS NULL AND locked_until < now()`,
      [scope, key, owner, leaseMs],
    );
    return taken.rowCount === 1 ? { kind: 'claimed', owner } : undefined;
  }

  return {
    async claim(scope, key, requestHash, leaseMs) {
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        const claim = await takeOnce(scope, key, requestHash, leaseMs);
        if (claim !== undefined) return claim;
      }
      // Claimed and lost this often in a row: another request keeps working on the key.
      return { kind: 'in_progress' };
    },
    async renew(scope, key, owner, leaseMs) {
      const res = await pg.query(
        `UPDATE idempotency_keys SET locked_until = ${lease}
         WHERE scope = $1 AND key = $2 AND owner = $3 AND status IS NULL`,
        [scope, key, owner, leaseMs],
      );
      return res.rowCount === 1;
    },
    async complete(scope, key, owner, answer) {
      const res = await pg.query(
        `UPDATE idempotency_keys
         SET status = $4, content_type = $5, headers = $6, body = $7, completed_at = now()
         WHERE scope = $1 AND key = $2 AND owner = $3 AND status IS NULL`,
        [scope, key, owner, answer.status, answer.contentType, JSON.stringify(answer.headers), answer.body],
      );
      return res.rowCount === 1;
    },
    async release(scope, key, owner) {
      await pg.query('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND owner = $3 AND status IS NULL', [scope, key, owner]);
    },
    async prune(retentionSeconds, limit) {
      const res = await pg.query(
        `DELETE FROM idempotency_keys WHERE (scope, key) IN (
           SELECT scope, key FROM idempotency_keys
           WHERE created_at < now() - $1::bigint * interval '1 second' AND (status IS NOT NULL OR locked_until < now())
           LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [retentionSeconds, limit],
      );
      return res.rowCount ?? 0;
    },
  };
}
