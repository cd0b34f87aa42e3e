import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { type StripeFake, type StripeFakeOptions, startStripeFake } from '../../stripe-fake/index.js';
import { stripeClient, stripeError } from '../support/stripe-client.js';

// How the local Stripe server collects money: cards from Stripe's test tokens, the charge at
// finalization and its retries on a clock the test moves, send_invoice due dates, invoices.pay,
// and the billing portal trigger that swaps a customer's card.

const DAY = 86_400;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function start(opts: StripeFakeOptions = {}): Promise<{ fake: StripeFake; stripe: Stripe }> {
  const fake = await startStripeFake({ writesPerSecond: Infinity, ...opts });
  cleanup.push(() => fake.close());
  return { fake, stripe: stripeClient(fake) };
}

/** A customer whose default card is made from this test token (or who has none). */
async function customerWith(stripe: Stripe, token?: string): Promise<Stripe.Customer> {
  return stripe.customers.create({ name: 'c', ...(token === undefined ? {} : { payment_method: token, invoice_settings: { default_payment_method: token } }) });
}

/** A draft with one item of `amount` cents. */
async function draft(stripe: Stripe, customer: string, params: Partial<Stripe.InvoiceCreateParams> = {}, amount = 2500): Promise<Stripe.Invoice> {
  const inv = await stripe.invoices.create({ customer, currency: 'usd', ...params });
  await stripe.invoiceItems.create({ customer, invoice: inv.id, amount });
  return inv;
}

const typesOf = (fake: StripeFake, invoice: string) =>
  fake.state
    .events()
    .filter((e) => e.type.startsWith('invoice.') && e.data.object.id === invoice)
    .map((e) => e.type);

describe('payment methods', () => {
  it('attaching a test token makes a new card; customers default to one only when told', async () => {
    const { fake, stripe } = await start();
    const c = await stripe.customers.create({ name: 'a', payment_method: 'pm_card_visa' });
    expect(c.invoice_settings.default_payment_method).toBeNull();
    const [first] = fake.state.paymentMethods();
    expect(first).toMatchObject({ object: 'payment_method', type: 'card', customer: c.id, card: { brand: 'visa', last4: '4242' } });

    const pm = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: c.id });
    expect(pm.id).toMatch(/^pm_/);
    expect(pm.id).not.toBe('pm_card_chargeCustomerFail');
    expect(pm).toMatchObject({ customer: c.id, card: { last4: '0341', exp_month: expect.any(Number), exp_year: expect.any(Number) } });
    expect((await stripe.paymentMethods.retrieve(pm.id)).id).toBe(pm.id);
    const list = await stripe.customers.listPaymentMethods(c.id);
    expect(list.data.map((p) => p.id)).toEqual([pm.id, first?.id]);

    const updated = await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: pm.id } });
    expect(updated.invoice_settings.default_payment_method).toBe(pm.id);
    expect(fake.state.events().map((e) => e.type)).toEqual(['payment_method.attached', 'payment_method.attached', 'customer.updated']);
    expect(fake.state.events()[2]?.data.previous_attributes).toEqual({ invoice_settings: { default_payment_method: null } });

    // Detaching the default clears it, and the card cannot be attached again.
    await stripe.paymentMethods.detach(pm.id);
    expect((await stripe.customers.retrieve(c.id)) as Stripe.Customer).toMatchObject({ invoice_settings: { default_payment_method: null } });
    expect((await stripeError(stripe.paymentMethods.attach(pm.id, { customer: c.id }))).message).toMatch(/may not be used again/);
  });

  it("refuses an unknown token, and a default that is not the customer's card, with Stripe's errors", async () => {
    const { stripe } = await start();
    const unknown = await stripeError(stripe.paymentMethods.attach('pm_card_bogus', { customer: (await customerWith(stripe)).id }));
    expect(unknown).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(unknown).toMatchObject({ statusCode: 404, code: 'resource_missing', message: "No such PaymentMethod: 'pm_card_bogus'" });

    const a = await customerWith(stripe, 'pm_card_visa');
    const b = await customerWith(stripe);
    const aCard = a.invoice_settings.default_payment_method as string;
    const other = await stripeError(stripe.customers.update(b.id, { invoice_settings: { default_payment_method: aCard } }));
    expect(other).toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
      param: 'invoice_settings[default_payment_method]',
      message: `The customer does not have a payment method with the ID ${aCard}. The payment method must be attached to the customer.`,
    });
    expect((await stripeError(stripe.paymentMethods.attach(aCard, { customer: b.id }))).message).toBe('The payment method you provided has already been attached to a customer.');
    expect((await stripeError(stripe.invoices.create({ customer: b.id, default_payment_method: aCard }))).param).toBe('default_payment_method');
    // A token as default on create without attaching it: nothing is created.
    const before = (await stripe.customers.list()).data.length;
    expect((await stripeError(stripe.customers.create({ invoice_settings: { default_payment_method: 'pm_card_visa' } }))).code).toBe('resource_missing');
    expect((await stripe.customers.list()).data.length).toBe(before);
  });
});

describe('automatic collection', () => {
  it("charges a visa customer's invoice at finalization", async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe, 'pm_card_visa');
    const inv = await draft(stripe, c.id, { auto_advance: true });
    const paid = await stripe.invoices.finalizeInvoice(inv.id);
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 2500, amount_remaining: 0, attempted: true, attempt_count: 1, next_payment_attempt: null });
    expect(typesOf(fake, inv.id)).toEqual(['invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
  });

  it('retries a declining card on the schedule; a card added in the portal pays the next retry', async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe, 'pm_card_chargeCustomerFail');
    const inv = await draft(stripe, c.id, { auto_advance: true });
    const open = await stripe.invoices.finalizeInvoice(inv.id);
    const finalizedAt = open.status_transitions.finalized_at as number;
    expect(open).toMatchObject({ status: 'open', attempted: true, attempt_count: 1, next_payment_attempt: finalizedAt + 3 * DAY });
    expect(typesOf(fake, inv.id)).toEqual(['invoice.finalized', 'invoice.payment_failed']);

    const second = fake.advance(3 * DAY);
    expect(second.map((e) => [e.type, e.created])).toEqual([['invoice.payment_failed', finalizedAt + 3 * DAY]]);
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'open', attempt_count: 2, next_payment_attempt: finalizedAt + 8 * DAY });

    const session = await stripe.billingPortal.sessions.create({ customer: c.id, return_url: 'https://app.example.com/billing' });
    expect(session).toMatchObject({ object: 'billing_portal.session', customer: c.id, return_url: 'https://app.example.com/billing', livemode: false });
    expect(session.id).toMatch(/^bps_/);
    expect(session.url).toBe(`${fake.url}/p/session/${session.id}`);
    expect((await fetch(session.url)).status).toBe(200);

    const added = fake.portalAddPaymentMethod(session.id, 'pm_card_visa');
    expect(added.events.map((e) => e.type)).toEqual(['payment_method.attached', 'customer.updated']);
    expect(((await stripe.customers.retrieve(c.id)) as Stripe.Customer).invoice_settings.default_payment_method).toBe(added.paymentMethod.id);

    expect(fake.advance(4 * DAY)).toEqual([]);
    expect(fake.advance(1 * DAY).map((e) => e.type)).toEqual(['invoice.paid', 'invoice.payment_succeeded']);
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'paid', attempt_count: 3, next_payment_attempt: null, status_transitions: { paid_at: finalizedAt + 8 * DAY } });
  });

  it('after the last retry leaves the invoice open by default', async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe, 'pm_card_chargeCustomerFail');
    const inv = await draft(stripe, c.id, { auto_advance: true });
    await stripe.invoices.finalizeInvoice(inv.id);
    // One advance past the whole schedule runs every retry, each from the one before.
    const events = fake.advance(30 * DAY);
    expect(events.map((e) => e.type)).toEqual(['invoice.payment_failed', 'invoice.payment_failed', 'invoice.payment_failed']);
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'open', attempt_count: 4, next_payment_attempt: null });
    expect(fake.advance(30 * DAY)).toEqual([]);
  });

  it('with afterRetries mark_uncollectible, and a shorter schedule, marks it uncollectible', async () => {
    const { fake, stripe } = await start({ retryScheduleDays: [1], afterRetries: 'mark_uncollectible' });
    const c = await customerWith(stripe);
    const inv = await draft(stripe, c.id, { auto_advance: true });
    const open = await stripe.invoices.finalizeInvoice(inv.id);
    expect(open).toMatchObject({ status: 'open', attempt_count: 1 });
    expect(fake.advance(DAY).map((e) => e.type)).toEqual(['invoice.payment_failed', 'invoice.marked_uncollectible']);
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'uncollectible', attempt_count: 2, next_payment_attempt: null });
  });

  it('a card that needs authentication: payment_action_required, and retries go on', async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe, 'pm_card_authenticationRequired');
    const inv = await draft(stripe, c.id, { auto_advance: true });
    expect(await stripe.invoices.finalizeInvoice(inv.id)).toMatchObject({ status: 'open', attempt_count: 1, next_payment_attempt: expect.any(Number) });
    expect(typesOf(fake, inv.id)).toEqual(['invoice.finalized', 'invoice.payment_action_required']);
    expect(fake.advance(3 * DAY).map((e) => e.type)).toEqual(['invoice.payment_action_required']);
  });

  it('the invoice default_payment_method wins over the customer default', async () => {
    const { stripe } = await start();
    const c = await customerWith(stripe, 'pm_card_chargeCustomerFail');
    const visa = await stripe.paymentMethods.attach('pm_card_visa', { customer: c.id });
    const inv = await draft(stripe, c.id, { auto_advance: true, default_payment_method: visa.id });
    expect((await stripe.invoices.finalizeInvoice(inv.id)).status).toBe('paid');
  });

  it('auto_advance false is never charged automatically', async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe, 'pm_card_visa');
    const inv = await draft(stripe, c.id);
    expect(await stripe.invoices.finalizeInvoice(inv.id)).toMatchObject({ status: 'open', auto_advance: false, attempted: false, attempt_count: 0, next_payment_attempt: null });
    expect(fake.advance(60 * DAY)).toEqual([]);
    expect(typesOf(fake, inv.id)).toEqual(['invoice.finalized']);
  });

  it('collectionDelaySeconds holds the first attempt until the clock passes it; tick runs what the option clock made due', async () => {
    let now = Date.parse('2026-11-02T10:00:00Z');
    const { fake, stripe } = await start({ clock: () => now, collectionDelaySeconds: 3600 });
    const c = await customerWith(stripe, 'pm_card_visa');
    const inv = await draft(stripe, c.id, { auto_advance: true });
    const open = await stripe.invoices.finalizeInvoice(inv.id);
    expect(open).toMatchObject({ status: 'open', attempt_count: 0, next_payment_attempt: now / 1000 + 3600 });
    expect(fake.tick()).toEqual([]);
    now += 3599_000;
    expect(fake.tick()).toEqual([]);
    now += 1000;
    expect(fake.tick().map((e) => e.type)).toEqual(['invoice.paid', 'invoice.payment_succeeded']);
  });
});

describe('send_invoice', () => {
  it('Net-15: sent at finalization, due 15 days later, overdue once', async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe);
    const inv = await draft(stripe, c.id, { auto_advance: true, collection_method: 'send_invoice', days_until_due: 15 });
    const open = await stripe.invoices.finalizeInvoice(inv.id);
    const finalizedAt = open.status_transitions.finalized_at as number;
    expect(open).toMatchObject({ status: 'open', due_date: finalizedAt + 15 * DAY, next_payment_attempt: null, attempted: false });
    expect(typesOf(fake, inv.id)).toEqual(['invoice.finalized', 'invoice.sent']);

    const overdue = fake.advance(16 * DAY);
    expect(overdue.map((e) => [e.type, e.data.object.id])).toEqual([['invoice.overdue', inv.id]]);
    expect(fake.advance(16 * DAY)).toEqual([]);
    expect(typesOf(fake, inv.id)).toEqual(['invoice.finalized', 'invoice.sent', 'invoice.overdue']);
  });

  it('a paid invoice is never overdue', async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe);
    const inv = await draft(stripe, c.id, { auto_advance: true, collection_method: 'send_invoice', days_until_due: 1 });
    await stripe.invoices.finalizeInvoice(inv.id);
    await stripe.invoices.pay(inv.id, { paid_out_of_band: true });
    expect(fake.advance(5 * DAY)).toEqual([]);
  });
});

describe('invoices.pay', () => {
  it('paid_out_of_band marks it paid without a charge', async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe);
    const inv = await draft(stripe, c.id);
    await stripe.invoices.finalizeInvoice(inv.id);
    expect(await stripe.invoices.pay(inv.id, { paid_out_of_band: true })).toMatchObject({ status: 'paid', amount_paid: 2500, attempt_count: 0 });
    expect(typesOf(fake, inv.id)).toEqual(['invoice.finalized', 'invoice.paid']);
    expect((await stripeError(stripe.invoices.pay(inv.id))).message).toMatch(/is paid/);
  });

  it('a declining card is a 402 card_declined, and still an attempt with invoice.payment_failed', async () => {
    const { fake, stripe } = await start();
    const c = await customerWith(stripe, 'pm_card_chargeCustomerFail');
    const inv = await draft(stripe, c.id);
    await stripe.invoices.finalizeInvoice(inv.id);
    const e = await stripeError(stripe.invoices.pay(inv.id));
    expect(e).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(e).toMatchObject({ statusCode: 402, type: 'StripeCardError', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' });
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'open', attempted: true, attempt_count: 1 });
    expect(typesOf(fake, inv.id)).toEqual(['invoice.finalized', 'invoice.payment_failed']);

    // Another card of the customer, named in the request, pays it.
    const visa = await stripe.paymentMethods.attach('pm_card_visa', { customer: c.id });
    expect(await stripe.invoices.pay(inv.id, { payment_method: visa.id })).toMatchObject({ status: 'paid', attempt_count: 2 });
  });

  it('a card that needs authentication is a 402 invoice_payment_intent_requires_action; no card at all is a 400', async () => {
    const { stripe } = await start();
    const c = await customerWith(stripe, 'pm_card_authenticationRequired');
    const inv = await draft(stripe, c.id);
    await stripe.invoices.finalizeInvoice(inv.id);
    expect(await stripeError(stripe.invoices.pay(inv.id))).toMatchObject({ statusCode: 402, code: 'invoice_payment_intent_requires_action' });

    const bare = await customerWith(stripe);
    const inv2 = await draft(stripe, bare.id);
    await stripe.invoices.finalizeInvoice(inv2.id);
    const none = await stripeError(stripe.invoices.pay(inv2.id));
    expect(none).toMatchObject({ statusCode: 400, message: expect.stringMatching(/no attached payment source or default payment method/) });
    expect(await stripe.invoices.retrieve(inv2.id)).toMatchObject({ attempt_count: 0 });
  });
});

describe('control API', () => {
  it('advances the clock and adds a card in a portal session', async () => {
    const { fake, stripe } = await start();
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${fake.url}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const c = await customerWith(stripe, 'pm_card_chargeCustomerFail');
    const inv = await draft(stripe, c.id, { auto_advance: true });
    await stripe.invoices.finalizeInvoice(inv.id);
    const session = await stripe.billingPortal.sessions.create({ customer: c.id });

    const added = await call('POST', `/_fake/billing_portal/sessions/${session.id}/add_payment_method`, { payment_method: 'pm_card_visa' });
    expect(added.status).toBe(200);
    expect(added.body.paymentMethod).toMatchObject({ customer: c.id, card: { last4: '4242' } });
    const before = (await call('GET', '/_fake/clock')).body.now as number;
    const advanced = await call('POST', '/_fake/clock/advance', { seconds: 3 * DAY });
    expect(advanced.body.now - before).toBeGreaterThanOrEqual(3 * DAY * 1000);
    expect((advanced.body.events as { type: string }[]).map((e) => e.type)).toEqual(['invoice.paid', 'invoice.payment_succeeded']);
    expect((await call('POST', '/_fake/clock/tick')).body.events).toEqual([]);
    expect((await call('POST', '/_fake/clock/advance', { seconds: -1 })).status).toBe(400);
    expect((await call('POST', '/_fake/billing_portal/sessions/bps_nope/add_payment_method', { payment_method: 'pm_card_visa' })).status).toBe(400);
    expect(((await call('GET', '/_fake')).body.endpoints as string[]).join('\n')).toContain('/_fake/clock/advance');
  });
});
