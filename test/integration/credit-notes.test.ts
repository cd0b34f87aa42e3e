import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { period } from '../../catalog/periods.js';
import { OneOffCharges } from '../../catalog/one-off-charges.js';
import { type StripeBilling, startStripeBilling } from '../support/stripe-billing.js';

/**
 * Credit notes and one-off charges, from Tally to Stripe: Tally's invoice (what is credited and
 * still due), Stripe's invoice and credit note, and the customer's credit ledger agree to the
 * minor unit, in a two-decimal (USD) and a zero-decimal (JPY) currency.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 100 * DAY) / DAY) * DAY);

let b: StripeBilling;
const subs: Record<string, string> = {};
const call = (method: string, path: string, body?: unknown) => b.call(method, path, body);
const invoicesOf = (customer: string) => b.invoicesOf(customer);
type Line = { type: string; amount: string; description: string };
const linesOf = (inv: Record<string, any> | undefined) => inv!.lines as Line[];
const stripeOf = (inv: Record<string, any>) => b.fake.state.invoice(inv.stripe_invoice_id as string)!;
const syncAndDeliver = () => b.syncAndDeliver();
const closeMonth = (k: number) => b.close(new Date(period(start, 'month', k).end.getTime() + 2 * 3_600_000));

beforeAll(async () => {
  b = await startStripeBilling({ tenant: 'credit-notes' });
  await call('POST', '/v1/plans', { code: 'usd', name: 'USD plan', currency: 'USD', interval: 'month', base_fee: '49.99' });
  await call('POST', '/v1/plans', { code: 'jpy', name: 'JPY plan', currency: 'JPY', interval: 'month', base_fee: '4980' });
  await call('POST', '/v1/customers', { id: 'net', name: 'Net', currency: 'USD', collection_method: 'send_invoice', days_until_due: 15 });
  await call('POST', '/v1/customers', { id: 'yen', name: 'Yen', currency: 'JPY' });
  subs.net = (await call('POST', '/v1/subscriptions', { customer: 'net', plan: 'usd', start_date: start.toISOString() })).body.id;
  subs.yen = (await call('POST', '/v1/subscriptions', { customer: 'yen', plan: 'jpy', start_date: start.toISOString() })).body.id;
  // The JPY customer pays by card: charged when Stripe finalizes.
  const link = await call('POST', '/v1/customers/yen/payment_method_link', { return_url: 'https://app.example' });
  b.fake.portalAddPaymentMethod(/\/(bps_[A-Za-z0-9]+)/.exec(link.body.url as string)![1]!, 'pm_card_visa');
});
afterAll(async () => {
  await b?.stop();
});

describe('one-off charges', () => {
  it('a setup fee shows on the upcoming invoice, is billed once on the next closed one, and reaches Stripe', async () => {
    const added = await call('POST', `/v1/subscriptions/${subs.net}/charges`, { amount: '250.005', description: 'Onboarding and setup' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ amount: '250.005', currency: 'USD', invoice: null });
    expect((await call('POST', `/v1/subscriptions/${subs.net}/charges`, { amount: '0', description: 'nothing' })).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'amount' });
    expect((await call('POST', '/v1/subscriptions/sub_nope/charges', { amount: '1', description: 'x' })).status).toBe(404);
    expect((await call('GET', '/v1/subscriptions/sub_nope/charges')).body.error).toMatchObject({ code: 'TALLY_ERR_NOT_FOUND', field: 'id' });
    await closeMonth(0);
    await closeMonth(1);
    const [first, second] = await invoicesOf('net');
    expect(linesOf(first).filter((l) => l.type === 'charge')).toEqual([expect.objectContaining({ amount: '250.005000', description: 'Onboarding and setup' })]);
    // 49.99 + 250.005 = 299.995, half-even at the cent: 300.00.
    expect(first!.total).toBe('300.00');
    expect(linesOf(second).some((l) => l.type === 'charge')).toBe(false);
    expect(second!.total).toBe('49.99');
    expect((await call('GET', `/v1/subscriptions/${subs.net}/charges`)).body.data).toEqual([expect.objectContaining({ id: added.body.id, invoice: first!.id })]);
    expect((await b.events('charge.created')).map((e) => e.data.id)).toEqual([added.body.id]);
    await syncAndDeliver();
    expect(stripeOf((await invoicesOf('net'))[0]!)).toMatchObject({ total: 30000, status: 'open' });
  });

  it('invoiced now: a JPY setup fee on an invoice of its own, numbered, taxed as the customer is, charged by Stripe, billed once', async () => {
    const r = await call('POST', `/v1/subscriptions/${subs.yen}/charges`, { amount: '3000', description: 'Setup', invoice_now: true });
    expect(r.status).toBe(201);
    expect(r.body.invoice).toMatch(/^in_/);
    const inv = (await call('GET', `/v1/invoices/${r.body.invoice}`)).body;
    expect(inv).toMatchObject({ kind: 'one_off', status: 'open', total: '3000', number: expect.stringMatching(/-\d{4}$/) });
    expect(linesOf(inv).map((l) => [l.type, l.amount])).toEqual([['charge', '3000.000000']]);
    await syncAndDeliver();
    expect((await call('GET', `/v1/invoices/${r.body.invoice}`)).body.status).toBe('paid');
    expect(b.fake.state.invoices().find((i) => i.metadata.tally_invoice === r.body.invoice)).toMatchObject({ total: 3000, status: 'paid', number: inv.number });
    // Billed: no period invoice bills it again (the next one closed is checked below).
    expect((await call('GET', `/v1/subscriptions/${subs.yen}/charges`)).body.data).toEqual([expect.objectContaining({ invoice: r.body.invoice })]);
  });
});

describe('credit notes', () => {
  it('on an open USD invoice: lowers what is due, in Tally and in Stripe; credited in full it is paid', async () => {
    const [inv] = await invoicesOf('net');
    const note = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '100.00', reason: 'order_change', memo: 'Setup fee discounted' });
    expect(note.status).toBe(201);
    expect(note.body).toMatchObject({ amount: '100.00', settlement: 'reduce_due', number: `${inv!.number}-CN1` });
    expect((await invoicesOf('net'))[0]).toMatchObject({ status: 'open', credited: '100.00', amount_due: '200.00' });
    await syncAndDeliver();
    const cn = b.fake.state.creditNote((await call('GET', `/v1/invoices/${inv!.id}/credit_notes`)).body.data[0].stripe_credit_note_id as string)!;
    expect(cn).toMatchObject({ amount: 10000, type: 'pre_payment', reason: 'order_change', memo: 'Setup fee discounted' });
    expect(stripeOf(inv!)).toMatchObject({ amount_due: 20000, amount_remaining: 20000, pre_payment_credit_notes_amount: 10000 });
    // The whole first line (49.99 base fee) is less than is left: it can be credited by line.
    const byLine = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { lines: [{ line: 1 }], reason: 'duplicate' });
    expect(byLine.body).toMatchObject({ amount: '49.99', lines: [{ line: 1, amount: '49.99' }], number: `${inv!.number}-CN2` });
    const rest = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '150.02', reason: 'duplicate' });
    expect(rest.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'amount' });
    expect((await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '150.01', reason: 'duplicate' })).status).toBe(201);
    expect((await invoicesOf('net'))[0]).toMatchObject({ status: 'paid', credited: '300.00', amount_due: '0.00' });
    await syncAndDeliver();
    expect(stripeOf(inv!)).toMatchObject({ status: 'paid', amount_remaining: 0, pre_payment_credit_notes_amount: 30000 });
    expect(b.fake.state.creditNotes().filter((c) => c.invoice === inv!.stripe_invoice_id).map((c) => c.amount).sort((a, b) => a - b)).toEqual([4999, 10000, 15001]);
  });

  it.each([
    ['more places than the currency has', { amount: '1.001', reason: 'duplicate' }, 'TALLY_ERR_INVALID_VALUE', 'amount'],
    ['both amount and lines', { amount: '1.00', lines: [{ line: 1 }], reason: 'duplicate' }, 'TALLY_ERR_INVALID_VALUE', 'amount'],
    ['neither amount nor lines', { reason: 'duplicate' }, 'TALLY_ERR_INVALID_VALUE', 'amount'],
    ['an unknown reason', { amount: '1.00', reason: 'changed my mind' }, 'TALLY_ERR_INVALID_VALUE', 'reason'],
    ['a line the invoice does not have', { lines: [{ line: 99 }], reason: 'duplicate' }, 'TALLY_ERR_INVALID_VALUE', 'lines[0].line'],
    ['settle on an open invoice', { amount: '1.00', reason: 'duplicate', settle: 'refund' }, 'TALLY_ERR_INVALID_VALUE', 'settle'],
  ])('refuses %s, and writes nothing', async (_what, body, code, field) => {
    const [, open] = await invoicesOf('net');
    const r = await call('POST', `/v1/invoices/${open!.id}/credit_notes`, body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field });
    expect((await call('GET', `/v1/invoices/${open!.id}/credit_notes`)).body.data).toEqual([]);
  });

  it('on a paid JPY invoice: to the credit balance (Tally’s ledger; out of band in Stripe) or refunded through Stripe', async () => {
    await syncAndDeliver();
    const [inv] = await invoicesOf('yen');
    expect(inv).toMatchObject({ status: 'paid', total: '4980' });
    const missing = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '980', reason: 'product_unsatisfactory' });
    expect(missing.body.error).toMatchObject({ code: 'TALLY_ERR_MISSING_FIELD', field: 'settle' });
    expect((await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '9.5', reason: 'duplicate', settle: 'refund' })).body.error.field).toBe('amount');
    const credit = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '980', reason: 'product_unsatisfactory', settle: 'credit_balance' });
    expect(credit.body).toMatchObject({ amount: '980', settlement: 'credit_balance' });
    const refund = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '1000', reason: 'duplicate', settle: 'refund' });
    expect(refund.status).toBe(201);
    expect((await call('GET', '/v1/customers/yen/credits')).body).toMatchObject({ currency: 'JPY', balance: '980' });
    await syncAndDeliver();
    const notes = (await call('GET', `/v1/invoices/${inv!.id}/credit_notes`)).body.data as { stripe_credit_note_id: string; settlement: string }[];
    const byKind = Object.fromEntries(notes.map((n) => [n.settlement, b.fake.state.creditNote(n.stripe_credit_note_id)!]));
    expect(byKind.credit_balance).toMatchObject({ amount: 980, type: 'post_payment', out_of_band_amount: 980 });
    expect(byKind.refund).toMatchObject({ amount: 1000, type: 'post_payment' });
    expect(b.fake.state.refunds().map((r) => r.amount)).toEqual([1000]);
    // The balance is Tally's to apply: Stripe's customer balance is untouched.
    expect(b.fake.state.customers().find((c) => c.metadata.tally_customer === 'yen')!.balance).toBe(0);
    expect((await invoicesOf('yen'))[0]).toMatchObject({ status: 'paid', credited: '1980', amount_due: '0' });
  });

  it('the next JPY invoice uses the credit note’s credit; a credit note on a void invoice is refused', async () => {
    await closeMonth(2);
    const next = (await invoicesOf('yen'))[2];
    expect(linesOf(next).filter((l) => l.type === 'credit').map((l) => l.amount)).toEqual(['-980.000000']);
    expect(linesOf(next).some((l) => l.type === 'charge')).toBe(false);
    expect(next!.total).toBe('4000');
    expect((await call('GET', '/v1/customers/yen/credits')).body.balance).toBe('0');
    await call('POST', `/v1/invoices/${next!.id}/void`, {});
    const refused = await call('POST', `/v1/invoices/${next!.id}/credit_notes`, { amount: '1', reason: 'duplicate' });
    expect(refused.status).toBe(409);
  });
});

describe('credit notes and charges, when things race', () => {
  it('a credit note made before Stripe charged the card is refunded through Stripe, not lost', async () => {
    await call('POST', '/v1/customers', { id: 'card', name: 'Card', currency: 'USD' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'card', plan: 'usd', start_date: start.toISOString() })).body.id as string;
    const link = await call('POST', '/v1/customers/card/payment_method_link', { return_url: 'https://app.example' });
    b.fake.portalAddPaymentMethod(/\/(bps_[A-Za-z0-9]+)/.exec(link.body.url as string)![1]!, 'pm_card_visa');
    await closeMonth(0);
    const [inv] = await invoicesOf('card');
    expect(inv!.subscription).toBe(sub);
    const note = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '9.99', reason: 'order_change' });
    expect(note.body.settlement).toBe('reduce_due');
    // The invoice reaches Stripe first and the card is charged; the note follows it.
    await syncAndDeliver();
    await syncAndDeliver();
    const stored = (await call('GET', `/v1/invoices/${inv!.id}/credit_notes`)).body.data[0];
    expect(stored).toMatchObject({ settlement: 'refund', stripe_credit_note_id: expect.stringMatching(/^cn_/) });
    expect(b.fake.state.creditNote(stored.stripe_credit_note_id as string)).toMatchObject({ amount: 999, type: 'post_payment' });
    expect(b.fake.state.refunds().some((r) => r.amount === 999)).toBe(true);
    expect(stripeOf((await invoicesOf('card'))[0]!)).toMatchObject({ status: 'paid', amount_paid: 4999 });
  });

  it('a line is never credited beyond what it charged, across credit notes', async () => {
    const [inv] = await invoicesOf('card');
    const first = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { lines: [{ line: 1, amount: '30.00' }], reason: 'duplicate', settle: 'out_of_band' });
    expect(first.body).toMatchObject({ amount: '30.00' });
    // 19.99 of the line is left to credit (and 10.00 of the invoice, after the first note's 9.99).
    const over = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { lines: [{ line: 1, amount: '20.00' }], reason: 'duplicate', settle: 'out_of_band' });
    expect(over.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'lines[0].amount' });
    const rest = await call('POST', `/v1/invoices/${inv!.id}/credit_notes`, { amount: '10.00', reason: 'duplicate', settle: 'out_of_band' });
    expect(rest.status).toBe(201);
    expect((await invoicesOf('card'))[0]).toMatchObject({ credited: '49.99' });
  });

  it('crediting every line of an invoice credits exactly its total, whatever each line rounds to', async () => {
    await call('POST', '/v1/customers', { id: 'cents', name: 'Cents', currency: 'USD', collection_method: 'send_invoice', days_until_due: 15 });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'cents', plan: 'usd', start_date: new Date().toISOString() })).body.id as string;
    const invoiced = async (a: string, b: string) => {
      await call('POST', `/v1/subscriptions/${sub}/charges`, { amount: a, description: 'a' });
      const id = (await call('POST', `/v1/subscriptions/${sub}/charges`, { amount: b, description: 'b', invoice_now: true })).body.invoice as string;
      return (await call('GET', `/v1/invoices/${id}`)).body as Record<string, any>;
    };
    const credit = (id: string, lines: number[]) => call('POST', `/v1/invoices/${id}/credit_notes`, { lines: lines.map((line) => ({ line })), reason: 'duplicate' });
    // 5.015 + 7.135 = 12.15, but the lines round to 5.02 and 7.14: the last one credited takes 7.13.
    const up = await invoiced('5.015', '7.135');
    expect(up).toMatchObject({ total: '12.15', status: 'open' });
    expect((await credit(up.id as string, [1])).body).toMatchObject({ amount: '5.02' });
    expect((await credit(up.id as string, [2])).body).toMatchObject({ amount: '7.13', lines: [{ line: 2, amount: '7.13' }] });
    expect((await call('GET', `/v1/invoices/${up.id}`)).body).toMatchObject({ credited: '12.15', amount_due: '0.00', status: 'paid' });
    // 5.005 + 7.125 = 12.13, but the lines round to 5.00 and 7.12: crediting both in one note takes 12.13.
    const down = await invoiced('5.005', '7.125');
    expect(down).toMatchObject({ total: '12.13' });
    expect((await credit(down.id as string, [1, 2])).body).toMatchObject({ amount: '12.13', lines: [{ line: 1, amount: '5.00' }, { line: 2, amount: '7.13' }] });
    expect((await call('GET', `/v1/invoices/${down.id}`)).body).toMatchObject({ credited: '12.13', status: 'paid' });
    // Stripe agrees to the cent.
    await syncAndDeliver();
    for (const inv of [up, down]) {
      const synced = (await call('GET', `/v1/invoices/${inv.id}`)).body as Record<string, any>;
      expect(stripeOf(synced)).toMatchObject({ status: 'paid', amount_remaining: 0, pre_payment_credit_notes_amount: inv === up ? 1215 : 1213 });
    }
  });

  it('a charge asked for before a cancel whose final invoice is written meanwhile is refused, not left unbilled', async () => {
    await call('POST', '/v1/customers', { id: 'leaving', name: 'Leaving', currency: 'USD' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'leaving', plan: 'usd', start_date: start.toISOString() })).body.id as string;
    const asked = new Date();
    // While the charge waited for the subscription, it was canceled and its last period closed.
    await new Promise((r) => setTimeout(r, 20));
    expect((await call('POST', `/v1/subscriptions/${sub}/cancel`, {})).status).toBe(200);
    await b.close(new Date(Date.now() + 2 * 3_600_000));
    const late = new OneOffCharges(b.api.stores.postgres).add(b.tenant.id, sub, { amount: '5.00', description: 'Late' }, 'test', asked);
    await expect(late).rejects.toMatchObject({ code: 'TALLY_ERR_INVALID_TRANSITION' });
    expect((await call('GET', `/v1/subscriptions/${sub}/charges`)).body.data).toEqual([]);
  });

  it('money paid outside Stripe cannot be refunded through it', async () => {
    const [, open] = await invoicesOf('net');
    await call('POST', `/v1/invoices/${open!.id}/mark_paid`, { method: 'bank_transfer' });
    const r = await call('POST', `/v1/invoices/${open!.id}/credit_notes`, { amount: '5.00', reason: 'duplicate', settle: 'refund' });
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'settle' });
  });

  it('concurrent charges invoiced now are each billed once, each answer naming the invoice that took it', async () => {
    const rs = await Promise.all(['10', '20', '30'].map((amount) => call('POST', `/v1/subscriptions/${subs.net}/charges`, { amount, description: `Add-on ${amount}`, invoice_now: true })));
    expect(rs.map((r) => r.status)).toEqual([201, 201, 201]);
    const charges = (await call('GET', `/v1/subscriptions/${subs.net}/charges`)).body.data as { id: string; invoice: string | null }[];
    for (const r of rs) expect(charges.find((c) => c.id === r.body.id)!.invoice).toBe(r.body.invoice);
    const invoices = new Set(rs.map((r) => r.body.invoice as string));
    let billed = 0;
    for (const id of invoices) billed += ((await call('GET', `/v1/invoices/${id}`)).body.lines as Line[]).filter((l) => l.type === 'charge').length;
    expect(billed).toBe(3);
    expect((await call('POST', `/v1/subscriptions/${subs.net}/charges`, { amount: '1000000000000', description: 'too much' })).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'amount' });
  });
});
