import { STATUS_CODES } from 'node:http';
import type { HttpResponse as UwsResponse } from '@trufflesuite/uws-js-unofficial';
import type { Reply } from './types.js';

/**
 * One request and its response on a uWS socket. uWS forbids touching a response after it was
 * aborted or fully sent (it throws), so every use goes through the flags here.
 */
export interface Exchange {
  readonly res: UwsResponse;
  /** The client went away (or the server closed the socket): nothing may be written. */
  aborted: boolean;
  /** A response was handed to uWS (it may still be draining): nothing more may be written. */
  answered: boolean;
  /** Reading was paused (the body waits for the key to be checked) and not resumed yet. */
  paused: boolean;
  /** Called once, when the exchange is aborted. */
  readonly onAbort: (() => void)[];
  /** A HEAD request: answered with the headers a GET would have, and no body. */
  readonly head: boolean;
}

export function openExchange(res: UwsResponse, head = false): Exchange {
  const exchange: Exchange = { res, aborted: false, answered: false, paused: false, onAbort: [], head };
  // Registered first, so that whatever happens next uWS never sees a handler return without
  // an abort handler (it terminates the process when that happens).
  res.onAborted(() => {
    exchange.aborted = true;
    for (const handler of exchange.onAbort.splice(0)) handler();
  });
  return exchange;
}

/** Whether the exchange may still be written to. */
export function writable(exchange: Exchange): boolean {
  return !exchange.aborted && !exchange.answered;
}

/**
 * Response bodies handed to uWS but not yet taken by the kernel, across all connections. A
 * client that stops reading holds one response at most (uWS closes a connection that sends
 * another request while one is unanswered), and past `limit` bytes in all the connection that
 * would add more is closed instead.
 */
export interface Backlog {
  bytes: number;
  readonly limit: number;
}

/**
 * Writes a reply with `tryEnd`: what the socket cannot take now is written from `onWritable` as
 * the client reads (uWS's streaming pattern), instead of being copied whole into uWS's buffer as
 * `end` does whether or not the client reads. While a reply is not fully taken, uWS counts the
 * request as unanswered, so a client pipelining requests without reading is disconnected at its
 * next request instead of piling up responses. With `closeConnection` (an error answered while a
 * body is still on the wire, or shutdown) the reply goes out with `end` and the connection is
 * closed once it is sent.
 */
export function send(exchange: Exchange, reply: Reply, requestId: string, closeConnection: boolean, backlog: Backlog): void {
  if (!writable(exchange)) return;
  exchange.answered = true;
  const { res } = exchange;
  const { body, contentType } = encode(reply);
  let overLimit = false;
  res.cork(() => {
    if (exchange.paused) {
      // Reading stays paused otherwise, and the next request on this connection is never read.
      exchange.paused = false;
      res.resume();
    }
    res.writeStatus(`${reply.status} ${STATUS_CODES[reply.status] ?? ''}`);
    res.writeHeader('Content-Type', contentType);
    res.writeHeader('X-Request-Id', requestId);
    // Every answer is what its Content-Type says: a browser never guesses it into a script.
    res.writeHeader('X-Content-Type-Options', 'nosniff');
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.writeHeader(k, v);
    if (exchange.head) {
      // An answer that closes the connection (a refusal with its body still arriving, shutdown)
      // is ended as a GET's would be, with no body: a HEAD client reads no body whatever the
      // length says.
      if (closeConnection) {
        res.end('', true);
        return;
      }
      // The length is written by hand, and endWithoutBody called with no arguments: given a
      // length, this uWS waits for that many bytes and never finishes the answer (the
      // connection's next request is never read); given undefined, it writes a length of its own.
      res.writeHeader('Content-Length', String(body.length));
      res.endWithoutBody();
      return;
    }
    if (closeConnection) {
      res.end(body, closeConnection);
      return;
    }
    const base = res.getWriteOffset();
    const [, done] = res.tryEnd(body, body.length);
    if (done) return;
    const pending = body.length - (res.getWriteOffset() - base);
    // One reply alone may exceed the limit (a large list); a second one may not join it.
    if (backlog.bytes > 0 && backlog.bytes + pending > backlog.limit) {
      overLimit = true;
      return;
    }
    backlog.bytes += pending;
    let held = pending;
    const release = () => {
      backlog.bytes -= held;
      held = 0;
    };
    exchange.onAbort.push(release);
    res.onWritable((offset) => {
      const [ok, finished] = res.tryEnd(body.subarray(offset - base), body.length);
      // A finished response must not be touched again (uWS throws).
      const left = finished ? 0 : body.length - (res.getWriteOffset() - base);
      backlog.bytes -= held - left;
      held = left;
      return ok;
    });
  });
  // Closing aborts the exchange (uWS calls onAborted), so it happens outside the cork.
  if (overLimit) res.close();
}

function encode(reply: Reply): { body: Buffer; contentType: string } {
  if (Buffer.isBuffer(reply.body)) return { body: reply.body, contentType: reply.contentType ?? 'text/plain; charset=utf-8' };
  if (typeof reply.body === 'string') return { body: Buffer.from(reply.body, 'utf8'), contentType: reply.contentType ?? 'text/plain; charset=utf-8' };
  if (reply.body === undefined) return { body: Buffer.alloc(0), contentType: reply.contentType ?? 'application/json' };
  return { body: Buffer.from(JSON.stringify(reply.body), 'utf8'), contentType: reply.contentType ?? 'application/json' };
}
