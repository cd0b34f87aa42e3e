import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type StripeFake, startStripeFake } from '../../stripe-fake/index.js';
import { stripeClient, stripeError } from '../support/stripe-client.js';

// Credit notes and the refunds they make on the local Stripe server, through the `stripe`
// package: pre-payment credit lowers what an open invoice asks for, post-payment credit is split
// into a refund, customer balance and out-of-band credit, and every rule refuses with 400.

let fake: StripeFake;
let stripe: Stripe;

beforeEach(async () => {
  fake = await startStripeFake({ writesPerSecond: Infinity });
  stripe = stripeClient(fake);
});
afterEach(async () => {
  await fake.close();
});

/** A finalized invoice (open, auto_advance off) with items of these amounts; `paid` pays it out of band. */
async function invoice(amounts: number[], o: { currency?: string; paid?: boolean; customer?: string } = {}): Promise<Stripe.Invoice> {
  const customer = o.customer ?? (await stripe.customers.create({ name: 'c' })).id;
  const draft = await stripe.invoices.create({ customer, currency: o.currency ?? 'usd' });
  for (const amount of amounts) await stripe.invoiceItems.create({ customer, invoice: draft.id, amount, description: `item ${amount}` });
  const open = await stripe.invoices.finalizeInvoice(draft.id);
  return o.paid === true ? stripe.invoices.pay(open.id, { paid_out_of_band: true }) : open;
}

const eventTypes = (since = 0) =>
  fake.state
    .events()
    .slice(since)
    .map((e) => e.type);

describe('pre-payment credit notes on an open invoice', () => {
  it('a partial credit lowers amount_due and amount_remaining and is numbered after the invoice', async () => {
    const inv = await invoice([2500]);
    const before = fake.state.events().length;
    const cn = await stripe.creditNotes.create({ invoice: inv.id, amount: 1000, reason: 'order_change', memo: 'Sorry', metadata: { ticket: '7' } });
    expect(cn).toMatchObject({
      object: 'credit_note',
      amount: 1000,
      subtotal: 1000,
      total: 1000,
      currency: 'usd',
      customer: inv.customer,
      invoice: inv.id,
      number: `${inv.number}-CN-01`,
      reason: 'order_change',
      memo: 'Sorry',
      metadata: { ticket: '7' },
      status: 'issued',
      type: 'pre_payment',
      pre_payment_amount: 1000,
      post_payment_amount: 0,
      out_of_band_amount: null,
      refunds: [],
      voided_at: null,
      lines: { object: 'list', data: [], has_more: false },
    });
    expect(cn.id).toMatch(/^cn_/);
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'open', total: 2500, amount_due: 1500, amount_remaining: 1500, pre_payment_credit_notes_amount: 1000, post_payment_credit_notes_amount: 0 });
    expect(eventTypes(before)).toEqual(['credit_note.created']);
    expect(fake.state.events().at(-1)?.data.object).toMatchObject({ id: cn.id, amount: 1000 });

    const second = await stripe.creditNotes.create({ invoice: inv.id, amount: 500 });
    expect(second.number).toBe(`${inv.number}-CN-02`);
    expect((await stripe.creditNotes.list({ invoice: inv.id })).data.map((c) => c.id)).toEqual([second.id, cn.id]);
    expect((await stripe.creditNotes.retrieve(cn.id)).memo).toBe('Sorry');
    expect(fake.state.creditNote(cn.id)?.amount).toBe(1000);

    const updated = await stripe.creditNotes.update(cn.id, { memo: 'Sorry again', metadata: { ticket: '' } });
    expect(updated).toMatchObject({ memo: 'Sorry again', metadata: {} });
    expect(fake.state.events().at(-1)).toMatchObject({ type: 'credit_note.updated', data: { previous_attributes: { memo: 'Sorry', metadata: { ticket: '7' } } } });
  });

  it('crediting the whole amount due marks the invoice paid with invoice.paid', async () => {
    const inv = await invoice([1200, 800]);
    const before = fake.state.events().length;
    const cn = await stripe.creditNotes.create({ invoice: inv.id, amount: 2000 });
    expect(cn.type).toBe('pre_payment');
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'paid', amount_due: 0, amount_paid: 0, amount_remaining: 0, pre_payment_credit_notes_amount: 2000 });
    expect(eventTypes(before)).toEqual(['invoice.paid', 'credit_note.created']);
    // Nothing is left to credit.
    expect((await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 1, out_of_band_amount: 1 }))).message).toMatch(/greater than the amount left to credit/);
  });

  it('credits invoice lines by amount and by quantity at the line unit price', async () => {
    const customer = (await stripe.customers.create({ name: 'q' })).id;
    const draft = await stripe.invoices.create({ customer, currency: 'usd' });
    await stripe.invoiceItems.create({ customer, invoice: draft.id, unit_amount_decimal: Stripe.Decimal.from('250'), quantity: 4, description: 'seats' });
    await stripe.invoiceItems.create({ customer, invoice: draft.id, amount: 1000, description: 'setup' });
    const inv = await stripe.invoices.finalizeInvoice(draft.id);
    const [seats, setup] = inv.lines.data;
    const cn = await stripe.creditNotes.create({
      invoice: inv.id,
      lines: [
        { type: 'invoice_line_item', invoice_line_item: seats?.id as string, quantity: 2 },
        { type: 'invoice_line_item', invoice_line_item: setup?.id as string, amount: 300, metadata: { why: 'discount' } },
        { type: 'custom_line_item', unit_amount: 50, quantity: 2, description: 'goodwill' },
      ],
    });
    expect(cn.amount).toBe(500 + 300 + 100);
    expect(cn.lines.data).toMatchObject([
      { object: 'credit_note_line_item', type: 'invoice_line_item', invoice_line_item: seats?.id, amount: 500, quantity: 2, unit_amount: 250, description: 'seats' },
      { type: 'invoice_line_item', invoice_line_item: setup?.id, amount: 300, quantity: 1, metadata: { why: 'discount' } },
      { type: 'custom_line_item', amount: 100, quantity: 2, unit_amount: 50, description: 'goodwill' },
    ]);
    expect(cn.lines.data[0]?.id).toMatch(/^cnli_/);
    expect((await stripe.creditNotes.listLineItems(cn.id)).data).toHaveLength(3);
    expect((await stripe.invoices.retrieve(inv.id)).amount_due).toBe(2000 - 900);

    // What is left on each line, and the way it was first credited, bound later credit notes.
    const tooMany = await stripeError(stripe.creditNotes.create({ invoice: inv.id, lines: [{ type: 'invoice_line_item', invoice_line_item: seats?.id as string, quantity: 3 }] }));
    expect(tooMany).toMatchObject({ statusCode: 400, param: 'lines[0][quantity]' });
    const mixed = await stripeError(stripe.creditNotes.create({ invoice: inv.id, lines: [{ type: 'invoice_line_item', invoice_line_item: seats?.id as string, amount: 100 }] }));
    expect(mixed.message).toMatch(/already credited by quantity/);
    const overLine = await stripeError(stripe.creditNotes.create({ invoice: inv.id, lines: [{ type: 'invoice_line_item', invoice_line_item: setup?.id as string, amount: 701 }] }));
    expect(overLine.message).toMatch(/greater than what is left to credit on it \(\$7\.00\)/);
  });
});

describe('post-payment credit notes on a paid invoice', () => {
  it('splits into a refund, customer balance credit and out-of-band credit', async () => {
    const inv = await invoice([5000], { paid: true });
    const before = fake.state.events().length;
    const cn = await stripe.creditNotes.create({ invoice: inv.id, amount: 3000, refund_amount: 1000, credit_amount: 1500, out_of_band_amount: 500, reason: 'product_unsatisfactory' });
    expect(cn).toMatchObject({ type: 'post_payment', pre_payment_amount: 0, post_payment_amount: 3000, out_of_band_amount: 500, customer_balance_transaction: expect.stringMatching(/^cbtxn_/) });
    expect(cn.refunds).toHaveLength(1);
    const ref = cn.refunds[0];
    expect(ref).toMatchObject({ amount_refunded: 1000, type: 'refund' });
    const refund = await stripe.refunds.retrieve(ref?.refund as string);
    expect(refund).toMatchObject({ object: 'refund', amount: 1000, currency: 'usd', status: 'succeeded', charge: null, payment_intent: null });
    expect(fake.state.refunds().map((r) => r.id)).toEqual([refund.id]);

    expect(((await stripe.customers.retrieve(inv.customer as string)) as Stripe.Customer).balance).toBe(-1500);
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'paid', amount_due: 5000, amount_paid: 5000, amount_remaining: 0, post_payment_credit_notes_amount: 3000, pre_payment_credit_notes_amount: 0 });
    expect(eventTypes(before)).toEqual(['refund.created', 'customer.updated', 'credit_note.created']);
    expect(fake.state.events()[before + 1]?.data.previous_attributes).toEqual({ balance: 0 });

    // The credit notes of a paid invoice never add up to more than its total.
    const over = await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 2001, refund_amount: 2001 }));
    expect(over).toMatchObject({ statusCode: 400, param: 'amount', message: expect.stringMatching(/\(\$20\.01\) is greater than the amount left to credit on invoice .* \(\$20\.00\)/) });
    expect((await stripe.creditNotes.create({ invoice: inv.id, amount: 2000, refund_amount: 2000 })).refunds[0]?.amount_refunded).toBe(2000);
  });

  it('refuses a split that does not add up to the credit note amount, with Stripe message', async () => {
    const inv = await invoice([5000], { paid: true });
    const e = await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 2000, refund_amount: 500, credit_amount: 500 }));
    expect(e).toMatchObject({
      statusCode: 400,
      type: 'StripeInvalidRequestError',
      message: 'The sum of credit amount, refund amount and out of band amount ($10.00) must equal the credit note amount ($20.00).',
    });
    // No split at all is refused too (out_of_band_amount is not filled in since 2019-12-03).
    expect((await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 2000 }))).message).toMatch(/must equal the credit note amount/);
    expect(fake.state.creditNotes()).toEqual([]);
    expect(fake.state.refunds()).toEqual([]);
  });

  it('a split on an open invoice is refused: all of it lowers the amount remaining', async () => {
    const inv = await invoice([5000]);
    const e = await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 1000, credit_amount: 1000 }));
    expect(e.message).toMatch(/post-payment amount \(\$0\.00\)/);
  });
});

describe('what is refused', () => {
  it('over-crediting, draft and void invoices, unknown lines, missing amount and lines', async () => {
    const inv = await invoice([2500]);
    const over = await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 2501 }));
    expect(over).toMatchObject({ statusCode: 400, param: 'amount', message: expect.stringMatching(/greater than the amount left to credit on invoice .* \(\$25\.00\)/) });

    const customer = inv.customer as string;
    const draft = await stripe.invoices.create({ customer, currency: 'usd' });
    await stripe.invoiceItems.create({ customer, invoice: draft.id, amount: 100 });
    expect(await stripeError(stripe.creditNotes.create({ invoice: draft.id, amount: 50 }))).toMatchObject({ statusCode: 400, param: 'invoice', message: expect.stringMatching(/is draft/) });
    const voided = await invoice([100], { customer });
    await stripe.invoices.voidInvoice(voided.id);
    expect((await stripeError(stripe.creditNotes.create({ invoice: voided.id, amount: 50 }))).message).toMatch(/is void/);
    expect(await stripeError(stripe.creditNotes.create({ invoice: 'in_nope', amount: 50 }))).toMatchObject({ code: 'resource_missing', param: 'invoice' });

    const unknown = await stripeError(stripe.creditNotes.create({ invoice: inv.id, lines: [{ type: 'invoice_line_item', invoice_line_item: 'il_nope', amount: 10 }] }));
    expect(unknown).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'lines[0][invoice_line_item]' });
    // A line of another invoice is not a line of this one.
    const other = await invoice([300], { customer });
    const foreign = await stripeError(stripe.creditNotes.create({ invoice: inv.id, lines: [{ type: 'invoice_line_item', invoice_line_item: other.lines.data[0]?.id as string, amount: 10 }] }));
    expect(foreign.code).toBe('resource_missing');

    expect(await stripeError(stripe.creditNotes.create({ invoice: inv.id }))).toMatchObject({ code: 'parameter_missing' });
    expect(await stripeError(stripe.creditNotes.create({ invoice: inv.id, lines: [{ type: 'invoice_line_item', invoice_line_item: inv.lines.data[0]?.id as string }] }))).toMatchObject({
      code: 'parameter_missing',
    });
    expect(await stripeError(stripe.creditNotes.create({ invoice: inv.id, lines: [{ type: 'custom_line_item', quantity: 1 }] }))).toMatchObject({ code: 'parameter_missing', param: 'lines[0][unit_amount]' });
    expect((await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 10, reason: 'bored' }))).param).toBe('reason');
    expect((await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 10, shipping_cost: { shipping_rate: 'shr_1' } }))).message).toMatch(/does not implement/);
    expect(fake.state.creditNotes()).toEqual([]);
    expect((await stripe.invoices.retrieve(inv.id)).amount_due).toBe(2500);
  });
});

describe('preview, void, idempotency, currencies', () => {
  it('preview computes the credit note and writes nothing', async () => {
    const inv = await invoice([2500], { paid: true });
    const events = fake.state.events().length;
    const preview = await stripe.creditNotes.preview({ invoice: inv.id, lines: [{ type: 'invoice_line_item', invoice_line_item: inv.lines.data[0]?.id as string, amount: 700 }], refund_amount: 700 });
    expect(preview).toMatchObject({ object: 'credit_note', amount: 700, type: 'post_payment', number: `${inv.number}-CN-01`, refunds: [] });
    expect(preview.lines.data).toMatchObject([{ amount: 700, invoice_line_item: inv.lines.data[0]?.id }]);
    expect(fake.state.events()).toHaveLength(events);
    expect(fake.state.creditNotes()).toEqual([]);
    expect(fake.state.refunds()).toEqual([]);
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ post_payment_credit_notes_amount: 0 });
    // It refuses what create refuses.
    expect((await stripeError(stripe.creditNotes.preview({ invoice: inv.id, amount: 9999, out_of_band_amount: 9999 }))).message).toMatch(/greater than the amount left to credit/);
  });

  it('void restores the open invoice and the customer balance; only while the invoice is open', async () => {
    const inv = await invoice([2500]);
    const cn = await stripe.creditNotes.create({ invoice: inv.id, amount: 1000 });
    const before = fake.state.events().length;
    const voided = await stripe.creditNotes.voidCreditNote(cn.id);
    expect(voided).toMatchObject({ id: cn.id, status: 'void', voided_at: expect.any(Number) });
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'open', amount_due: 2500, amount_remaining: 2500, pre_payment_credit_notes_amount: 0 });
    expect(eventTypes(before)).toEqual(['credit_note.voided']);
    expect((await stripeError(stripe.creditNotes.voidCreditNote(cn.id))).message).toMatch(/already void/);
    // A voided credit note keeps its number; the next one is -CN-02, and all 2500 can be credited again.
    expect((await stripe.creditNotes.create({ invoice: inv.id, amount: 2500 })).number).toBe(`${inv.number}-CN-02`);

    const paid = await invoice([4000], { paid: true });
    const post = await stripe.creditNotes.create({ invoice: paid.id, amount: 1000, credit_amount: 1000 });
    const refused = await stripeError(stripe.creditNotes.voidCreditNote(post.id));
    expect(refused).toMatchObject({ statusCode: 400, message: 'You can only void a credit note if the associated invoice is open.' });
    expect(((await stripe.customers.retrieve(paid.customer as string)) as Stripe.Customer).balance).toBe(-1000);
    expect(await stripeError(stripe.creditNotes.voidCreditNote('cn_nope'))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('replays a create with the same idempotency key, and refuses the key with other parameters', async () => {
    const inv = await invoice([5000], { paid: true });
    const params = { invoice: inv.id, amount: 1200, refund_amount: 1200 };
    const first = await stripe.creditNotes.create(params, { idempotencyKey: 'cn-key-1' });
    const again = await stripe.creditNotes.create(params, { idempotencyKey: 'cn-key-1' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(fake.state.creditNotes()).toHaveLength(1);
    expect(fake.state.refunds()).toHaveLength(1);
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ post_payment_credit_notes_amount: 1200 });
    expect(await stripeError(stripe.creditNotes.create({ ...params, amount: 1300, refund_amount: 1300 }, { idempotencyKey: 'cn-key-1' }))).toMatchObject({ type: 'StripeIdempotencyError' });
  });

  it('JPY: the same integer amounts, whole yen in messages', async () => {
    const inv = await invoice([3000], { currency: 'jpy' });
    const cn = await stripe.creditNotes.create({ invoice: inv.id, lines: [{ type: 'invoice_line_item', invoice_line_item: inv.lines.data[0]?.id as string, amount: 1000 }] });
    expect(cn).toMatchObject({ currency: 'jpy', amount: 1000 });
    expect(await stripe.invoices.retrieve(inv.id)).toMatchObject({ amount_due: 2000, amount_remaining: 2000 });
    expect((await stripeError(stripe.creditNotes.create({ invoice: inv.id, amount: 2001 }))).message).toMatch(/\(¥2,001\) is greater than the amount left to credit on invoice .* \(¥2,000\)/);
    await stripe.invoices.pay(inv.id, { paid_out_of_band: true });
    const post = await stripe.creditNotes.create({ invoice: inv.id, amount: 500, credit_amount: 300, refund_amount: 200 });
    expect(post).toMatchObject({ type: 'post_payment', post_payment_amount: 500 });
    expect(((await stripe.customers.retrieve(inv.customer as string)) as Stripe.Customer).balance).toBe(-300);
    expect(fake.state.refunds()).toMatchObject([{ amount: 200, currency: 'jpy' }]);
  });
});
