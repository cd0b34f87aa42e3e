import { Dec } from '../core/money.js';
import { formatMinor } from './currency.js';
import { errors } from './errors.js';
import { type Cause, emitInvoice, markPaid, renderInvoice } from './invoices.js';
import type { CreditNote, CreditNoteLineItem, CreditNoteReason, Metadata, Refund } from './objects.js';
import type { CreditNoteEntry, InvoiceEntry, ItemEntry, LineCredit, Store } from './store.js';
import type { StripeEvent, Webhooks } from './webhooks.js';

/**
 * Credit notes as Stripe issues them on a finalized invoice. A credit note first lowers the
 * invoice's amount remaining (its `pre_payment_amount`: `amount_due` and `amount_remaining` go
 * down, `pre_payment_credit_notes_amount` up; an invoice brought to 0 is paid); the rest is its
 * `post_payment_amount` (`post_payment_credit_notes_amount` goes up), which must be split exactly
 * into `credit_amount` (the customer's balance goes down: negative is credit), `refund_amount`
 * (a refund) and `out_of_band_amount` (only recorded). The credit notes of an invoice never
 * add up to more than its total. `plan` checks everything and writes nothing (it is the
 * preview); `issue` applies a plan.
 */
/** Lines embedded in a credit note; the rest are paged with GET /v1/credit_notes/:id/lines. */
const EMBEDDED_LINES = 10;

export interface LineParam {
  type: 'invoice_line_item' | 'custom_line_item';
  invoice_line_item: string | undefined;
  amount: number | undefined;
  quantity: number | undefined;
  unit_amount: number | undefined;
  description: string | undefined;
  metadata: Metadata | null | undefined;
}

export interface CreditNoteParams {
  invoice: string;
  amount: number | undefined;
  lines: LineParam[] | undefined;
  credit_amount: number | undefined;
  refund_amount: number | undefined;
  out_of_band_amount: number | undefined;
  reason: CreditNoteReason | undefined;
  memo: string | undefined;
  metadata: Metadata | null | undefined;
  effective_at: number | undefined;
}

export interface Plan {
  inv: InvoiceEntry;
  note: CreditNote;
  lines: CreditNoteLineItem[];
  credits: LineCredit[];
  creditAmount: number;
  refundAmount: number;
}

/** Checks of the parameters alone, made with the rest of validation (nothing is saved for a request they refuse). */
export function checkParams(p: Omit<CreditNoteParams, 'invoice'>): void {
  if (p.amount === undefined && p.lines === undefined) throw errors.invalidRequest('One of `amount`, `lines`, or `shipping_cost` must be provided.', 'amount', 'parameter_missing');
  p.lines?.forEach((l, i) => {
    const name = (k: string) => `lines[${i}][${k}]`;
    const onlyFor = (k: keyof LineParam, type: string) => {
      if (l[k] !== undefined) throw errors.invalidRequest(`Invalid ${name(k)}: only valid when \`type\` is \`${type}\`.`, name(k));
    };
    if (l.type === 'invoice_line_item') {
      if (l.invoice_line_item === undefined) throw errors.missingParam(name('invoice_line_item'));
      onlyFor('unit_amount', 'custom_line_item');
      onlyFor('description', 'custom_line_item');
      if (l.amount !== undefined && l.quantity !== undefined) throw errors.exclusive([name('amount'), name('quantity')]);
      if (l.amount === undefined && l.quantity === undefined) throw errors.invalidRequest(`Missing required param: ${name('amount')} or ${name('quantity')}.`, name('amount'), 'parameter_missing');
    } else {
      onlyFor('invoice_line_item', 'invoice_line_item');
      onlyFor('amount', 'invoice_line_item');
      if (l.unit_amount === undefined) throw errors.missingParam(name('unit_amount'));
    }
  });
}

/** Money as Stripe writes it in messages: $25.00, ¥2,500, £1.00. */
function money(amount: number, currency: string): string {
  const symbols: Record<string, string> = { usd: '$', eur: '€', gbp: '£', jpy: '¥' };
  const [whole = '0', frac] = formatMinor(Math.abs(amount), currency).split('.');
  const text = `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac === undefined ? '' : `.${frac}`}`;
  const symbol = symbols[currency];
  return `${amount < 0 ? '-' : ''}${symbol ?? `${currency.toUpperCase()} `}${text}`;
}

/** The issued (not voided) credit notes of an invoice. */
const issuedFor = (store: Store, invoiceId: string): CreditNoteEntry[] => [...store.creditNotes.values()].filter((c) => c.obj.invoice === invoiceId && c.obj.status === 'issued');

/** What the invoice's credit notes have not yet credited: its total less every issued credit note. */
export const creditable = (inv: InvoiceEntry): number => inv.obj.total - inv.obj.pre_payment_credit_notes_amount - inv.obj.post_payment_credit_notes_amount;

/** What was paid and not yet refunded (this server has no charges: the invoice's `amount_paid` stands for its payment). */
function refundable(store: Store, inv: InvoiceEntry): number {
  let refunded = 0;
  for (const c of store.creditNotes.values()) if (c.obj.invoice === inv.obj.id) for (const r of c.obj.refunds) refunded += r.amount_refunded;
  return inv.obj.amount_paid - refunded;
}

function invoiceLine(store: Store, inv: InvoiceEntry, id: string, param: string): ItemEntry {
  for (const itemId of inv.items) {
    const item = store.items.get(itemId);
    if (item?.lineId === id) return item;
  }
  throw errors.resourceMissing('invoice line item', id, param);
}

/** One `invoice_line_item` line: a quantity at the line's unit price (rounded half up), or an amount; never more than is left on the line. */
function creditLine(store: Store, inv: InvoiceEntry, l: LineParam, i: number, earlier: readonly LineCredit[], id: string): { line: CreditNoteLineItem; credit: LineCredit } {
  const param = `lines[${i}][invoice_line_item]`;
  const lineId = l.invoice_line_item ?? '';
  const item = invoiceLine(store, inv, lineId, param);
  const by = l.quantity === undefined ? 'amount' : 'quantity';
  const before = earlier.filter((c) => c.invoiceLineItem === lineId);
  if (before.some((c) => c.by !== by)) {
    throw errors.invalidRequest(
      `Invoice line item ${lineId} was already credited by ${by === 'amount' ? 'quantity' : 'amount'}; a later credit note can only credit it the same way (you can't combine discount types on an invoice line item).`,
      `lines[${i}][${by}]`,
    );
  }
  const unit = new Dec(item.obj.pricing.unit_amount_decimal);
  const amount = l.quantity === undefined ? (l.amount ?? 0) : unit.times(l.quantity).toDecimalPlaces(0, Dec.ROUND_HALF_UP).toNumber();
  const creditedAmount = before.reduce((s, c) => s + c.amount, 0);
  if (amount > item.obj.amount - creditedAmount) {
    throw errors.invalidRequest(
      `The amount to credit on invoice line item ${lineId} (${money(amount, inv.obj.currency)}) is greater than what is left to credit on it (${money(Math.max(0, item.obj.amount - creditedAmount), inv.obj.currency)}).`,
      `lines[${i}][${by}]`,
    );
  }
  if (l.quantity !== undefined) {
    const left = item.obj.quantity - before.reduce((s, c) => s + c.quantity, 0);
    if (l.quantity > left) throw errors.invalidRequest(`The quantity to credit on invoice line item ${lineId} (${l.quantity}) is greater than the quantity left to credit on it (${left}).`, `lines[${i}][quantity]`);
  }
  const line: CreditNoteLineItem = {
    id,
    object: 'credit_note_line_item',
    amount,
    description: item.obj.description,
    discount_amount: 0,
    discount_amounts: [],
    invoice_line_item: lineId,
    livemode: false,
    metadata: l.metadata ?? {},
    pretax_credit_amounts: [],
    quantity: l.quantity ?? 1,
    tax_rates: [],
    taxes: [],
    type: 'invoice_line_item',
    unit_amount: l.quantity === undefined ? amount : unit.toDecimalPlaces(0, Dec.ROUND_HALF_UP).toNumber(),
    unit_amount_decimal: l.quantity === undefined ? String(amount) : unit.toFixed(),
  };
  return { line, credit: { invoiceLineItem: lineId, amount, quantity: l.quantity ?? 0, by } };
}

function customLine(l: LineParam, id: string): CreditNoteLineItem {
  const quantity = l.quantity ?? 1;
  const unit = l.unit_amount ?? 0;
  return {
    id,
    object: 'credit_note_line_item',
    amount: unit * quantity,
    description: l.description ?? null,
    discount_amount: 0,
    discount_amounts: [],
    livemode: false,
    metadata: l.metadata ?? {},
    pretax_credit_amounts: [],
    quantity,
    tax_rates: [],
    taxes: [],
    type: 'custom_line_item',
    unit_amount: unit,
    unit_amount_decimal: String(unit),
  };
}

/** Everything `issue` would do, checked against the invoice as it is now; nothing is written. */
export function plan(store: Store, p: CreditNoteParams, serverUrl: string): Plan {
  const inv = store.invoice(p.invoice, 'invoice');
  const i = inv.obj;
  if (i.status !== 'open' && i.status !== 'paid') {
    throw errors.invalidRequest(`You can only issue a credit note for an open or paid invoice; invoice ${i.id} is ${i.status}.`, 'invoice', 'invoice_not_editable');
  }
  const lines: CreditNoteLineItem[] = [];
  const credits: LineCredit[] = [];
  const earlier = issuedFor(store, i.id).flatMap((c) => c.credits);
  (p.lines ?? []).forEach((l, n) => {
    const id = store.ids.next('cnli');
    if (l.type === 'custom_line_item') {
      lines.push(customLine(l, id));
      return;
    }
    const { line, credit } = creditLine(store, inv, l, n, [...earlier, ...credits], id);
    lines.push(line);
    credits.push(credit);
  });
  const linesTotal = lines.reduce((s, l) => s + l.amount, 0);
  if (p.amount !== undefined && p.lines !== undefined && p.amount !== linesTotal) {
    throw errors.invalidRequest(`The credit note amount (${money(p.amount, i.currency)}) must equal the sum of its lines (${money(linesTotal, i.currency)}).`, 'amount');
  }
  const total = p.amount ?? linesTotal;
  if (total <= 0) throw errors.invalidRequest(`The credit note amount must be greater than ${money(0, i.currency)}.`, p.amount === undefined ? 'lines' : 'amount');
  const left = creditable(inv);
  if (total > left) {
    throw errors.invalidRequest(
      `The credit note amount (${money(total, i.currency)}) is greater than the amount left to credit on invoice ${i.id} (${money(Math.max(0, left), i.currency)}): the credit notes of an invoice can't exceed its total.`,
      p.amount === undefined ? 'lines' : 'amount',
    );
  }
  // The amount remaining is lowered first (an open invoice's), the rest is post-payment.
  const pre = i.status === 'open' ? Math.min(total, i.amount_remaining) : 0;
  const post = total - pre;
  const creditAmount = p.credit_amount ?? 0;
  const refundAmount = p.refund_amount ?? 0;
  const outOfBand = p.out_of_band_amount ?? 0;
  const split = creditAmount + refundAmount + outOfBand;
  if (split !== post) {
    const param = p.credit_amount !== undefined ? 'credit_amount' : p.refund_amount !== undefined ? 'refund_amount' : p.out_of_band_amount !== undefined ? 'out_of_band_amount' : 'amount';
    throw errors.invalidRequest(
      pre === 0
        ? `The sum of credit amount, refund amount and out of band amount (${money(split, i.currency)}) must equal the credit note amount (${money(total, i.currency)}).`
        : `The sum of credit amount, refund amount and out of band amount (${money(split, i.currency)}) must equal the credit note's post-payment amount (${money(post, i.currency)}): ${money(pre, i.currency)} of it lowers the invoice's amount remaining.`,
      param,
    );
  }
  const canRefund = refundable(store, inv);
  if (refundAmount > canRefund) {
    throw errors.invalidRequest(`Refund amount (${money(refundAmount, i.currency)}) is greater than unrefunded amount on charge (${money(Math.max(0, canRefund), i.currency)})`, 'refund_amount');
  }
  const now = store.now();
  const id = store.ids.next('cn');
  // Numbered after the invoice, voided ones included: <invoice number>-CN-01, -CN-02…
  const sequence = [...store.creditNotes.values()].filter((c) => c.obj.invoice === i.id).length + 1;
  const note: CreditNote = {
    id,
    object: 'credit_note',
    amount: total,
    amount_shipping: 0,
    created: now,
    currency: i.currency,
    customer: i.customer,
    customer_account: null,
    customer_balance_transaction: null,
    discount_amount: 0,
    discount_amounts: [],
    effective_at: p.effective_at ?? now,
    invoice: i.id,
    livemode: false,
    memo: p.memo ?? null,
    metadata: p.metadata ?? {},
    number: `${i.number ?? i.id}-CN-${String(sequence).padStart(2, '0')}`,
    out_of_band_amount: p.out_of_band_amount ?? null,
    pdf: `${serverUrl}/p/credit_notes/${id}.pdf`,
    post_payment_amount: post,
    pre_payment_amount: pre,
    pretax_credit_amounts: [],
    reason: p.reason ?? null,
    refunds: [],
    shipping_cost: null,
    status: 'issued',
    subtotal: total,
    subtotal_excluding_tax: total,
    total,
    total_excluding_tax: total,
    total_taxes: [],
    type: post === 0 ? 'pre_payment' : pre === 0 ? 'post_payment' : 'mixed',
    voided_at: null,
  };
  return { inv, note, lines, credits, creditAmount, refundAmount };
}

/**
 * Applies a plan: the refund (`refund.created`), the customer's balance (`customer.updated`),
 * the invoice's amounts (`invoice.paid` when nothing is left due), then `credit_note.created`.
 */
export function issue(store: Store, webhooks: Webhooks, pl: Plan, cause: Cause): CreditNoteEntry {
  const { inv, note } = pl;
  const i = inv.obj;
  const entry: CreditNoteEntry = { ...store.entry(note), lines: pl.lines, credits: pl.credits, creditAmount: pl.creditAmount };
  if (pl.refundAmount > 0) {
    const refund: Refund = {
      id: store.ids.next('re'),
      object: 'refund',
      amount: pl.refundAmount,
      balance_transaction: null,
      charge: null,
      created: note.created,
      currency: note.currency,
      customer: note.customer,
      customer_account: null,
      metadata: {},
      payment_intent: null,
      payment_method: null,
      reason: null,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    };
    store.refunds.set(refund.id, store.entry(refund));
    note.refunds.push({ amount_refunded: refund.amount, payment_record_refund: null, refund: refund.id, type: 'refund' });
    webhooks.emit('refund.created', refund, cause);
  }
  if (pl.creditAmount > 0) {
    const customer = store.customer(note.customer, 'invoice');
    const before = customer.obj.balance;
    customer.obj.balance -= pl.creditAmount;
    note.customer_balance_transaction = store.ids.next('cbtxn');
    webhooks.emit('customer.updated', customer.obj, { ...cause, previousAttributes: { balance: before } });
  }
  i.pre_payment_credit_notes_amount += note.pre_payment_amount;
  i.amount_due -= note.pre_payment_amount;
  i.amount_remaining -= note.pre_payment_amount;
  i.post_payment_credit_notes_amount += note.post_payment_amount;
  store.creditNotes.set(note.id, entry);
  if (i.status === 'open' && note.pre_payment_amount > 0 && i.amount_remaining === 0) {
    markPaid(store, inv);
    emitInvoice(webhooks, store, 'invoice.paid', inv, cause);
  }
  webhooks.emit('credit_note.created', renderCreditNote(store, entry), cause);
  return entry;
}

/** Stripe voids a credit note only while its invoice is open; the invoice and the customer's balance get back what it took (a refund stays made). */
export function voidCreditNote(store: Store, webhooks: Webhooks, entry: CreditNoteEntry, cause: Cause): StripeEvent {
  const note = entry.obj;
  if (note.status === 'void') throw errors.invalidRequest(`Credit note ${note.id} is already void.`);
  const inv = store.invoice(note.invoice, 'invoice');
  if (inv.obj.status !== 'open') throw errors.invalidRequest('You can only void a credit note if the associated invoice is open.');
  const i = inv.obj;
  i.pre_payment_credit_notes_amount -= note.pre_payment_amount;
  i.amount_due += note.pre_payment_amount;
  i.amount_remaining += note.pre_payment_amount;
  i.post_payment_credit_notes_amount -= note.post_payment_amount;
  if (entry.creditAmount > 0) {
    const customer = store.customer(note.customer, 'invoice');
    const before = customer.obj.balance;
    customer.obj.balance += entry.creditAmount;
    webhooks.emit('customer.updated', customer.obj, { ...cause, previousAttributes: { balance: before } });
  }
  note.status = 'void';
  note.voided_at = store.now();
  return webhooks.emit('credit_note.voided', renderCreditNote(store, entry), cause);
}

export type RenderedCreditNote = Omit<CreditNote, 'customer' | 'invoice'> & {
  customer: unknown;
  invoice: unknown;
  lines: { object: 'list'; data: CreditNoteLineItem[]; has_more: boolean; url: string };
};

export function renderCreditNote(store: Store, entry: { obj: CreditNote; lines: CreditNoteLineItem[] }, o: { allLines?: boolean; expand?: readonly string[] } = {}): RenderedCreditNote {
  const shown = o.allLines === true ? entry.lines : entry.lines.slice(0, EMBEDDED_LINES);
  const out: RenderedCreditNote = {
    ...structuredClone(entry.obj),
    lines: { object: 'list', data: structuredClone(shown), has_more: shown.length < entry.lines.length, url: `/v1/credit_notes/${entry.obj.id}/lines` },
  };
  if (o.expand?.includes('customer') === true) out.customer = structuredClone(store.customers.get(entry.obj.customer)?.obj ?? entry.obj.customer);
  if (o.expand?.includes('invoice') === true) {
    const inv = store.invoices.get(entry.obj.invoice);
    if (inv !== undefined) out.invoice = renderInvoice(store, inv);
  }
  return out;
}
