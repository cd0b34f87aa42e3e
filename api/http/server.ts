import { STATUS_CODES } from 'node:http';
import uws from '@trufflesuite/uws-js-unofficial';
import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse, TemplatedApp, us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import { TallyError, errorBody, isTallyError } from '../../core/errors.js';
import type { Authenticator } from '../../core/auth.js';
import type { HttpMetrics } from '../../core/metrics.js';
import type { Logger } from '../../core/log.js';
import { randomToken } from '../../core/ids.js';
import type { Method, Reply, Request, Route } from './types.js';

/**
 * The HTTP server: uWebSockets.js underneath, plain `Request`/`Reply` objects above. It owns
 * what every route shares — body reading and its limit, request ids, authentication, the error
 * shape, metrics — and graceful shutdown: stop accepting, let in-flight requests finish, then
 * close every connection.
 */
export interface HttpServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  shutdownTimeoutMs: number;
  authenticator: Authenticator;
  /** False when no admin key is configured: admin routes then answer TALLY_ERR_ADMIN_DISABLED. */
  adminEnabled: boolean;
  metrics: HttpMetrics;
  logger: Logger;
  routes: readonly Route[];
}

export interface HttpServer {
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  /** Graceful stop; resolves once in-flight requests are done (or the timeout passed). */
  stop(): Promise<void>;
  readonly shuttingDown: boolean;
  readonly inFlight: number;
}

const UWS_METHOD: Record<Method, 'get' | 'post' | 'put' | 'patch' | 'del'> = {
  GET: 'get',
  POST: 'post',
  PUT: 'put',
  PATCH: 'patch',
  DELETE: 'del',
};
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const app: TemplatedApp = uws.App();
  const { metrics, logger } = opts;
  let listenSocket: us_listen_socket | undefined;
  let shuttingDown = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const byPattern = new Map<string, Route[]>();
  for (const route of opts.routes) {
    const list = byPattern.get(route.pattern) ?? [];
    list.push(route);
    byPattern.set(route.pattern, list);
  }

  for (const [pattern, routes] of byPattern) {
    const paramNames = [...pattern.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
    for (const route of routes) {
      app[UWS_METHOD[route.method]](pattern, (res, req) => handle(res, req, route, paramNames));
    }
    const allow = routes.map((r) => r.method).join(', ');
    app.any(pattern, (res, req) => {
      const method = req.getCaseSensitiveMethod();
      const requestId = requestIdOf(req);
      const err = new TallyError('TALLY_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${pattern}; allowed: ${allow}`, {
        headers: { Allow: allow },
      });
      respondNow(res, method, pattern, requestId, err);
    });
  }
  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod();
    const requestId = requestIdOf(req);
    respondNow(res, method, 'unmatched', requestId, new TallyError('TALLY_ERR_NOT_FOUND', `no route for ${method} ${req.getUrl()}`));
  });

  function requestIdOf(req: UwsRequest): string {
    const given = req.getHeader('x-request-id');
    return REQUEST_ID.test(given) ? given : `req_${randomToken(20)}`;
  }

  /** Synchronous answer from inside the uWS handler (no await, so no abort handler needed). */
  function respondNow(res: UwsResponse, method: string, route: string, requestId: string, err: TallyError): void {
    const started = process.hrtime.bigint();
    write(res, errorReply(err, requestId), requestId, false);
    observe(method, route, err.status, started);
  }

  function handle(res: UwsResponse, ureq: UwsRequest, route: Route, paramNames: readonly string[]): void {
    const started = process.hrtime.bigint();
    // Everything from `ureq` must be copied now: it is only valid until this function returns.
    const headers: Record<string, string> = {};
    ureq.forEach((k, v) => {
      headers[k] = v;
    });
    const params: Record<string, string> = {};
    paramNames.forEach((name, i) => {
      params[name] = decodeURIComponent(ureq.getParameter(i));
    });
    const path = ureq.getUrl();
    const query = new URLSearchParams(ureq.getQuery());
    const requestId = requestIdOf(ureq);

    const state = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });

    const finish = (reply: Reply, closeConnection = false): void => {
      if (!state.aborted) write(res, reply, requestId, closeConnection || shuttingDown);
      observe(route.method, route.pattern, reply.status, started);
    };

    if (shuttingDown) {
      finish(errorReply(new TallyError('TALLY_ERR_SHUTTING_DOWN', 'server is shutting down; retry on another node', { headers: { 'Retry-After': '1' } }), requestId), true);
      return;
    }

    const limit = route.maxBodyBytes ?? opts.maxBodyBytes;
    const declared = headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      finish(errorReply(tooLarge(limit), requestId), true);
      return;
    }

    inFlight++;
    metrics.inFlight.inc();
    const done = () => {
      inFlight--;
      metrics.inFlight.dec();
      if (inFlight === 0) drained?.();
    };

    const hasBody = route.method !== 'GET';
    readBody(res, hasBody, limit, state)
      .then(async (body) => {
        if (route.access === 'admin' && !opts.adminEnabled) {
          throw new TallyError('TALLY_ERR_ADMIN_DISABLED', 'admin routes are disabled: set TALLY_ADMIN_KEY to enable them');
        }
        const principal = route.access === 'public' ? undefined : await opts.authenticator.authenticate(headers.authorization ?? '');
        if (route.access === 'admin' && principal?.kind !== 'admin') {
          throw new TallyError('TALLY_ERR_FORBIDDEN', 'this route needs the admin key; a tenant key cannot use it');
        }
        if (route.access === 'tenant' && principal?.kind !== 'tenant') {
          throw new TallyError('TALLY_ERR_FORBIDDEN', 'this route needs a tenant API key');
        }
        const request: Request = { method: route.method, path, route: route.pattern, query, headers, params, body, requestId, principal };
        return route.handler(request);
      })
      .then(
        (reply) => finish(reply),
        (e: unknown) => {
          const err = toTallyError(e, logger, requestId, route.pattern);
          // After a body overflow the rest of the body is still on the wire: close the connection.
          finish(errorReply(err, requestId), err.code === 'TALLY_ERR_PAYLOAD_TOO_LARGE');
        },
      )
      .finally(done);
  }

  function observe(method: string, route: string, status: number, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.requests.inc({ method, route, status: String(status) });
    metrics.duration.observe({ method, route }, seconds);
  }

  return {
    get shuttingDown() {
      return shuttingDown;
    },
    get inFlight() {
      return inFlight;
    },
    listen: () =>
      new Promise<number>((resolve, reject) => {
        app.listen(opts.host, opts.port, (socket) => {
          if (socket === false) {
            reject(new Error(`cannot listen on ${opts.host}:${opts.port} (address in use or not allowed)`));
            return;
          }
          listenSocket = socket;
          resolve(uws.us_socket_local_port(socket));
        });
      }),
    stop: async () => {
      if (shuttingDown) return;
      shuttingDown = true;
      if (listenSocket !== undefined) uws.us_listen_socket_close(listenSocket);
      listenSocket = undefined;
      if (inFlight > 0) {
        const waited = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), opts.shutdownTimeoutMs);
          drained = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        if (!waited) logger.warn({ inFlight }, 'shutdown timeout reached with requests still in flight');
      }
      // Closes the remaining keep-alive connections so the event loop can end.
      (app as TemplatedApp & { close(): void }).close();
    },
  };
}

function readBody(res: UwsResponse, hasBody: boolean, limit: number, state: { aborted: boolean }): Promise<Buffer> {
  if (!hasBody) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed || state.aborted) return;
      size += chunk.byteLength;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      // uWS neuters the chunk when this callback returns, so it is copied.
      chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      if (isLast) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
  });
}

function tooLarge(limit: number): TallyError {
  return new TallyError('TALLY_ERR_PAYLOAD_TOO_LARGE', `request body is larger than the limit of ${limit} bytes (TALLY_MAX_BODY_BYTES)`);
}

function toTallyError(e: unknown, logger: Logger, requestId: string, route: string): TallyError {
  if (isTallyError(e)) return e;
  logger.error({ err: e, requestId, route }, 'unhandled error in request');
  return new TallyError('TALLY_ERR_INTERNAL', 'internal error; the request id identifies it in the logs', { cause: e });
}

function errorReply(err: TallyError, requestId: string): Reply {
  return { status: err.status, body: errorBody(err, requestId), headers: err.headers };
}

function write(res: UwsResponse, reply: Reply, requestId: string, closeConnection: boolean): void {
  let body: string | Buffer;
  let contentType: string;
  if (Buffer.isBuffer(reply.body) || typeof reply.body === 'string') {
    body = reply.body;
    contentType = reply.contentType ?? 'text/plain; charset=utf-8';
  } else if (reply.body === undefined) {
    body = '';
    contentType = reply.contentType ?? 'application/json';
  } else {
    body = JSON.stringify(reply.body);
    contentType = reply.contentType ?? 'application/json';
  }
  res.cork(() => {
    res.writeStatus(`${reply.status} ${STATUS_CODES[reply.status] ?? ''}`);
    res.writeHeader('Content-Type', contentType);
    res.writeHeader('X-Request-Id', requestId);
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.writeHeader(k, v);
    res.end(body, closeConnection);
  });
}
