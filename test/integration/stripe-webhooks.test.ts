import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { createRegistry } from '../../core/metrics.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { period } from '../../catalog/periods.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';

/**
 * Stripe webhooks: signed with the endpoint secret exactly as Stripe signs them
 * (`stripe.webhooks.generateTestHeaderString`), each event handled once, out-of-order events
 * unable to undo a later state, and dunning following the invoices.
 */
const SECRET = 'whsec_test_0123456789abcdef';
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 100 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let subId: string;
let invoices: string[];

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

let seq = 0;
function event(type: string, object: Record<string, unknown>, createdMs: number) {
  return { id: `evt_${++seq}`, object: 'event', type, created: Math.floor(createdMs / 1000), api_version: '2026-10-28.endive', livemode: false, data: { object } };
}
async function deliver(payload: object, secret = SECRET) {
  const body = JSON.stringify(payload);
  const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret });
  const res = await fetch(`${api.url}/v1/stripe/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body });
  return { status: res.status, body: (await res.json()) as any };
}
const invoiceObject = (n: number, status = 'open') => ({ id: `in_stripe_${n}`, object: 'invoice', status, metadata: { tally_tenant: t.id, tally_invoice: invoices[n]! } });
const status = async () => (await call('GET', `/v1/subscriptions/${subId}`)).body.status as string;
const invoiceStatus = async (n: number) => (await call('GET', `/v1/invoices/${invoices[n]}`)).body.status as string;

beforeAll(async () => {
  api = await startTestApi({ env: { STRIPE_WEBHOOK_SECRET: SECRET, TALLY_DUNNING_SUSPEND_DAYS: '14' } });
  t = await api.tenant('webhooks');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10' });
  subId = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: start.toISOString() })).body.id;
  await testAggregator(api).runOnce();
  await stack.billing.close(new Date(period(start, 'month', 2).end.getTime() + 2 * 3_600_000));
  invoices = ((await call('GET', `/v1/invoices?subscription=${subId}`)).body.data as { id: string; period_start: string }[])
    .sort((a, b) => a.period_start.localeCompare(b.period_start))
    .map((i) => i.id);
  expect(invoices).toHaveLength(3);
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('stripe webhooks', () => {
  it('refuse a bad signature with 400 and change nothing', async () => {
    const r = await deliver(event('invoice.paid', invoiceObject(0, 'paid'), Date.now()), 'whsec_someone_else');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('TALLY_ERR_WEBHOOK_SIGNATURE');
    const unsigned = await fetch(`${api.url}/v1/stripe/webhooks`, { method: 'POST', body: JSON.stringify(event('invoice.paid', invoiceObject(0, 'paid'), Date.now())) });
    expect(unsigned.status).toBe(400);
    expect(await invoiceStatus(0)).toBe('open');
  });

  it('a failed payment makes the subscription past due; a replay of the event is ignored', async () => {
    const failed = event('invoice.payment_failed', invoiceObject(0), Date.now() - 2 * DAY);
    expect((await deliver(failed)).body).toEqual({ received: true, outcome: 'applied' });
    expect(await status()).toBe('past_due');
    expect(await invoiceStatus(0)).toBe('open');
    expect((await deliver(failed)).body).toEqual({ received: true, outcome: 'duplicate' });
  });

  it('an older event delivered after a newer one changes nothing', async () => {
    const paid = event('invoice.paid', invoiceObject(0, 'paid'), Date.now() - DAY);
    const earlierFailure = event('invoice.payment_failed', invoiceObject(0), Date.now() - 1.5 * DAY);
    expect((await deliver(paid)).body.outcome).toBe('applied');
    expect(await invoiceStatus(0)).toBe('paid');
    expect(await status()).toBe('active');
    expect((await deliver(earlierFailure)).body.outcome).toBe('stale');
    expect(await invoiceStatus(0)).toBe('paid');
    expect(await status()).toBe('active');
  });

  it('unpaid for longer than the suspension period: suspended; paid: active again', async () => {
    expect((await deliver(event('invoice.payment_failed', invoiceObject(1), Date.now() - 20 * DAY))).body.outcome).toBe('applied');
    expect(await status()).toBe('suspended');
    expect((await deliver(event('invoice.paid', invoiceObject(1, 'paid'), Date.now()))).body.outcome).toBe('applied');
    expect(await status()).toBe('active');
  });

  it('a voided invoice no longer keeps the subscription past due', async () => {
    await deliver(event('invoice.payment_failed', invoiceObject(2), Date.now() - 3 * DAY));
    expect(await status()).toBe('past_due');
    await deliver(event('invoice.voided', invoiceObject(2, 'void'), Date.now() - DAY));
    expect(await invoiceStatus(2)).toBe('void');
    expect(await status()).toBe('active');
  });

  it('ignores events about objects it does not know, and types it does not handle', async () => {
    expect((await deliver(event('invoice.paid', { id: 'in_unknown', object: 'invoice', metadata: {} }, Date.now()))).body.outcome).toBe('unknown_object');
    expect((await deliver(event('charge.succeeded', { id: 'ch_1', object: 'charge' }, Date.now()))).body.outcome).toBe('ignored');
  });

  it('a deleted Stripe subscription cancels the Tally subscription', async () => {
    const at = Date.now() - 60_000;
    const r = await deliver(event('customer.subscription.deleted', { id: 'sub_stripe', object: 'subscription', status: 'canceled', metadata: { tally_tenant: t.id, tally_subscription: subId } }, at));
    expect(r.body.outcome).toBe('applied');
    const sub = (await call('GET', `/v1/subscriptions/${subId}`)).body;
    expect(sub.status).toBe('canceled');
    expect(Date.parse(sub.canceled_at)).toBe(Math.floor(at / 1000) * 1000);
  });

  it('tell the tenant through outbound webhook events, each once: payments, failures, dunning and the cancellation', async () => {
    const events = (await call('GET', '/v1/webhook_events?limit=100')).body.data as { type: string; data: { id: string; status?: string } }[];
    const count = (type: string) => events.filter((e) => e.type === type).length;
    // Closing made 3 invoices (final as written: no billing sync here).
    expect([count('invoice.created'), count('invoice.finalized')]).toEqual([3, 3]);
    // Three failures (the replay and the stale one made none), two payments (the voided invoice none).
    expect([count('invoice.payment_failed'), count('invoice.paid')]).toEqual([3, 2]);
    // Each change of dunning: past due, cleared, past due, cleared, past due, cleared by the void.
    expect(events.filter((e) => e.type === 'subscription.updated').map((e) => e.data.status).reverse()).toEqual(['past_due', 'active', 'suspended', 'active', 'past_due', 'active']);
    expect(events.filter((e) => e.type === 'subscription.canceled').map((e) => [e.data.id, e.data.status])).toEqual([[subId, 'canceled']]);
  });

  it('counts events by type and result', async () => {
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/tally_stripe_webhook_events_total\{type="invoice.payment_failed",result="duplicate"\} 1/);
    expect(metrics).toMatch(/tally_stripe_webhook_events_total\{type="unknown",result="bad_signature"\} 2/);
  });
});
