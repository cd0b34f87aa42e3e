import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { period } from '../../catalog/periods.js';
import { takeNumbers } from '../../invoicing/billing-profile.js';
import { jsonRequest } from '../support/api.js';
import { type StripeBilling, WEBHOOK_SECRET, startStripeBilling } from '../support/stripe-billing.js';

/**
 * What finance does to issued invoices: void, mark paid out of band (a wire), write off as
 * uncollectible. Each changes Tally's invoice at once, is audited with the key that asked,
 * announced once, and mirrored to Stripe by billing sync; in a two-decimal (USD) and a
 * zero-decimal (JPY) currency, Tally's totals and Stripe's agree to the minor unit. And the
 * invoice numbers those invoices carry are a gapless sequence.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let b: StripeBilling;
const call = (method: string, path: string, body?: unknown) => b.call(method, path, body);
const invoiceOf = async (customer: string) => (await b.invoicesOf(customer))[0]!;
const stripeOf = (inv: Record<string, any>) => b.fake.state.invoice(inv.stripe_invoice_id as string)!;
/** The requests that paid a Stripe invoice (billing sync sends `paid_out_of_band=true`: nothing is charged). */
const payRequests = (inv: Record<string, any>) => b.fake.requests.filter((r) => r.method === 'POST' && r.path === `/v1/invoices/${inv.stripe_invoice_id}/pay` && r.status === 200);
const eventsOf = async (type: string, id: string) => (await b.events(type)).filter((e) => e.data.id === id);
const syncAndDeliver = () => b.syncAndDeliver();
/** A Stripe event about a Stripe invoice, signed as Stripe signs them, `ms` after now. */
async function stripeSays(type: string, inv: Record<string, any>, ms: number) {
  const body = JSON.stringify({
    id: `evt_probe_${type}_${inv.id}`,
    object: 'event',
    type,
    created: Math.floor((Date.now() + ms) / 1000),
    data: { object: { id: inv.stripe_invoice_id ?? 'in_none', object: 'invoice', metadata: { tally_tenant: b.tenant.id, tally_invoice: inv.id } } },
  });
  const headers = { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET }) };
  const res = await fetch(`${b.api.url}/v1/stripe/webhooks`, { method: 'POST', headers, body });
  return ((await res.json()) as { outcome: string }).outcome;
}

beforeAll(async () => {
  b = await startStripeBilling({ tenant: 'finance' });
  await call('POST', '/v1/plans', { code: 'usd', name: 'USD plan', currency: 'USD', interval: 'month', base_fee: '49.99' });
  await call('POST', '/v1/plans', { code: 'jpy', name: 'JPY plan', currency: 'JPY', interval: 'month', base_fee: '4980' });
  // Net-30 customers: Stripe emails their invoices and charges nothing, so only finance moves them.
  for (const [id, currency] of [['u1', 'USD'], ['u2', 'USD'], ['u3', 'USD'], ['j1', 'JPY'], ['j2', 'JPY']] as const) {
    await call('POST', '/v1/customers', { id, name: id, currency, collection_method: 'send_invoice', days_until_due: 30 });
    await call('POST', '/v1/subscriptions', { customer: id, plan: currency.toLowerCase(), start_date: start.toISOString() });
  }
  await b.close(new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000));
});
afterAll(async () => {
  await b?.stop();
});

describe('finance actions', () => {
  it('void before Stripe has the invoice: void in Tally, nothing written to Stripe for it', async () => {
    const u3 = await invoiceOf('u3');
    const r = await call('POST', `/v1/invoices/${u3.id}/void`, { reason: 'duplicate subscription' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'void', status_reason: 'duplicate subscription' });
    await syncAndDeliver();
    expect((await invoiceOf('u3')).stripe_invoice_id).toBeNull();
    expect(b.fake.state.invoices().some((i) => i.metadata.tally_invoice === u3.id)).toBe(false);
    // The others are in Stripe, open, with Tally's totals to the minor unit.
    for (const [c, minor] of [['u1', 4999], ['u2', 4999], ['j1', 4980], ['j2', 4980]] as const) {
      const inv = await invoiceOf(c);
      expect(stripeOf(inv)).toMatchObject({ status: 'open', total: minor, amount_due: minor, number: inv.number });
    }
  });

  it('void an open invoice: void in Tally and Stripe, audited with the key, announced once; asking again changes nothing', async () => {
    const inv = await invoiceOf('u1');
    const r = await call('POST', `/v1/invoices/${inv.id}/void`, {});
    expect(r.body.status).toBe('void');
    expect((await call('POST', `/v1/invoices/${inv.id}/void`, {})).status).toBe(200);
    await syncAndDeliver();
    expect(stripeOf(inv).status).toBe('void');
    expect(await eventsOf('invoice.voided', inv.id as string)).toHaveLength(1);
    const audit = (await call('GET', `/v1/invoices/${inv.id}/audit`)).body.data as { actor: string; action: string }[];
    expect(audit).toEqual([expect.objectContaining({ action: 'void', actor: `api_key:${b.tenant.key.split('_')[1]}` })]);
    // Stripe's own invoice.voided came back and changed nothing further.
    expect((await invoiceOf('u1')).status).toBe('void');
  });

  it('mark paid by wire: paid in Tally with the reference, paid out of band in Stripe, one invoice.paid', async () => {
    const inv = await invoiceOf('u2');
    const r = await call('POST', `/v1/invoices/${inv.id}/mark_paid`, { method: 'bank_transfer', reference: 'WIRE-2026-118' });
    expect(r.body).toMatchObject({ status: 'paid', paid_out_of_band: { method: 'bank_transfer', reference: 'WIRE-2026-118' } });
    expect(r.body.paid_at).not.toBeNull();
    await syncAndDeliver();
    expect(stripeOf(inv)).toMatchObject({ status: 'paid', amount_paid: 4999, amount_remaining: 0, attempt_count: 0 });
    expect(payRequests(inv)).toHaveLength(1);
    expect(await eventsOf('invoice.paid', inv.id as string)).toHaveLength(1);
  });

  it('what finance settled stays settled: Stripe reporting a failure afterwards changes nothing', async () => {
    const paid = await invoiceOf('u2');
    expect(await stripeSays('invoice.payment_failed', paid, 1_000)).toBe('ignored');
    const voided = await invoiceOf('u1');
    expect(await stripeSays('invoice.payment_action_required', voided, 1_000)).toBe('ignored');
    expect([(await invoiceOf('u2')).status, (await invoiceOf('u1')).status]).toEqual(['paid', 'void']);
  });

  it('a Net-30 invoice whose hosted-page payment fails before it is due does not start dunning', async () => {
    const open = await invoiceOf('j2');
    expect(await stripeSays('invoice.payment_failed', open, 0)).toBe('applied');
    const sub = (await call('GET', `/v1/invoices/${open.id}`)).body.subscription as string;
    expect((await call('GET', `/v1/subscriptions/${sub}`)).body.status).toBe('active');
    expect((await invoiceOf('j2')).overdue_since).toBeNull();
  });

  it('a paid invoice cannot be voided, a void one cannot be paid', async () => {
    const paid = await invoiceOf('u2');
    const refused = await call('POST', `/v1/invoices/${paid.id}/void`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_TRANSITION', field: 'id' });
    const voided = await invoiceOf('u1');
    expect((await call('POST', `/v1/invoices/${voided.id}/mark_paid`, { method: 'cheque' })).status).toBe(409);
    expect((await invoiceOf('u1')).status).toBe('void');
  });

  it('JPY, a zero-decimal currency: written off, then paid by cheque after all; Stripe follows each step', async () => {
    const inv = await invoiceOf('j1');
    expect(inv.total).toBe('4980');
    expect((await call('POST', `/v1/invoices/${inv.id}/mark_uncollectible`, { reason: 'customer insolvent' })).body.status).toBe('uncollectible');
    await syncAndDeliver();
    expect(stripeOf(inv)).toMatchObject({ status: 'uncollectible', total: 4980 });
    expect((await call('POST', `/v1/invoices/${inv.id}/mark_paid`, { method: 'cheque', reference: 'CHQ 0042' })).body.status).toBe('paid');
    await syncAndDeliver();
    expect(stripeOf(inv)).toMatchObject({ status: 'paid', amount_paid: 4980, attempt_count: 0 });
    expect(payRequests(inv)).toHaveLength(1);
    const audit = (await call('GET', `/v1/invoices/${inv.id}/audit`)).body.data as { action: string }[];
    expect(audit.map((a) => a.action)).toEqual(['mark_uncollectible', 'mark_paid']);
    expect((await eventsOf('invoice.marked_uncollectible', inv.id as string)).length).toBe(1);
    expect((await eventsOf('invoice.paid', inv.id as string)).length).toBe(1);
  });

  it('finance actions on an unknown invoice or another tenant’s are 404s; bad bodies are 400s naming the field', async () => {
    const other = await b.api.tenant('someone-else');
    const inv = await invoiceOf('j2');
    const foreign = await jsonRequest(b.api.url, other.auth, 'POST', `/v1/invoices/${inv.id}/void`, {});
    expect(foreign.status).toBe(404);
    expect((await call('POST', '/v1/invoices/in_nope/void', {})).status).toBe(404);
    const bad = await call('POST', `/v1/invoices/${inv.id}/mark_paid`, { method: 'bitcoin' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('method');
    expect((await invoiceOf('j2')).status).toBe('open');
    expect((await call('GET', `/v1/invoices/${inv.id}/audit`)).body.data).toEqual([]);
  });

  it('lists by status and issue date', async () => {
    const voided = (await call('GET', '/v1/invoices?status=void')).body.data as { id: string }[];
    expect(voided).toHaveLength(2);
    expect((await call('GET', '/v1/invoices?status=paid')).body.data).toHaveLength(2);
    expect((await call('GET', `/v1/invoices?issued_from=${encodeURIComponent(new Date(Date.now() + DAY).toISOString())}`)).body.data).toHaveLength(0);
    expect((await call('GET', `/v1/invoices?issued_before=${encodeURIComponent(new Date(Date.now() + DAY).toISOString())}`)).body.data).toHaveLength(5);
    expect((await call('GET', '/v1/invoices?status=gone')).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'status' });
  });
});

describe('invoice numbers', () => {
  it('are gapless: a transaction that rolls back gives its numbers back, concurrent issuers never share one', async () => {
    const tenant = await b.api.tenant('numbers');
    const pg = b.api.stores.postgres;
    const first = await pg.transaction((tx) => takeNumbers(tx, tenant.id, 2));
    await expect(
      pg.transaction(async (tx) => {
        await takeNumbers(tx, tenant.id, 5);
        throw new Error('the close failed after taking numbers');
      }),
    ).rejects.toThrow('the close failed');
    const taken = await Promise.all(Array.from({ length: 8 }, () => pg.transaction((tx) => takeNumbers(tx, tenant.id, 3))));
    const all = [...first.numbers, ...taken.flatMap((x) => x.numbers)];
    const prefix = all[0]!.split('-')[0]!;
    expect(new Set(all).size).toBe(all.length);
    expect(all.map((n) => Number(n.slice(prefix.length + 1))).sort((a, b) => a - b)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    expect(first.issuer.legal_name).toBe('numbers');
  });

  it('a prefix is the tenant’s own: another tenant cannot take it; changing it goes on with the sequence', async () => {
    const mine = (await call('GET', '/v1/billing_profile')).body;
    const other = await b.api.tenant('prefix-thief');
    const stolen = await jsonRequest(b.api.url, other.auth, 'PATCH', '/v1/billing_profile', { invoice_prefix: (mine.invoice_prefix as string).toLowerCase() });
    expect(stolen.status).toBe(409);
    expect(stolen.body.error).toMatchObject({ code: 'TALLY_ERR_ALREADY_EXISTS', field: 'invoice_prefix' });
    const changed = await call('PATCH', '/v1/billing_profile', { invoice_prefix: 'ACME26', legal_name: 'Acme Holdings GmbH', tax_id: 'DE123456789', address: { line1: 'Hauptstr. 1', city: 'Berlin', postal_code: '10115', country: 'de' } });
    expect(changed.body).toMatchObject({ invoice_prefix: 'ACME26', next_invoice_number: mine.next_invoice_number, address: { country: 'DE' } });
    // Invoices issued before keep the issuer they were issued with.
    expect((await invoiceOf('j2')).issuer.legal_name).toBe('finance');
    // The prefix given up is on issued invoices: still not another tenant's to take.
    const reused = await jsonRequest(b.api.url, other.auth, 'PATCH', '/v1/billing_profile', { invoice_prefix: mine.invoice_prefix as string });
    expect(reused.body.error).toMatchObject({ code: 'TALLY_ERR_ALREADY_EXISTS', field: 'invoice_prefix' });
    // Checked as typed: a letter that upper-cases into others is refused, not rewritten.
    expect((await call('PATCH', '/v1/billing_profile', { invoice_prefix: 'straße' })).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'invoice_prefix' });
  });
});
