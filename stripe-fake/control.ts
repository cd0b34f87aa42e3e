import type { StripeFake } from './api.js';
import { checkRule } from './faults.js';
import type { WebhookConfig } from './webhooks.js';

/**
 * The control API under `/_fake/`, for the server run on its own: the same state, faults,
 * webhook and trigger operations as the `StripeFake` object, in JSON. No authentication; it is a
 * local development tool.
 */
export interface ControlResponse {
  status: number;
  body: unknown;
}

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

const ENDPOINTS = [
  'GET    /_fake/state',
  'GET    /_fake/requests            DELETE /_fake/requests',
  'GET    /_fake/faults              PUT /_fake/faults {"rules": [...]}   POST /_fake/faults {rule}   DELETE /_fake/faults',
  'PUT    /_fake/rate_limit {"writesPerSecond": n}',
  'GET    /_fake/webhook             PUT /_fake/webhook {"url", "secret", "retryDelaysMs"?, "timeoutMs"?}   DELETE /_fake/webhook',
  'POST   /_fake/webhooks/pause      POST /_fake/webhooks/resume {"order": "fifo"|"reverse"}',
  'GET    /_fake/events              POST /_fake/events/:id/deliver   POST /_fake/events/deliver {"ids": [...]}',
  'GET    /_fake/deliveries',
  'POST   /_fake/invoices/:id/pay | fail_payment | void | mark_uncollectible',
  'GET    /_fake/clock               POST /_fake/clock/advance {"seconds": n}   POST /_fake/clock/tick',
  'POST   /_fake/billing_portal/sessions/:id/add_payment_method {"payment_method": "pm_card_visa"}',
  'POST   /_fake/subscriptions/updated {"subscription": {...}, "previousAttributes"?: {...}}',
  'POST   /_fake/subscriptions/deleted {"subscription": {...}}',
  'POST   /_fake/reset',
];

function parseJson(text: string): Json {
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ControlError(400, 'the body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ControlError(400, 'the body must be a JSON object');
  return v as Json;
}

function objectField(body: Json, name: string, required: boolean): Json | undefined {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ControlError(400, `${name} must be a JSON object`);
  return v as Json;
}

function webhookConfig(body: Json): WebhookConfig {
  const { url, secret, retryDelaysMs, timeoutMs } = body;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new ControlError(400, 'url must be an http(s) URL');
  if (typeof secret !== 'string' || secret === '') throw new ControlError(400, 'secret must be a non-empty string');
  if (retryDelaysMs !== undefined && !(Array.isArray(retryDelaysMs) && retryDelaysMs.every((n) => Number.isInteger(n) && (n as number) >= 0))) {
    throw new ControlError(400, 'retryDelaysMs must be an array of non-negative integers');
  }
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && (timeoutMs as number) > 0)) throw new ControlError(400, 'timeoutMs must be a positive integer');
  return { url, secret, ...(retryDelaysMs === undefined ? {} : { retryDelaysMs: retryDelaysMs as number[] }), ...(timeoutMs === undefined ? {} : { timeoutMs: timeoutMs as number }) };
}

export async function control(fake: StripeFake, method: string, pathname: string, text: string): Promise<ControlResponse> {
  try {
    return { status: 200, body: await dispatch(fake, method, pathname.replace(/\/+$/, ''), text) };
  } catch (e) {
    if (e instanceof ControlError) return { status: e.status, body: { error: { message: e.message } } };
    // A trigger on an invoice in the wrong state, an unknown event id, a bad fault rule.
    return { status: 400, body: { error: { message: e instanceof Error ? e.message : String(e) } } };
  }
}

async function dispatch(fake: StripeFake, method: string, path: string, text: string): Promise<unknown> {
  const route = `${method} ${path}`;
  switch (route) {
    case 'GET /_fake':
      return { endpoints: ENDPOINTS };
    case 'GET /_fake/state':
      return fake.state.snapshot();
    case 'GET /_fake/requests':
      return { data: fake.requests };
    case 'DELETE /_fake/requests':
      fake.clearRequests();
      return { cleared: true };
    case 'GET /_fake/faults':
      return { rules: fake.faults.list() };
    case 'PUT /_fake/faults': {
      const rules = parseJson(text).rules;
      if (!Array.isArray(rules)) throw new ControlError(400, 'rules must be an array');
      fake.faults.set(rules.map(checkRule));
      return { rules: fake.faults.list() };
    }
    case 'POST /_fake/faults':
      fake.faults.add(checkRule(parseJson(text)));
      return { rules: fake.faults.list() };
    case 'DELETE /_fake/faults':
      fake.faults.clear();
      return { rules: [] };
    case 'PUT /_fake/rate_limit': {
      const n = parseJson(text).writesPerSecond;
      if (typeof n !== 'number' || !(n > 0)) throw new ControlError(400, 'writesPerSecond must be a positive number');
      fake.setRateLimit(n);
      return { writesPerSecond: n };
    }
    case 'GET /_fake/webhook':
      return { endpoint: fake.webhooks.endpoint === null ? null : { url: fake.webhooks.endpoint.url } };
    case 'PUT /_fake/webhook':
      fake.webhooks.configure(webhookConfig(parseJson(text)));
      return { endpoint: { url: fake.webhooks.endpoint?.url } };
    case 'DELETE /_fake/webhook':
      fake.webhooks.configure(null);
      return { endpoint: null };
    case 'POST /_fake/webhooks/pause':
      fake.webhooks.pause();
      return { paused: true };
    case 'POST /_fake/webhooks/resume': {
      const order = parseJson(text).order ?? 'fifo';
      if (order !== 'fifo' && order !== 'reverse') throw new ControlError(400, 'order must be "fifo" or "reverse"');
      await fake.webhooks.resume(order);
      return { paused: false };
    }
    case 'GET /_fake/events':
      return { data: fake.webhooks.events() };
    case 'GET /_fake/deliveries':
      return { data: fake.webhooks.deliveries() };
    case 'POST /_fake/events/deliver': {
      const ids = parseJson(text).ids;
      if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) throw new ControlError(400, 'ids must be an array of event ids');
      await fake.webhooks.deliverInOrder(ids);
      return { delivered: ids };
    }
    case 'POST /_fake/subscriptions/updated': {
      const body = parseJson(text);
      return fake.updateSubscription(objectField(body, 'subscription', true) ?? {}, objectField(body, 'previousAttributes', false));
    }
    case 'POST /_fake/subscriptions/deleted':
      return fake.deleteSubscription(objectField(parseJson(text), 'subscription', true) ?? {});
    case 'GET /_fake/clock':
      return { now: fake.now() };
    case 'POST /_fake/clock/advance': {
      const seconds = parseJson(text).seconds;
      if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) throw new ControlError(400, 'seconds must be a non-negative number');
      const events = fake.advance(seconds);
      return { now: fake.now(), events };
    }
    case 'POST /_fake/clock/tick':
      return { now: fake.now(), events: fake.tick() };
    case 'POST /_fake/reset':
      fake.reset();
      return { reset: true };
  }
  const deliver = /^POST \/_fake\/events\/([^/]+)\/deliver$/.exec(route);
  if (deliver !== null) {
    const id = decodeURIComponent(deliver[1] ?? '');
    await fake.webhooks.deliver(id);
    return { delivered: [id] };
  }
  const portal = /^POST \/_fake\/billing_portal\/sessions\/([^/]+)\/add_payment_method$/.exec(route);
  if (portal !== null) {
    const token = parseJson(text).payment_method;
    if (typeof token !== 'string' || token === '') throw new ControlError(400, 'payment_method must be a test token such as "pm_card_visa"');
    return fake.portalAddPaymentMethod(decodeURIComponent(portal[1] ?? ''), token);
  }
  const trigger = /^POST \/_fake\/invoices\/([^/]+)\/(pay|fail_payment|void|mark_uncollectible)$/.exec(route);
  if (trigger !== null) {
    const id = decodeURIComponent(trigger[1] ?? '');
    switch (trigger[2]) {
      case 'pay':
        return fake.pay(id);
      case 'fail_payment':
        return fake.failPayment(id);
      case 'void':
        return fake.voidInvoice(id);
      default:
        return fake.markUncollectible(id);
    }
  }
  throw new ControlError(404, `no control endpoint ${route}; GET /_fake lists them`);
}
