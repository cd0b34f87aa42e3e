import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { type StripeFake, type WebhookConfig, startStripeFake } from '../../stripe-fake/index.js';

// Events from the local Stripe server, delivered as Stripe delivers them and verified with the
// official `stripe.webhooks.constructEvent`.

const SECRET = 'whsec_test_secret';

interface Received {
  body: string;
  signature: string;
}

interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** An endpoint that records raw bodies; `status(n)` answers the n-th delivery (from 1). */
async function receiver(status: (n: number) => number = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['stripe-signature']) });
      res.writeHead(status(received.length)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const r: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/stripe/webhooks`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  cleanup.push(() => r.close());
  return r;
}

async function start(webhook?: WebhookConfig): Promise<{ fake: StripeFake; stripe: Stripe }> {
  const fake = await startStripeFake({ writesPerSecond: Infinity, ...(webhook === undefined ? {} : { webhook }) });
  cleanup.push(() => fake.close());
  return { fake, stripe: new Stripe('sk_test_fake', { ...fake.clientOptions, maxNetworkRetries: 0 }) };
}

async function openInvoice(stripe: Stripe, amount = 2500): Promise<Stripe.Invoice> {
  const c = await stripe.customers.create({ name: 'w' });
  const inv = await stripe.invoices.create({ customer: c.id, currency: 'usd', metadata: { tally_invoice: 'i1' } });
  await stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount });
  return stripe.invoices.finalizeInvoice(inv.id);
}

const verify = (r: Received, secret = SECRET) => Stripe.webhooks.constructEvent(r.body, r.signature, secret);

describe('webhooks', () => {
  it('signs every event so that stripe.webhooks.constructEvent verifies it', async () => {
    const rx = await receiver();
    const { fake, stripe } = await start({ url: rx.url, secret: SECRET });
    const inv = await openInvoice(stripe);
    fake.pay(inv.id);
    await fake.webhooks.idle();

    const events = rx.received.map((r) => verify(r));
    expect(events.map((e) => e.type)).toEqual(['invoice.finalized', 'invoice.paid']);
    const paid = events[1] as Stripe.InvoicePaidEvent;
    expect(paid).toMatchObject({ object: 'event', api_version: '2026-10-28.endive', livemode: false });
    expect(paid.id).toMatch(/^evt_/);
    expect(paid.data.object).toMatchObject({ id: inv.id, object: 'invoice', status: 'paid', amount_paid: 2500, amount_remaining: 0, metadata: { tally_invoice: 'i1' } });
    expect(events[0]?.request).toMatchObject({ idempotency_key: expect.stringMatching(/^stripe-node-retry-/) });
    expect(rx.received[0]?.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);

    // The signature covers the raw bytes: another secret, or the body re-serialised, fails.
    const first = rx.received[0] as Received;
    expect(() => verify(first, 'whsec_other')).toThrow(Stripe.errors.StripeSignatureVerificationError);
    expect(() => verify({ ...first, body: JSON.stringify(JSON.parse(first.body)) })).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });

  it('emits payment_failed, voided and marked_uncollectible; a trigger on the wrong state throws', async () => {
    const rx = await receiver();
    const { fake, stripe } = await start({ url: rx.url, secret: SECRET });
    const a = await openInvoice(stripe);
    const b = await openInvoice(stripe);
    const failed = fake.failPayment(a.id);
    expect(failed.data.object).toMatchObject({ status: 'open', attempted: true, attempt_count: 1 });
    fake.voidInvoice(a.id);
    fake.markUncollectible(b.id);
    expect(() => fake.pay(a.id)).toThrow(/void/);
    const draft = await stripe.invoices.create({ customer: b.customer as string });
    expect(() => fake.pay(draft.id)).toThrow(/draft/);
    expect(() => fake.pay('in_nope')).toThrow(/No such invoice/);
    await fake.webhooks.idle();
    expect(rx.received.map((r) => verify(r).type)).toEqual([
      'invoice.finalized',
      'invoice.finalized',
      'invoice.payment_failed',
      'invoice.voided',
      'invoice.marked_uncollectible',
    ]);
    expect(fake.state.invoice(a.id)?.status).toBe('void');
  });

  it('subscription events carry the given subscription', async () => {
    const rx = await receiver();
    const { fake } = await start({ url: rx.url, secret: SECRET });
    fake.updateSubscription({ id: 'sub_1', status: 'past_due', metadata: { tally_subscription: 's1' } }, { status: 'active' });
    fake.deleteSubscription({ id: 'sub_1', metadata: { tally_subscription: 's1' } });
    await fake.webhooks.idle();
    const [updated, deleted] = rx.received.map((r) => verify(r));
    expect(updated).toMatchObject({
      type: 'customer.subscription.updated',
      data: { object: { id: 'sub_1', object: 'subscription', status: 'past_due', metadata: { tally_subscription: 's1' } }, previous_attributes: { status: 'active' } },
    });
    expect(deleted).toMatchObject({ type: 'customer.subscription.deleted', data: { object: { id: 'sub_1', status: 'canceled' } } });
  });

  it('retries a delivery answered with a non-2xx, then gives up', async () => {
    const flaky = await receiver((n) => (n <= 2 ? 500 : 200));
    const { fake } = await start({ url: flaky.url, secret: SECRET, retryDelaysMs: [10, 10, 10] });
    const e = fake.updateSubscription({ id: 'sub_r' });
    await fake.webhooks.idle();
    expect(fake.webhooks.deliveries().map((d) => [d.eventId, d.attempt, d.status])).toEqual([
      [e.id, 1, 500],
      [e.id, 2, 500],
      [e.id, 3, 200],
    ]);
    expect(flaky.received.every((r) => verify(r).id === e.id)).toBe(true);

    const down = await receiver(() => 503);
    fake.webhooks.configure({ url: down.url, secret: SECRET, retryDelaysMs: [5, 5] });
    fake.updateSubscription({ id: 'sub_d' });
    await fake.webhooks.idle();
    expect(down.received).toHaveLength(3);
  });

  it('replays an event and delivers held events out of order', async () => {
    const rx = await receiver();
    const { fake, stripe } = await start({ url: rx.url, secret: SECRET });
    const inv = await openInvoice(stripe);
    await fake.webhooks.idle();

    fake.webhooks.pause();
    const failed = fake.failPayment(inv.id);
    const paid = fake.pay(inv.id);
    await new Promise((r) => setTimeout(r, 50));
    expect(rx.received).toHaveLength(1);
    await fake.webhooks.resume('reverse');
    await fake.webhooks.deliver(paid.id);
    expect(rx.received.map((r) => verify(r).id)).toEqual([expect.any(String), paid.id, failed.id, paid.id]);
  });

  it('records events without an endpoint and delivers them once one is configured', async () => {
    const { fake, stripe } = await start();
    const inv = await openInvoice(stripe);
    const ev = fake.pay(inv.id);
    expect(fake.state.events().map((e) => e.type)).toEqual(['invoice.finalized', 'invoice.paid']);
    const rx = await receiver();
    fake.webhooks.configure({ url: rx.url, secret: SECRET });
    await fake.webhooks.deliverInOrder(fake.state.events().map((e) => e.id));
    expect(rx.received.map((r) => verify(r).id)).toEqual([fake.state.events()[0]?.id, ev.id]);
  });

  it('the control API triggers events and configures delivery', async () => {
    const rx = await receiver();
    const { fake, stripe } = await start();
    const inv = await openInvoice(stripe);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${fake.url}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, body: (await res.json()) as any };
    };
    expect((await call('PUT', '/_fake/webhook', { url: rx.url, secret: SECRET, retryDelaysMs: [10] })).status).toBe(200);
    expect((await call('POST', '/_fake/webhooks/pause')).body).toEqual({ paused: true });
    const failed = await call('POST', `/_fake/invoices/${inv.id}/fail_payment`);
    expect(failed.body).toMatchObject({ type: 'invoice.payment_failed', data: { object: { id: inv.id } } });
    await call('POST', '/_fake/subscriptions/deleted', { subscription: { id: 'sub_9' } });
    await call('POST', '/_fake/webhooks/resume', { order: 'reverse' });
    expect(rx.received.map((r) => verify(r).type)).toEqual(['customer.subscription.deleted', 'invoice.payment_failed']);
    await call('POST', `/_fake/events/${failed.body.id}/deliver`);
    expect(rx.received).toHaveLength(3);

    expect((await call('POST', '/_fake/invoices/in_nope/pay')).status).toBe(400);
    expect((await call('GET', '/_fake/nothing')).status).toBe(404);
    const state = await call('GET', '/_fake/state');
    expect(state.body.invoices[0]).toMatchObject({ id: inv.id, status: 'open', items: [{ amount: 2500 }] });
    expect(state.body.events).toHaveLength(3);
    await call('POST', '/_fake/reset');
    expect((await call('GET', '/_fake/state')).body.customers).toEqual([]);
  });
});
