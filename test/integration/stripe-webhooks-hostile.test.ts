import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { createRegistry } from '../../core/metrics.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { period } from '../../catalog/periods.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';

/**
 * Stripe webhooks that verify but should not be believed: a signature or an event dated ahead
 * of the clock (which, applied, would make every real event about the invoice "stale"), and
 * events that are not shaped as Stripe sends them (a 400 naming the field, never a 500).
 */
const SECRET = 'whsec_test_hostile_0123456789';
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let invoiceId: string;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

let seq = 0;
const event = (type: unknown, object: unknown, createdS: unknown) => ({ id: `evt_hostile_${++seq}`, object: 'event', type, created: createdS, api_version: '2026-10-28.endive', livemode: false, data: { object } });
const nowS = () => Math.floor(Date.now() / 1000);
const invoiceObject = (status = 'open') => ({ id: 'in_stripe_hostile', object: 'invoice', status, metadata: { tally_tenant: t.id, tally_invoice: invoiceId } });

async function deliverText(body: string, timestamp = nowS()) {
  const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET, timestamp });
  const res = await fetch(`${api.url}/v1/stripe/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body });
  return { status: res.status, body: (await res.json()) as any };
}
const deliver = (payload: unknown, timestamp?: number) => deliverText(JSON.stringify(payload), timestamp);
const invoiceStatus = async () => (await call('GET', `/v1/invoices/${invoiceId}`)).body.status as string;

beforeAll(async () => {
  api = await startTestApi({ env: { STRIPE_WEBHOOK_SECRET: SECRET } });
  t = await api.tenant('webhooks-hostile');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10' });
  const subId = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: start.toISOString() })).body.id as string;
  await testAggregator(api).runOnce();
  await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000));
  invoiceId = ((await call('GET', `/v1/invoices?subscription=${subId}`)).body.data as { id: string }[])[0]!.id;
}, 120_000);
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('dates ahead of the clock', () => {
  it('a signature dated far ahead is refused, one a minute ahead (clock skew) is not', async () => {
    const ahead = await deliver(event('invoice.payment_failed', invoiceObject(), nowS() - 3600), nowS() + 7 * 86_400);
    expect(ahead.status).toBe(400);
    expect(ahead.body.error).toMatchObject({ code: 'TALLY_ERR_WEBHOOK_SIGNATURE', field: 'Stripe-Signature' });
    expect(await invoiceStatus()).toBe('open');

    const skewed = await deliver(event('customer.created', { id: 'cus_1', object: 'customer' }, nowS()), nowS() + 60);
    expect(skewed.body).toEqual({ received: true, outcome: 'ignored' });
  });

  it('an event created far ahead is refused, so a real event after it still applies', async () => {
    const ahead = await deliver(event('invoice.payment_failed', invoiceObject(), nowS() + 365 * 86_400));
    expect(ahead.status).toBe(400);
    expect(ahead.body.error).toMatchObject({ code: 'TALLY_ERR_WEBHOOK_EVENT_INVALID', field: 'created' });

    const paid = await deliver(event('invoice.paid', invoiceObject('paid'), nowS() - 60));
    expect(paid.body).toEqual({ received: true, outcome: 'applied' });
    expect(await invoiceStatus()).toBe('paid');
  });
});

describe('correctly signed events not shaped as Stripe sends them', () => {
  it.each([
    ['data.object missing', () => ({ ...event('invoice.paid', {}, nowS()), data: {} }), 'data.object'],
    ['data missing', () => ({ id: 'evt_x1', object: 'event', type: 'invoice.paid', created: nowS() }), 'data'],
    ['data.object null', () => event('invoice.paid', null, nowS()), 'data.object'],
    ['data.object an array', () => event('invoice.paid', [invoiceObject()], nowS()), 'data.object'],
    ['created a string', () => event('invoice.paid', invoiceObject('paid'), String(nowS())), 'created'],
    ['created negative', () => event('invoice.paid', invoiceObject('paid'), -1), 'created'],
    ['created beyond any date', () => event('invoice.paid', invoiceObject('paid'), 1e20), 'created'],
    ['created a fraction', () => event('invoice.paid', invoiceObject('paid'), nowS() + 0.5), 'created'],
    ['type an object', () => event({ name: 'invoice.paid' }, invoiceObject('paid'), nowS()), 'type'],
    ['id missing', () => ({ ...event('invoice.paid', invoiceObject('paid'), nowS()), id: undefined }), 'id'],
    ['id a number', () => ({ ...event('invoice.paid', invoiceObject('paid'), nowS()), id: 42 }), 'id'],
    ['invoice id missing', () => event('invoice.paid', { object: 'invoice', metadata: {} }, nowS()), 'data.object.id'],
    ['invoice metadata value an object', () => event('invoice.paid', { id: 'in_1', metadata: { tally_tenant: { $ne: 1 } } }, nowS()), 'data.object.metadata.tally_tenant'],
    ['subscription status a number', () => event('customer.subscription.updated', { id: 'sub_1', status: 7, metadata: {} }, nowS()), 'data.object.status'],
    ['subscription metadata a string', () => event('customer.subscription.deleted', { id: 'sub_1', metadata: 'tally' }, nowS()), 'data.object.metadata'],
  ])('%s is a 400 naming the field', async (_name, payload, field) => {
    const r = await deliver(payload());
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_WEBHOOK_EVENT_INVALID', field });
  });

  it.each([
    ['a NUL in the type', () => event('invoice.paid\u0000', invoiceObject('paid'), nowS()), 'type'],
    ['a NUL in the id', () => ({ ...event('invoice.paid', invoiceObject('paid'), nowS()), id: 'evt_\u0000' }), 'id'],
    ['a lone surrogate in metadata', () => event('invoice.paid', { ...invoiceObject('paid'), metadata: { note: 'x\ud800' } }, nowS()), 'data.object.metadata.note'],
  ])('%s is a 400 naming the field, not a 500 from Postgres', async (_name, payload, field) => {
    const r = await deliver(payload());
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_TEXT', field });
  });

  it('a signed body that is not JSON is a 400 for its JSON, not for its signature', async () => {
    const r = await deliverText('{"id": "evt_1", "type": ');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('TALLY_ERR_INVALID_JSON');
  });

  it.each([['null'], ['[]'], ['42'], ['"evt"']])('a body of %s is a 400', async (body) => {
    const r = await deliverText(body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('TALLY_ERR_WEBHOOK_EVENT_INVALID');
  });

  it('an event type Tally does not handle is acknowledged and ignored, whatever its object', async () => {
    const r = await deliver(event('radar.early_fraud_warning.created', { id: 'issfr_1', anything: [1, { nested: true }] }, nowS()));
    expect(r.body).toEqual({ received: true, outcome: 'ignored' });
  });
});
