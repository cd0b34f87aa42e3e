import { TallyError } from '../core/errors.js';
import type { Exchange } from './exchange.js';

/** Rejects a body read when the client goes away mid-body (never shown to a client). */
export class ClientAborted extends Error {
  constructor() {
    super('the client closed the connection before the request was answered');
    this.name = 'ClientAborted';
  }
}

export interface BodyRead {
  readonly body: Promise<Buffer>;
  /** Whether the last chunk has arrived. */
  readonly complete: boolean;
}

/**
 * Reads a request body, up to `limit` bytes. It must start inside the uWS handler (uWS drops
 * body data that arrives with no data handler), and it settles exactly once: with the body,
 * with TALLY_ERR_PAYLOAD_TOO_LARGE, or with ClientAborted when the client goes away mid-body
 * (so the request's slot is always given back). While `gate` says so, chunks past the first
 * read pause the socket: a caller whose key is still being checked cannot stream a body in.
 */
export function readBody(exchange: Exchange, limit: number, gate: () => boolean, routeLimit = false): BodyRead {
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  let complete = false;
  const body = new Promise<Buffer>((resolve, reject) => {
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      reject(e);
    };
    exchange.onAbort.push(() => fail(new ClientAborted()));
    exchange.res.onData((chunk, isLast) => {
      // After an answer (a refused key, an error) the rest of the body is dropped unread.
      if (settled || exchange.aborted || exchange.answered) return;
      complete = isLast;
      size += chunk.byteLength;
      if (size > limit) {
        fail(tooLarge(limit, routeLimit));
        return;
      }
      // uWS neuters the chunk when this callback returns, so it is copied.
      chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      if (isLast) {
        settled = true;
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
        return;
      }
      if (gate() && !exchange.paused) {
        exchange.paused = true;
        exchange.res.pause();
      }
    });
  });
  return {
    body,
    get complete() {
      return complete;
    },
  };
}

/** `routeLimit`: the limit is the route's own (a logo), not the TALLY_MAX_BODY_BYTES setting. */
export function tooLarge(limit: number, routeLimit = false): TallyError {
  if (routeLimit) return new TallyError('TALLY_ERR_PAYLOAD_TOO_LARGE', `request body is larger than the ${limit} bytes this route takes`, { field: 'body' });
  return new TallyError('TALLY_ERR_PAYLOAD_TOO_LARGE', `request body is larger than the limit of ${limit} bytes (TALLY_MAX_BODY_BYTES)`);
}
