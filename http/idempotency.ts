import { createHash } from 'node:crypto';
import { TallyError, errorBody, isTallyError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { IdempotencyStore, SavedAnswer } from './idempotency-store.js';
import { tenantOf, type Reply, type Request, type Route } from './types.js';

/**
 * Idempotency keys on Tally's own writes, as Stripe has them: a tenant's POST carrying
 * `Idempotency-Key` runs once; a retry with the same key gets the first answer (status, body,
 * content type and headers, plus `Idempotent-Replayed: true`) instead of a second subscription,
 * credit grant or coupon redemption. A key is the tenant's (another tenant's same key is
 * another key), names one request (a reuse for a different one is refused), and is kept at
 * least 24 hours.
 *
 * The first request claims the key in Postgres before its handler runs, so a concurrent
 * duplicate on any node is refused as in progress rather than run twice. What the handler
 * answers with 2xx or 4xx is saved; a 5xx, a 429 or any retryable error is not, and the claim is
 * released so that the retry runs again.
 *
 * The residual window: a node that dies after the handler's change committed and before the
 * answer is saved leaves an unfinished claim; once its lease lapses a retry runs again.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';
const KEY = /^[\x20-\x7e]{1,255}$/;

/**
 * Routes whose answer holds an API key's secret: saving it would keep the secret in plain text
 * next to the key's hash, so these ignore the header.
 */
const SECRET_ANSWERS = new Set(['/v1/tenant/api_keys']);
/** `POST /v1/events` has its own dedup, per event id. */
const OWN_DEDUP = new Set(['/v1/events']);

/** Whether a route honours `Idempotency-Key`: every tenant POST but those above. */
export function takesIdempotencyKey(route: Pick<Route, 'method' | 'access' | 'pattern'>): boolean {
  return route.method === 'POST' && route.access === 'tenant' && !SECRET_ANSWERS.has(route.pattern) && !OWN_DEDUP.has(route.pattern);
}

export interface IdempotencyOptions {
  store: IdempotencyStore;
  logger: Logger;
  /** How long a claim holds without renewal; its owner renews it every third of this. */
  leaseMs?: number;
  /** Keys older than this are deleted (Stripe's floor is 24 hours). */
  retentionSeconds?: number;
  /** At most one prune per this many ms per process, of at most `pruneBatch` keys. */
  pruneEveryMs?: number;
  pruneBatch?: number;
  now?: () => number;
}

export interface Idempotency {
  /** The route with its handler behind idempotency keys when it takes them; otherwise the route itself. */
  wrap(route: Route): Route;
}

export function idempotencyKeys(opts: IdempotencyOptions): Idempotency {
  const { store, logger } = opts;
  const leaseMs = opts.leaseMs ?? 30_000;
  const retentionSeconds = opts.retentionSeconds ?? 24 * 3600;
  const pruneEveryMs = opts.pruneEveryMs ?? 60_000;
  const pruneBatch = opts.pruneBatch ?? 5_000;
  const now = opts.now ?? Date.now;
  let lastPrune = -Infinity;

  /** Opportunistic and bounded: a DELETE of old keys by index, at most once a minute, never failing the request. */
  async function maybePrune(): Promise<void> {
    if (now() - lastPrune < pruneEveryMs) return;
    lastPrune = now();
    try {
      await store.prune(retentionSeconds, pruneBatch);
    } catch (e) {
      logger.warn({ err: e }, 'pruning idempotency keys failed; the next claim tries again');
      lastPrune = -Infinity;
    }
  }

  async function run(route: Route, req: Request, key: string): Promise<Reply> {
    if (!KEY.test(key)) {
      throw new TallyError('TALLY_ERR_IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key must be 1 to 255 printable ASCII characters', { field: 'Idempotency-Key' });
    }
    const scope = tenantOf(req);
    await maybePrune();
    const claim = await store.claim(scope, key, requestHash(req), leaseMs);
    switch (claim.kind) {
      case 'mismatch':
        throw new TallyError(
          'TALLY_ERR_IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was used for a different request (route, path, query or body); use a new key for a new request',
          { field: 'Idempotency-Key' },
        );
      case 'in_progress':
        throw new TallyError('TALLY_ERR_IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still running; retry shortly for its answer', {
          field: 'Idempotency-Key',
          headers: { 'Retry-After': '1' },
        });
      case 'done':
        return replay(claim.answer);
      case 'claimed':
        break;
    }

    const { owner } = claim;
    const renewal = setInterval(() => {
      store.renew(scope, key, owner, leaseMs).catch((e: unknown) => logger.warn({ err: e, requestId: req.requestId }, 'renewing an idempotency key failed'));
    }, Math.max(1, Math.floor(leaseMs / 3)));
    renewal.unref();
    // The answer went (or goes) to the client whatever happens here; a failed save is logged.
    const save = async (answer: SavedAnswer): Promise<void> => {
      try {
        if (!(await store.complete(scope, key, owner, answer))) logger.warn({ requestId: req.requestId }, 'an idempotency key was taken over while its first request ran (lease lapsed)');
      } catch (e) {
        logger.error({ err: e, requestId: req.requestId }, 'saving the answer of an idempotency key failed; a retry after its lease runs again');
      }
    };
    const release = async (): Promise<void> => {
      await store.release(scope, key, owner).catch((e: unknown) => logger.warn({ err: e, requestId: req.requestId }, 'releasing an idempotency key failed; its lease lapses instead'));
    };

    try {
      let reply: Reply;
      try {
        reply = await route.handler(req);
      } catch (e) {
        if (isTallyError(e) && isSaved(e.status, e.retryable)) await save(errorAnswer(e, req.requestId));
        else await release();
        throw e;
      }
      if (!isSaved(reply.status, false)) {
        await release();
        return reply;
      }
      const answer = answerOf(reply);
      await save(answer);
      // The first answer is sent from the saved bytes too, so a replay cannot differ from it.
      return { status: answer.status, body: answer.body, contentType: answer.contentType, headers: answer.headers };
    } finally {
      clearInterval(renewal);
    }
  }

  return {
    wrap(route) {
      if (!takesIdempotencyKey(route)) return route;
      return {
        ...route,
        handler: (req) => {
          const key = req.headers[IDEMPOTENCY_HEADER];
          return key === undefined ? route.handler(req) : run(route, req, key);
        },
      };
    },
  };
}

/** 2xx and 4xx are the request's outcome; 5xx, 429 and retryable errors are a moment's, so a retry runs again. */
function isSaved(status: number, retryable: boolean): boolean {
  return status >= 200 && status < 500 && status !== 429 && !retryable;
}

/** What the request is: a reuse of its key must match all of it. */
export function requestHash(req: Pick<Request, 'method' | 'route' | 'params' | 'query' | 'body'>): string {
  const params = Object.entries(req.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const head = JSON.stringify([req.method, req.route, params, req.query.toString()]);
  return createHash('sha256').update(head).update('\n').update(req.body).digest('hex');
}

/** The bytes the HTTP layer would send for `reply` (http/server.ts `write`). */
function answerOf(reply: Reply): SavedAnswer {
  const headers = { ...(reply.headers ?? {}) };
  if (Buffer.isBuffer(reply.body) || typeof reply.body === 'string') {
    return { status: reply.status, body: Buffer.from(reply.body), contentType: reply.contentType ?? 'text/plain; charset=utf-8', headers };
  }
  const body = reply.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(reply.body));
  return { status: reply.status, body, contentType: reply.contentType ?? 'application/json', headers };
}

/** The error answer the HTTP layer sends for `e` (its request id is the first request's). */
function errorAnswer(e: TallyError, requestId: string): SavedAnswer {
  return { status: e.status, body: Buffer.from(JSON.stringify(errorBody(e, requestId))), contentType: 'application/json', headers: { ...e.headers } };
}

function replay(answer: SavedAnswer): Reply {
  return { status: answer.status, body: answer.body, contentType: answer.contentType, headers: { ...answer.headers, [REPLAYED_HEADER]: 'true' } };
}
