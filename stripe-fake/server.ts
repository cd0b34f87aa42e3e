import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestRecord, StripeFake, StripeFakeOptions } from './api.js';
import { portalAddPaymentMethod } from './billing-portal.js';
import { SimClock } from './clock.js';
import { collectionConfig, runDue } from './collection.js';
import { control } from './control.js';
import { StripeApiError, errors } from './errors.js';
import { Faults, type FaultDecision } from './faults.js';
import { BodyTooLarge, MAX_BODY_BYTES, apiKeyOf, readBody } from './http.js';
import { FormError, type FormObject, canonical, parseForm } from './form.js';
import { IdempotencyStore, MAX_KEY_LENGTH, type SavedResponse } from './idempotency.js';
import { failPayment, markUncollectible, pay, voidInvoice } from './invoices.js';
import { Ids, Rng, unixSeconds } from './random.js';
import { TokenBucket } from './rate-limit.js';
import { type Ctx, type Match, match } from './router.js';
import { billingPortalRoutes } from './routes-billing-portal.js';
import { creditNoteRoutes } from './routes-credit-notes.js';
import { customerRoutes } from './routes-customers.js';
import { invoiceItemRoutes } from './routes-invoiceitems.js';
import { invoiceRoutes } from './routes-invoices.js';
import { meterRoutes } from './routes-meters.js';
import { paymentMethodRoutes } from './routes-payment-methods.js';
import { refundRoutes } from './routes-refunds.js';
import { stateView } from './state.js';
import { Store } from './store.js';
import { API_VERSION, Webhooks } from './webhooks.js';

/**
 * A Stripe-compatible HTTP server for the endpoints Tally uses, for tests and development.
 * Each request passes, in order: authentication, routing, body parsing, the write rate limiter,
 * fault injection, the idempotency layer, parameter validation and the endpoint. Everything is
 * in memory; `close()` forgets it.
 */
const ROUTES = [
  ...customerRoutes,
  ...meterRoutes,
  ...invoiceRoutes,
  ...invoiceItemRoutes,
  ...paymentMethodRoutes,
  ...billingPortalRoutes,
  ...creditNoteRoutes,
  ...refundRoutes,
];
interface Outcome {
  status: number;
  text: string;
  replayed: boolean;
  originalRequestId: string | null;
  executed: boolean;
  errorType: string | null;
  errorCode: string | null;
}

export async function startStripeFake(opts: StripeFakeOptions = {}): Promise<StripeFake> {
  const optionClock = opts.clock ?? Date.now;
  const sim = new SimClock(optionClock);
  const clock = sim.now;
  const collection = collectionConfig(opts);
  const seed = opts.seed ?? 1;
  const ids = new Ids(new Rng(seed ^ 0x1d5));
  const store = new Store(ids, clock);
  const faults = new Faults(new Rng(seed));
  const idempotency = new IdempotencyStore(clock);
  const bucket = new TokenBucket(opts.writesPerSecond ?? 25, clock);
  const webhooks = new Webhooks(ids, clock, opts.webhook, optionClock);
  const searchLagMs = opts.searchLagMs ?? 0;
  const log: RequestRecord[] = [];
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;
  // Known once listening; requests only arrive after that.
  let serverUrl = '';

  const outcomeOf = (e: StripeApiError, requestId: string, executed: boolean): Outcome => ({
    status: e.status,
    text: JSON.stringify(e.body(requestId), null, 2),
    replayed: false,
    originalRequestId: null,
    executed,
    errorType: e.type,
    errorCode: e.code ?? null,
  });

  /** The idempotency layer around validation and execution. */
  function execute(m: Match, form: FormObject, method: string, path: string, apiKey: string, key: string | null, requestId: string): Outcome {
    const endpoint = `${method} ${path}`;
    const fingerprint = canonical(form);
    if (key !== null) {
      const found = idempotency.lookup(apiKey, key, endpoint, fingerprint);
      if (found.kind === 'mismatch') return outcomeOf(found.error, requestId, false);
      if (found.kind === 'replay') return replayOutcome(found.saved);
    }
    let run: (ctx: Ctx) => unknown;
    try {
      run = m.route.prepare(form, m.path);
    } catch (e) {
      if (e instanceof StripeApiError) return outcomeOf(e, requestId, false);
      throw e;
    }
    let out: Outcome;
    try {
      const body = run({ store, webhooks, requestId, idempotencyKey: key, searchLagMs, collection, serverUrl });
      out = { status: 200, text: JSON.stringify(body, null, 2), replayed: false, originalRequestId: null, executed: true, errorType: null, errorCode: null };
    } catch (e) {
      if (!(e instanceof StripeApiError)) throw e;
      out = outcomeOf(e, requestId, true);
    }
    if (key !== null) idempotency.save(apiKey, key, endpoint, fingerprint, { status: out.status, body: out.text, requestId, errorType: out.errorType, errorCode: out.errorCode });
    return out;
  }

  const replayOutcome = (saved: SavedResponse): Outcome => ({
    status: saved.status,
    text: saved.body,
    replayed: true,
    originalRequestId: saved.requestId,
    executed: false,
    errorType: saved.errorType,
    errorCode: saved.errorCode,
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    let text: string;
    try {
      text = await readBody(req);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'invalid_request_error', message: `Request body larger than ${MAX_BODY_BYTES} bytes.` } }));
      return;
    }
    const portal = /^\/p\/session\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && portal !== null) {
      const r = portalPage(decodeURIComponent(portal[1] ?? ''));
      res.writeHead(r.status, { 'content-type': 'text/html; charset=utf-8' }).end(r.html);
      return;
    }
    const hosted = /^\/hosted\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && hosted !== null) {
      const r = hostedPage(decodeURIComponent(hosted[1] ?? ''));
      res.writeHead(r.status, { 'content-type': 'text/html; charset=utf-8' }).end(r.html);
      return;
    }
    if (url.pathname === '/_fake' || url.pathname.startsWith('/_fake/')) {
      const r = await control(fake, method, url.pathname, text);
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
      return;
    }

    const requestId = ids.next('req', 14);
    const keyHeader = req.headers['idempotency-key'];
    const idempotencyKey = method === 'POST' && typeof keyHeader === 'string' ? keyHeader : null;
    const record: RequestRecord = {
      seq: ++seq,
      at: clock(),
      method,
      path: url.pathname,
      query: url.search,
      idempotencyKey,
      requestId,
      status: null,
      fault: null,
      rateLimited: false,
      executed: false,
      replayed: false,
      errorType: null,
      errorCode: null,
    };
    log.push(record);

    const reply = (o: Outcome) => {
      if (res.destroyed) return;
      record.status = o.status;
      record.errorType = o.errorType;
      record.errorCode = o.errorCode;
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'request-id': requestId,
        'stripe-version': typeof req.headers['stripe-version'] === 'string' ? req.headers['stripe-version'] : API_VERSION,
      };
      if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
      if (o.replayed) {
        headers['idempotent-replayed'] = 'true';
        if (o.originalRequestId !== null) headers['original-request'] = o.originalRequestId;
      }
      res.writeHead(o.status, headers).end(o.text);
    };
    const fail = (e: StripeApiError) => reply(outcomeOf(e, requestId, false));
    const drop = () => {
      req.socket.destroy();
    };
    const hold = () => {
      held.add(res);
      res.on('close', () => held.delete(res));
    };

    let apiKey: string;
    try {
      apiKey = apiKeyOf(req.headers.authorization);
    } catch (e) {
      if (e instanceof StripeApiError) return fail(e);
      throw e;
    }
    const m = match(ROUTES, method, url.pathname);
    if (m === null || m === 'method') return fail(errors.unrecognizedUrl(method, url.pathname));
    if (idempotencyKey !== null && (idempotencyKey === '' || idempotencyKey.length > MAX_KEY_LENGTH)) {
      return fail(errors.invalidRequest(`Invalid Idempotency-Key: it must be 1 to ${MAX_KEY_LENGTH} characters long.`));
    }
    let form: FormObject;
    try {
      if (method === 'POST') {
        const type = req.headers['content-type'] ?? '';
        if (text !== '' && !type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
          return fail(errors.invalidRequest(`Invalid request: the body must be application/x-www-form-urlencoded, not ${type === '' ? 'untyped' : type}.`));
        }
        form = parseForm(text);
      } else {
        form = parseForm(url.search.slice(1));
      }
    } catch (e) {
      if (e instanceof FormError) return fail(errors.invalidRequest(e.message));
      throw e;
    }

    // Every request but a read is a write to Stripe's limiter.
    if (method !== 'GET' && !bucket.tryTake()) {
      record.rateLimited = true;
      return fail(errors.rateLimit());
    }

    const fault: FaultDecision | null = faults.decide(method, url.pathname);
    record.fault = fault?.kind ?? null;
    if (fault !== null && !fault.applied) {
      switch (fault.kind) {
        case '429':
          return fail(errors.rateLimit());
        case '409':
          return fail(errors.lockTimeout());
        case 'drop':
          return drop();
        case 'timeout':
          return hold();
        default:
          return fail(errors.apiError());
      }
    }

    let out: Outcome;
    try {
      out = execute(m, form, method, url.pathname, apiKey, idempotencyKey, requestId);
    } catch (e) {
      // A defect in this server, not a Stripe answer: say so plainly.
      const err = new StripeApiError(500, 'api_error', `Internal error in the local Stripe server: ${e instanceof Error ? e.message : String(e)}`);
      return reply(outcomeOf(err, requestId, false));
    }
    record.executed = out.executed;
    record.replayed = out.replayed;

    if (fault === null) return reply(out);
    switch (fault.kind) {
      case 'drop':
        return drop();
      case 'timeout':
        if (fault.delayMs === undefined) return hold();
        hold();
        {
          const t = setTimeout(() => {
            timers.delete(t);
            reply(out);
          }, fault.delayMs);
          timers.add(t);
        }
        return;
      default:
        // 500-after-write: the write stands (and its response is what the key replays).
        return fail(errors.apiError());
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: `Internal error in the local Stripe server: ${e instanceof Error ? e.message : String(e)}` } }));
    });
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

  serverUrl = `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`;

  /** A portal session's `url`: a page that says what it stands for and how a test acts in it. */
  function portalPage(id: string): { status: number; html: string } {
    const session = store.portalSessions.get(id);
    const esc = (v: string) => v.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    if (session === undefined) return { status: 404, html: `<!doctype html><title>Not found</title><p>No billing portal session ${esc(id)}.</p>` };
    return {
      status: 200,
      html:
        `<!doctype html><title>Billing portal (local Stripe server)</title><h1>Billing portal</h1>` +
        `<p>Session ${esc(id)} for customer ${esc(session.obj.customer)}.</p>` +
        `<p>To add a card as this customer: <code>POST /_fake/billing_portal/sessions/${esc(id)}/add_payment_method {"payment_method": "pm_card_visa"}</code>.</p>` +
        (session.obj.return_url === null ? '' : `<p><a href="${esc(session.obj.return_url)}">Return</a></p>`),
    };
  }

  /** A finalized invoice's `hosted_invoice_url`: a page that says what it stands for and how a test pays it. */
  function hostedPage(id: string): { status: number; html: string } {
    const esc = (v: string) => v.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    const inv = store.invoices.get(id)?.obj;
    if (inv === undefined || inv.hosted_invoice_url === null) return { status: 404, html: `<!doctype html><title>Not found</title><p>No invoice ${esc(id)}.</p>` };
    return {
      status: 200,
      html:
        `<!doctype html><title>Invoice (local Stripe server)</title><h1>Invoice ${esc(inv.number ?? id)}</h1>` +
        `<p>Status ${esc(inv.status ?? '')}; ${inv.amount_remaining} ${esc(inv.currency)} (minor units) to pay.</p>` +
        `<p>To pay as the customer: <code>POST /v1/invoices/${esc(id)}/pay</code>.</p>`,
    };
  }

  const invoiceEntry = (id: string) => store.invoice(id, 'invoice', 404);
  const subscriptionObject = (sub: Record<string, unknown>, defaults: Record<string, unknown>) => ({
    id: typeof sub.id === 'string' ? sub.id : ids.next('sub'),
    object: 'subscription',
    livemode: false,
    ...defaults,
    ...sub,
  });

  const fake: StripeFake = {
    url: serverUrl,
    host: urlHost,
    port,
    clientOptions: { host: urlHost, port, protocol: 'http' },
    state: stateView(store, webhooks),
    faults,
    get requests() {
      return log.map((r) => ({ ...r }));
    },
    clearRequests: () => {
      log.length = 0;
    },
    webhooks,
    setRateLimit: (n) => bucket.setRate(n),
    pay: (id) => pay(store, webhooks, invoiceEntry(id)),
    failPayment: (id) => failPayment(store, webhooks, invoiceEntry(id)),
    voidInvoice: (id) => voidInvoice(store, webhooks, invoiceEntry(id)),
    markUncollectible: (id) => markUncollectible(store, webhooks, invoiceEntry(id)),
    updateSubscription: (sub, previousAttributes) =>
      webhooks.emit('customer.subscription.updated', subscriptionObject(sub, { status: 'active' }), previousAttributes === undefined ? {} : { previousAttributes }),
    deleteSubscription: (sub) => {
      const now = unixSeconds(clock());
      return webhooks.emit('customer.subscription.deleted', subscriptionObject(sub, { status: 'canceled', canceled_at: now, ended_at: now }));
    },
    now: () => clock(),
    advance: (seconds) => {
      if (!Number.isFinite(seconds) || seconds < 0) throw new Error('advance takes a non-negative number of seconds');
      sim.advance(seconds * 1000);
      return runDue(store, webhooks, collection, sim);
    },
    tick: () => runDue(store, webhooks, collection, sim),
    portalAddPaymentMethod: (sessionId, token) => portalAddPaymentMethod(store, webhooks, sessionId, token),
    reset: () => {
      sim.reset();
      store.clear();
      idempotency.clear();
      webhooks.clear();
      faults.clear();
      log.length = 0;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const res of held) res.destroy();
      held.clear();
      await webhooks.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return fake;
}
