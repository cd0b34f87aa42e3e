import uws from '@trufflesuite/uws-js-unofficial';
import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse, TemplatedApp, us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import { TallyError, errorBody, isTallyError } from '../core/errors.js';
import { storeUnavailable, TROUBLE_TEXT } from '../core/store-errors.js';
import { RepeatedWarnings } from '../core/repeated-warnings.js';
import type { Authenticator, Principal } from '../core/auth.js';
import type { HttpMetrics } from '../core/metrics.js';
import type { Logger } from '../core/log.js';
import { newRequestId } from '../core/ids.js';
import { openExchange, send, writable, type Backlog, type Exchange } from './exchange.js';
import { ClientAborted, readBody, tooLarge, type BodyRead } from './read.js';
import { decodePathParameter, parseQuery } from './text.js';
import type { Method, Reply, Request, Route } from './types.js';

/** uSockets' listen option: fail rather than share the port (ListenOptions in uWS.js). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;
interface ExclusiveListen {
  listen(host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void): TemplatedApp;
}

/**
 * The HTTP server: uWebSockets.js underneath, plain `Request`/`Reply` objects above. It owns
 * what every route shares — request ids, authentication (from the headers, before any body is
 * read), body reading and its limit, the error shape, metrics, writing replies at the pace the
 * client reads them — and graceful shutdown: stop accepting, let in-flight requests finish,
 * then close every connection. Nothing thrown inside a uWS handler may escape it: uWS would
 * take the process down.
 */
export interface HttpServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  /** Reply bytes waiting for slow readers, all connections together (default 64 MiB). */
  maxPendingResponseBytes?: number;
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
/** The metrics status of a request whose client went away before its answer (nginx's). */
const CLIENT_CLOSED = 499;

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const app: TemplatedApp = uws.App();
  const { metrics, logger } = opts;
  /** The store-trouble warnings of requests, one per route and trouble every 15 minutes. */
  const storeWarnings = new RepeatedWarnings();
  let listenSocket: us_listen_socket | undefined;
  let shuttingDown = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const backlog: Backlog = { bytes: 0, limit: opts.maxPendingResponseBytes ?? 64 * 1024 * 1024 };

  const byPattern = new Map<string, Route[]>();
  for (const route of opts.routes) {
    const list = byPattern.get(route.pattern) ?? [];
    list.push(route);
    byPattern.set(route.pattern, list);
  }

  for (const [pattern, routes] of byPattern) {
    const paramNames = [...pattern.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
    for (const route of routes) {
      app[UWS_METHOD[route.method]](pattern, (res, req) => guarded(res, req, pattern, (exchange) => handle(exchange, req, route, paramNames)));
      // HEAD is GET without the body (RFC 9110): health checks and link checkers use it.
      if (route.method === 'GET') app.head(pattern, (res, req) => guarded(res, req, pattern, (exchange) => handle(exchange, req, route, paramNames)));
    }
    const allow = routes.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method])).join(', ');
    app.any(pattern, (res, req) =>
      guarded(res, req, pattern, (exchange) => {
        const method = req.getCaseSensitiveMethod();
        const err = new TallyError('TALLY_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${pattern}; allowed: ${allow}`, {
          headers: { Allow: allow },
        });
        respondNow(exchange, method, pattern, requestIdOf(req), err);
      }),
    );
  }
  app.any('/*', (res, req) =>
    guarded(res, req, 'unmatched', (exchange) => {
      const method = req.getCaseSensitiveMethod();
      respondNow(exchange, method, 'unmatched', requestIdOf(req), new TallyError('TALLY_ERR_NOT_FOUND', `no route for ${method} ${req.getUrl()}`));
    }),
  );

  /**
   * Runs the synchronous part of a handler so that nothing it throws reaches uWS: the client
   * gets a 500 (or its connection is closed when even that fails) and the process lives on.
   */
  function guarded(res: UwsResponse, req: UwsRequest, route: string, body: (exchange: Exchange) => void): void {
    let exchange: Exchange | undefined;
    try {
      // (getMethod would lower-case the method in place, for the metrics too.)
      exchange = openExchange(res, req.getCaseSensitiveMethod() === 'HEAD');
      body(exchange);
    } catch (e) {
      const requestId = newRequestId();
      logger.error({ err: e, requestId, route }, 'unhandled error in request');
      try {
        if (exchange === undefined || writable(exchange)) {
          const err = new TallyError('TALLY_ERR_INTERNAL', 'internal error; the request id identifies it in the logs', { cause: e });
          if (exchange === undefined) res.end(JSON.stringify(errorBody(err, requestId)), true);
          else send(exchange, errorReply(err, requestId), requestId, true, backlog);
        }
      } catch {
        try {
          res.close();
        } catch {
          // Already answered or closed: nothing is left to do.
        }
      }
    }
  }

  function requestIdOf(req: UwsRequest): string {
    const given = req.getHeader('x-request-id');
    return REQUEST_ID.test(given) ? given : newRequestId();
  }

  /** Synchronous answer from inside the uWS handler. */
  function respondNow(exchange: Exchange, method: string, route: string, requestId: string, err: TallyError): void {
    const started = process.hrtime.bigint();
    send(exchange, errorReply(err, requestId), requestId, false, backlog);
    observe(method, route, err.status, started);
  }

  function handle(exchange: Exchange, ureq: UwsRequest, route: Route, paramNames: readonly string[]): void {
    const started = process.hrtime.bigint();
    // A HEAD runs its GET route but is counted as what it was: a health check probing with HEAD
    // every second would otherwise swell the route's GET rate and latency.
    const method = exchange.head ? 'HEAD' : route.method;
    // Everything from `ureq` is copied first: it is only valid until this function returns.
    const headers: Record<string, string> = {};
    // uWS frames the body by the first Content-Length; with a second one, a body could be read
    // as another request (smuggling past a proxy that frames it by the other one).
    let lengths = 0;
    let keys = 0;
    // A CloudEvents attribute has one value: of two `ce-id` headers, either could be the id.
    let repeatedAttribute: string | undefined;
    ureq.forEach((k, v) => {
      if (k === 'content-length') lengths++;
      else if (k === 'authorization') keys++;
      else if (k.startsWith('ce-') && headers[k] !== undefined) repeatedAttribute ??= k;
      headers[k] = v;
    });
    const rawParams = paramNames.map((_, i) => ureq.getParameter(i));
    const path = ureq.getUrl();
    const rawQuery = ureq.getQuery();
    const requestId = requestIdOf(ureq);

    const limit = route.maxBodyBytes ?? opts.maxBodyBytes;
    const declared = headers['content-length'];
    // A GET takes no body, but one sent anyway is read (within the limit) and dropped: left on
    // the wire, it resets the connection under a reply larger than the socket takes at once.
    const hasBody = route.method !== 'GET' || Number(declared ?? 0) > 0 || headers['transfer-encoding'] !== undefined;
    let read: BodyRead | undefined;
    /**
     * Whether answering now must close the connection rather than let uWS drain the body. A body
     * still on the wire when the request is answered early (a refused key, a bad path) is read
     * and dropped by uWS, unbuffered, when its declared length is within the route's limit: a
     * client that writes its whole body before reading (most do) then gets the answer instead of
     * a reset connection, and nothing is held for it. A chunked body, whose end nobody knows,
     * closes the connection instead.
     */
    const bodyInTheWay = (): boolean => {
      if (read?.complete === true) return false;
      if (declared === undefined) return headers['transfer-encoding'] !== undefined;
      return Number(declared) > limit;
    };
    const finish = (reply: Reply, closeConnection: boolean): void => {
      const status = exchange.aborted ? CLIENT_CLOSED : reply.status;
      send(exchange, reply, requestId, closeConnection || shuttingDown, backlog);
      observe(method, route.pattern, status, started);
    };
    const refuse = (err: TallyError, closeConnection = bodyInTheWay()): void => finish(errorReply(err, requestId), closeConnection);

    if (lengths > 1) {
      // The framing cannot be trusted, so nothing more is read from this connection: it is
      // closed without an answer. (A 400 sent first does not do: after a complete reply uWS
      // goes on to parse what follows in its buffer, the smuggled request, and answers it.)
      logger.warn({ requestId, route: route.pattern }, 'a request with more than one Content-Length header; connection closed');
      observe(method, route.pattern, 400, started);
      exchange.res.close();
      return;
    }
    if (shuttingDown) {
      refuse(new TallyError('TALLY_ERR_SHUTTING_DOWN', 'server is shutting down; retry on another node', { headers: { 'Retry-After': '1' } }), true);
      return;
    }
    if (declared !== undefined && Number(declared) > limit) {
      refuse(tooLarge(limit, route.maxBodyBytes !== undefined), true);
      return;
    }
    // A body is read as sent: a compressed one would be taken for its bytes (and refused as
    // "not UTF-8", which tells the client nothing).
    const encoding = headers['content-encoding']?.trim().toLowerCase();
    if (hasBody && encoding !== undefined && encoding !== '' && encoding !== 'identity') {
      refuse(new TallyError('TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported; send the body uncompressed`, { field: 'Content-Encoding' }));
      return;
    }
    // Refused with the other header faults: before a key lookup is pending, a body read begun or
    // the request counted in flight, none of which a refusal here would settle.
    if (repeatedAttribute !== undefined) {
      refuse(new TallyError('TALLY_ERR_INVALID_VALUE', `header ${repeatedAttribute} appears more than once; a CloudEvents attribute has one value`, { field: repeatedAttribute }));
      return;
    }

    const params: Record<string, string> = {};
    let query: URLSearchParams;
    try {
      paramNames.forEach((name, i) => {
        params[name] = decodePathParameter(name, rawParams[i]!);
      });
      // uWS gives no query string at all as undefined.
      query = parseQuery(rawQuery ?? '');
    } catch (e) {
      if (!isTallyError(e)) throw e;
      refuse(e);
      return;
    }

    // The key is checked from the headers before any body is read: a caller without a valid
    // key is answered at once, and one whose key needs the store has its reading paused.
    let principal: Principal | undefined;
    let pendingAuth: Promise<Principal> | undefined;
    if (route.access === 'admin' && !opts.adminEnabled) {
      refuse(new TallyError('TALLY_ERR_ADMIN_DISABLED', 'admin routes are disabled: set TALLY_ADMIN_KEY to enable them'));
      return;
    }
    if (route.access !== 'public') {
      if (keys > 1) {
        // Which one a proxy or a log read is anybody's guess: no request acts on two keys.
        refuse(new TallyError('TALLY_ERR_UNAUTHORIZED', 'the request has more than one Authorization header', { field: 'Authorization' }));
        return;
      }
      const known = opts.authenticator.authenticateFromMemory(headers.authorization ?? '');
      if (known instanceof TallyError) {
        refuse(known);
        return;
      }
      if (known === undefined) {
        pendingAuth = opts.authenticator.authenticate(headers.authorization ?? '');
      } else {
        const denied = accessError(route, known);
        if (denied !== undefined) {
          refuse(denied);
          return;
        }
        principal = known;
      }
    }

    let authPending = pendingAuth !== undefined;
    if (hasBody) {
      read = readBody(exchange, limit, () => authPending, route.maxBodyBytes !== undefined);
      // Awaited below; marked handled here so that a refusal before that await leaves no
      // unhandled rejection behind when the client then goes away.
      read.body.catch(() => undefined);
    }
    const body = read?.body;

    // Counted from here, where nothing can throw any more: `done` runs exactly once, when the
    // promise chain below settles, and every way out of it (an answer, an error, an abort
    // mid-body) settles it.
    inFlight++;
    metrics.inFlight.inc();
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      inFlight--;
      metrics.inFlight.dec();
      if (inFlight === 0) drained?.();
    };

    const run = async (): Promise<Reply> => {
      if (pendingAuth !== undefined) {
        principal = await pendingAuth;
        authPending = false;
        const denied = accessError(route, principal);
        if (denied !== undefined) throw denied;
        if (exchange.paused && read?.complete === false && writable(exchange)) {
          exchange.paused = false;
          exchange.res.resume();
        }
      }
      const request: Request = {
        method: route.method,
        path,
        route: route.pattern,
        query,
        headers,
        params,
        body: body === undefined ? Buffer.alloc(0) : await body,
        requestId,
        principal,
      };
      return route.handler(request);
    };

    run()
      .then(
        (reply) => finish(reply, false),
        (e: unknown) => {
          if (e instanceof ClientAborted) {
            observe(method, route.pattern, CLIENT_CLOSED, started);
            return;
          }
          const err = toTallyError(e, logger, requestId, route, metrics, storeWarnings);
          // After a body overflow the rest of the body is still on the wire: close the connection.
          finish(errorReply(err, requestId), err.code === 'TALLY_ERR_PAYLOAD_TOO_LARGE' || bodyInTheWay());
        },
      )
      .catch((e: unknown) => logger.error({ err: e, requestId, route: route.pattern }, 'writing a reply failed'))
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
        // Exclusive: uWS otherwise binds with SO_REUSEPORT, and a second process on a port in
        // use (another node, an aggregator left on the default port) would share it silently,
        // the kernel splitting requests and scrapes between the two.
        // (The native listen takes host, port, options, callback; the typings list it without the host.)
        (app as unknown as ExclusiveListen).listen(opts.host, opts.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
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

/** Why `principal` may not call `route`, or undefined when it may. */
function accessError(route: Route, principal: Principal): TallyError | undefined {
  if (route.access === 'admin' && principal.kind !== 'admin') {
    return new TallyError('TALLY_ERR_FORBIDDEN', 'this route needs the admin key; a tenant key cannot use it');
  }
  if (route.access === 'tenant' && principal.kind !== 'tenant') {
    return new TallyError('TALLY_ERR_FORBIDDEN', 'this route needs a tenant API key');
  }
  return undefined;
}

function toTallyError(e: unknown, logger: Logger, requestId: string, route: Route, metrics: HttpMetrics, warnings: RepeatedWarnings): TallyError {
  if (isTallyError(e)) return e;
  const unavailable = storeUnavailable(e);
  // A write whose store went away mid-way may have been done: "retry" could do it twice, so it
  // stays an internal error (the client checks before sending it again). A read (a GET, or the
  // HEAD that runs one) is safe to retry.
  if (unavailable !== undefined && (!unavailable.midway || route.method === 'GET')) {
    metrics.storeUnavailable.inc({ trouble: unavailable.trouble });
    const text = TROUBLE_TEXT[unavailable.trouble];
    // One line per route and trouble every 15 minutes: an outage fails every request.
    const { log, quiet } = warnings.take(`${route.pattern}\n${unavailable.trouble}`, e);
    if (log) logger.warn({ err: e, requestId, route: route.pattern, notLogged: quiet }, `a store ${text}; requests to the route are answered 503 (tally_http_store_unavailable_total counts them)`);
    // The reason is a category: the error itself may name hosts, paths or queries.
    return new TallyError('TALLY_ERR_STORE_UNAVAILABLE', `a store ${text}; retry shortly`, { cause: e, headers: { 'Retry-After': '5' } });
  }
  logger.error({ err: e, requestId, route: route.pattern }, 'unhandled error in request');
  return new TallyError('TALLY_ERR_INTERNAL', 'internal error; the request id identifies it in the logs', { cause: e });
}

function errorReply(err: TallyError, requestId: string): Reply {
  return { status: err.status, body: errorBody(err, requestId), headers: err.headers };
}
