import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { period } from '../../catalog/periods.js';
import { sweepDunning } from '../../stripe/dunning.js';
import { type StripeBilling, startStripeBilling } from '../support/stripe-billing.js';

/**
 * From a closed period to money, through the local Stripe server: Tally finalizes each invoice
 * with auto_advance, Stripe collects (charges the card on file, retries a declined one on its
 * schedule, emails a Net-30 invoice and reports it overdue), and what Stripe reports comes back
 * by webhook: invoices paid, dunning through grace, past_due, suspended and cancellation, each
 * announced once. Tally's clock is the Stripe server's, which the test moves.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let b: StripeBilling;
const subs: Record<string, string> = {};

const call = (method: string, path: string, body?: unknown) => b.call(method, path, body);
const invoiceOf = async (customer: string) => (await b.invoicesOf(customer))[0]!;
const statusOf = async (customer: string) => (await call('GET', `/v1/subscriptions/${subs[customer]}`)).body.status as string;
const events = () => b.events();
const eventsFor = async (type: string, id: string) => (await b.events(type)).filter((e) => e.data.id === id);
/** Moves both clocks, lets Stripe do what fell due, delivers its webhooks, and sweeps dunning. */
async function advance(days: number) {
  b.fake.advance(days * 86_400);
  await b.fake.webhooks.idle();
  const policy = { graceMs: 2 * DAY, suspendAfterMs: 7 * DAY, cancelAfterMs: 20 * DAY };
  await sweepDunning({ pg: b.api.stores.postgres, policy, logger: createLogger(b.api.stores.config) }, new Date(b.fake.now()));
}
/** The customer gives Stripe a card through the link Tally returns. */
async function addCard(customer: string, token: string) {
  const link = await call('POST', `/v1/customers/${customer}/payment_method_link`, { return_url: 'https://app.example/billing' });
  expect(link.status).toBe(200);
  expect(link.body.url).toMatch(/^http/);
  const session = /\/(bps_[A-Za-z0-9]+)/.exec(link.body.url as string)![1]!;
  b.fake.portalAddPaymentMethod(session, token);
  await b.fake.webhooks.idle();
  return link.body.stripe_customer_id as string;
}

beforeAll(async () => {
  b = await startStripeBilling({
    tenant: 'collection',
    env: { TALLY_DUNNING_GRACE_DAYS: '2', TALLY_DUNNING_SUSPEND_DAYS: '7', TALLY_DUNNING_CANCEL_DAYS: '20' },
    stripeClock: true,
  });
  await call('POST', '/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '49.00' });
  await call('POST', '/v1/customers', { id: 'visa', name: 'Visa Co', currency: 'USD', email: 'ap@visa.example' });
  await call('POST', '/v1/customers', { id: 'decline', name: 'Decline Co', currency: 'USD' });
  await call('POST', '/v1/customers', { id: 'late', name: 'Late Card Co', currency: 'USD' });
  await call('POST', '/v1/customers', { id: 'net30', name: 'Net Co', currency: 'USD', collection_method: 'send_invoice', days_until_due: 30, purchase_order: 'PO-7781' });
  for (const c of ['visa', 'decline', 'late', 'net30']) subs[c] = (await call('POST', '/v1/subscriptions', { customer: c, plan: 'pro', start_date: start.toISOString() })).body.id;
  await addCard('visa', 'pm_card_visa');
  await addCard('decline', 'pm_card_chargeCustomerFail');
  await b.close(new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000));
  expect(await b.sync.runOnce()).toMatchObject({ done: 4, failed: 0 });
  await b.fake.webhooks.idle();
});
afterAll(async () => {
  await b?.stop();
});

describe('collection through Stripe', () => {
  it('a card that works: charged when the invoice is finalized, paid in Tally, announced once', async () => {
    const inv = await invoiceOf('visa');
    expect(inv).toMatchObject({ status: 'paid', total: '49.00', collection_method: 'charge_automatically', payment_terms: 'Charged automatically' });
    expect(inv.paid_at).not.toBeNull();
    const stripe = b.fake.state.invoice(inv.stripe_invoice_id as string)!;
    expect(stripe).toMatchObject({ status: 'paid', amount_paid: 4900, auto_advance: true, number: inv.number });
    expect(await eventsFor('invoice.paid', inv.id as string)).toHaveLength(1);
    expect(await statusOf('visa')).toBe('active');
  });

  it('numbers are the tenant’s gapless sequence, shown in Stripe too', async () => {
    const numbers = await Promise.all(['visa', 'decline', 'late', 'net30'].map(async (c) => (await invoiceOf(c)).number as string));
    const prefix = numbers[0]!.split('-')[0]!;
    expect(numbers.map((n) => n.split('-')[0])).toEqual([prefix, prefix, prefix, prefix]);
    expect(numbers.map((n) => Number(n.split('-')[1])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
    for (const c of ['decline', 'late', 'net30']) {
      const inv = await invoiceOf(c);
      expect(b.fake.state.invoice(inv.stripe_invoice_id as string)!.number).toBe(inv.number);
    }
    expect((await call('GET', '/v1/billing_profile')).body).toMatchObject({ invoice_prefix: prefix, next_invoice_number: '5' });
  });

  it('a Net-30 customer: emailed with its due date and purchase order, not charged', async () => {
    const inv = await invoiceOf('net30');
    expect(inv).toMatchObject({ status: 'open', collection_method: 'send_invoice', days_until_due: 30, payment_terms: 'Net 30', purchase_order: 'PO-7781', overdue_since: null });
    const stripe = b.fake.state.invoice(inv.stripe_invoice_id as string)!;
    expect(stripe).toMatchObject({ collection_method: 'send_invoice', status: 'open', attempt_count: 0, custom_fields: [{ name: 'Purchase order', value: 'PO-7781' }] });
    expect(Date.parse(inv.due_at as string)).toBe(stripe.due_date! * 1000);
    expect(stripe.due_date! - stripe.status_transitions.finalized_at!).toBe(30 * 86_400);
    expect(b.fake.state.events().filter((e) => e.type === 'invoice.sent' && (e.data.object as { id: string }).id === stripe.id)).toHaveLength(1);
  });

  it('a declined card: open, in grace, then past_due once the grace is over; Stripe retries on its schedule', async () => {
    const inv = await invoiceOf('decline');
    expect(inv.status).toBe('open');
    expect(b.fake.state.invoice(inv.stripe_invoice_id as string)).toMatchObject({ attempt_count: 1, status: 'open' });
    expect(await eventsFor('invoice.payment_failed', inv.id as string)).toHaveLength(1);
    // The same goes for the customer without a card: Stripe's attempt fails too.
    expect((await invoiceOf('late')).status).toBe('open');
    expect(await statusOf('decline')).toBe('active');
    await advance(2.5);
    expect([await statusOf('decline'), await statusOf('late')]).toEqual(['past_due', 'past_due']);
    const updates = (await events()).filter((e) => e.type === 'subscription.updated' && e.data.id === subs.decline);
    expect(updates.map((e) => e.data.status)).toEqual(['past_due']);
    // A sweep that finds nothing new announces nothing.
    await advance(0.1);
    expect((await events()).filter((e) => e.type === 'subscription.updated' && e.data.id === subs.decline)).toHaveLength(1);
  });

  it('a customer who adds a card through the link is charged at the next retry, and is active again', async () => {
    await addCard('late', 'pm_card_visa');
    // Stripe's first retry comes three days after the failed attempt.
    await advance(0.6);
    const inv = await invoiceOf('late');
    expect(inv.status).toBe('paid');
    expect(b.fake.state.invoice(inv.stripe_invoice_id as string)).toMatchObject({ status: 'paid', attempt_count: 2 });
    expect(await statusOf('late')).toBe('active');
    // Newest first: past due, then active again.
    expect((await events()).filter((e) => e.type === 'subscription.updated' && e.data.id === subs.late).map((e) => e.data.status)).toEqual(['active', 'past_due']);
    expect(await statusOf('decline')).toBe('past_due');
  });

  it('still declined: suspended after the suspension period, canceled after the cancellation period, each once', async () => {
    await advance(4);
    expect(await statusOf('decline')).toBe('suspended');
    await advance(14);
    expect(await statusOf('decline')).toBe('canceled');
    const mine = (await events()).filter((e) => e.data.id === subs.decline && e.type.startsWith('subscription.')).map((e) => `${e.type}:${e.data.status}`);
    expect(mine.reverse()).toEqual(['subscription.updated:past_due', 'subscription.updated:suspended', 'subscription.canceled:canceled']);
    const audit = (await call('GET', `/v1/subscriptions/${subs.decline}/audit`)).body;
    expect(JSON.stringify(audit)).toContain('dunning');
    // Stripe went on retrying until its schedule ran out; the invoice is still owed.
    const inv = await invoiceOf('decline');
    expect(b.fake.state.invoice(inv.stripe_invoice_id as string)).toMatchObject({ attempt_count: 4, next_payment_attempt: null, status: 'open' });
  });

  it('the Net-30 invoice goes overdue: reported once, listed with its age, and dunning starts', async () => {
    // Finalized at day 0, due at day 30; the clock is at day 21.2.
    await advance(9.3);
    const inv = await invoiceOf('net30');
    expect(inv.overdue_at).not.toBeNull();
    expect(inv.days_overdue).toBeGreaterThanOrEqual(0);
    expect(await eventsFor('invoice.overdue', inv.id as string)).toHaveLength(1);
    const overdue = (await call('GET', '/v1/invoices?overdue=true')).body.data as { id: string; days_overdue: number }[];
    expect(overdue.map((i) => i.id).sort()).toEqual([inv.id, (await invoiceOf('decline')).id].sort());
    expect(await statusOf('net30')).toBe('active');
    await advance(2);
    expect(await statusOf('net30')).toBe('past_due');
    await advance(1);
    expect(await eventsFor('invoice.overdue', inv.id as string)).toHaveLength(1);
  });
});
