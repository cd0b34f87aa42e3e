import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { minorUnits } from '../core/currency.js';
import { newId } from '../core/ids.js';
import { Dec } from '../core/money.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { LINES_TEXT, LINES_TEXT_RULE } from '../core/display-text.js';

/**
 * Credit notes: an issued invoice, or some of its lines, taken back with a reason. Amounts are
 * at the currency's minor unit (a credit note is money, as an invoice total is): an amount with
 * more places is refused, never rounded; a whole line credited is its amount rounded half-even
 * to the minor unit (the note that credits the last line takes what is left: below).
 * Together an invoice's credit notes never exceed its total.
 *
 * On an open invoice the credit lowers what is due (`reduce_due`); credited in full, the
 * invoice is paid. On a paid invoice the caller says where the money goes: `credit_balance`
 * (a credit grant the customer's next invoices use), `refund` (Stripe refunds the payment) or
 * `out_of_band` (given back outside Stripe). Each note is numbered after its invoice
 * (`INV-0042-CN1`), audited with the acting key, and its side effects (the Stripe outbox, an
 * outbound event, dunning) are hooks the wiring registers.
 */
export const REASONS = ['duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory'] as const;
export type Settlement = 'reduce_due' | 'credit_balance' | 'refund' | 'out_of_band';

const decimal = z.string().regex(/^\d{1,20}(\.\d{1,6})?$/, 'must be a positive decimal string such as "12.50"');

export const CreateCreditNote = z
  .strictObject({
    amount: decimal.optional(),
    lines: z
      .array(z.strictObject({ line: z.number().int().min(1).max(100_000), amount: decimal.optional() }))
      .min(1)
      .max(250)
      .optional(),
    reason: z.enum(REASONS),
    memo: z.string().trim().min(1).max(500).regex(LINES_TEXT, LINES_TEXT_RULE).optional(),
    settle: z.enum(['credit_balance', 'refund', 'out_of_band']).optional(),
  })
  .superRefine((c, ctx) => {
    if ((c.amount === undefined) === (c.lines === undefined)) ctx.addIssue({ code: 'custom', path: ['amount'], message: c.amount === undefined ? 'give amount or lines' : 'give either amount or lines, not both' });
    const seen = new Set<number>();
    for (const [i, l] of (c.lines ?? []).entries()) {
      if (seen.has(l.line)) ctx.addIssue({ code: 'custom', path: ['lines', i, 'line'], message: 'names a line already given' });
      seen.add(l.line);
    }
  });
export type CreateCreditNoteInput = z.output<typeof CreateCreditNote>;

export interface CreditNoteView {
  id: string;
  number: string;
  invoice: string;
  customer: string;
  currency: string;
  amount: string;
  settlement: Settlement;
  reason: (typeof REASONS)[number];
  memo: string | null;
  lines: { line: number; amount: string }[];
  stripe_credit_note_id: string | null;
  created_at: string;
}

export interface CreditNoteIssued {
  tenantId: string;
  id: string;
  invoiceId: string;
  subscriptionId: string;
  /** Whether the note brought an open invoice to nothing due (it is now paid). */
  settledInvoice: boolean;
  at: Date;
}

/** A side effect of a credit note, run inside the transaction that issues it. */
export type CreditNoteHook = (tx: Queryable, issued: CreditNoteIssued) => Promise<void>;

interface Row {
  id: string;
  number: string;
  invoice_id: string;
  customer_id: string;
  currency: string;
  amount: string;
  settlement: Settlement;
  reason: CreditNoteView['reason'];
  memo: string | null;
  lines: { line: number; amount: string }[];
  stripe_credit_note_id: string | null;
  created_at: Date;
}

const COLUMNS = 'id, number, invoice_id, customer_id, currency, amount::text AS amount, settlement, reason, memo, lines, stripe_credit_note_id, created_at';

/** `n` at the currency's minor unit, as text ("12.5" in EUR → "12.50"). */
const atMinor = (n: Dec, currency: string) => n.toFixed(minorUnits(currency));

function view(r: Row): CreditNoteView {
  return {
    id: r.id,
    number: r.number,
    invoice: r.invoice_id,
    customer: r.customer_id,
    currency: r.currency,
    amount: atMinor(new Dec(r.amount), r.currency),
    settlement: r.settlement,
    reason: r.reason,
    memo: r.memo,
    lines: r.lines,
    stripe_credit_note_id: r.stripe_credit_note_id,
    created_at: r.created_at.toISOString(),
  };
}

/** A money amount the caller gave: refused, never rounded, if finer than the currency's minor unit. */
function money(text: string, currency: string, field: string): Dec {
  const d = new Dec(text);
  if (d.decimalPlaces() > minorUnits(currency)) {
    throw new TallyError('TALLY_ERR_INVALID_VALUE', `${field} ${text} has more decimal places than ${currency} has (${minorUnits(currency)}); credit notes are at the minor unit`, { field });
  }
  if (d.isZero()) throw new TallyError('TALLY_ERR_INVALID_VALUE', `${field} must be more than 0`, { field });
  return d;
}

/**
 * Each whole line is credited at the minor unit on its own, but the invoice's total rounds the
 * exact sum of its lines once, so the lines credited one by one may come to a minor unit or so
 * more or less than the invoice holds (5.015 + 7.135 is 12.15, but 5.02 + 7.14 is 12.16). So
 * the credit note that credits the last of an invoice's lines in full takes exactly what is
 * left to credit, the difference going to its last whole line; a difference beyond that
 * rounding (a discount on the invoice, say) is not a rounding difference and changes nothing.
 */
function lastLineTakesTheRest<L extends { line: number; amount: string; whole?: boolean }>(
  lines: L[],
  left: Dec,
  stored: ReadonlyMap<number, Dec>,
  taken: ReadonlyMap<number, Dec>,
  currency: string,
): L[] {
  const last = lines.map((l) => l.whole === true).lastIndexOf(true);
  const amount = sumOf(lines);
  if (last < 0 || amount.equals(left)) return lines;
  const now = new Map<number, Dec>();
  for (const l of lines) now.set(l.line, (now.get(l.line) ?? new Dec(0)).plus(l.amount));
  let positive = 0;
  for (const [line, charged] of stored) {
    if (!charged.isPositive() || charged.isZero()) continue;
    positive++;
    const rest = charged.toDecimalPlaces(minorUnits(currency), Dec.ROUND_HALF_EVEN).minus(taken.get(line) ?? 0).minus(now.get(line) ?? 0);
    if (!rest.isZero()) return lines;
  }
  // Each line's rounding moves it by at most half a minor unit.
  const slack = new Dec(10).pow(-minorUnits(currency)).times(positive).div(2);
  const difference = left.minus(amount);
  const adjusted = new Dec(lines[last]!.amount).plus(difference);
  if (difference.abs().greaterThan(slack) || !adjusted.isPositive() || adjusted.isZero()) return lines;
  return lines.map((l, i) => (i === last ? { ...l, amount: atMinor(adjusted, currency) } : l));
}

const sumOf = (lines: readonly { amount: string }[]): Dec => lines.reduce((s, l) => s.plus(l.amount), new Dec(0));

export class CreditNotes {
  constructor(
    private readonly pg: PostgresStore,
    private readonly hooks: readonly CreditNoteHook[] = [],
  ) {}

  async create(tenantId: string, invoiceId: string, input: CreateCreditNoteInput, actor: string, now: Date): Promise<CreditNoteView | undefined> {
    return this.pg.transaction(async (tx) => {
      const inv = (
        await tx.query<{ status: string; customer_id: string; subscription_id: string; currency: string; total: string; credited: string; number: string | null; paid_out_of_band: unknown; stripe_invoice_id: string | null }>(
          `SELECT status, customer_id, subscription_id, currency, total::text AS total, credited::text AS credited, number, paid_out_of_band, stripe_invoice_id
             FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
          [tenantId, invoiceId],
        )
      ).rows[0];
      if (inv === undefined) return undefined;
      if (inv.status !== 'open' && inv.status !== 'paid') {
        throw new TallyError('TALLY_ERR_INVALID_TRANSITION', `invoice ${invoiceId} is ${inv.status}; credit notes are for open or paid invoices`, { field: 'id' });
      }
      const currency = inv.currency;
      let lines: { line: number; amount: string; whole?: boolean }[] = [];
      let amount: Dec;
      if (input.lines !== undefined) {
        const stored = new Map(
          (await tx.query<{ line_no: number; amount: string }>('SELECT line_no, amount::text AS amount FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2', [tenantId, invoiceId])).rows.map((l) => [l.line_no, new Dec(l.amount)]),
        );
        // What earlier credit notes took of each line: a line is never credited beyond its amount.
        const taken = new Map<number, Dec>();
        for (const r of (await tx.query<{ lines: { line: number; amount: string }[] }>('SELECT lines FROM credit_notes WHERE tenant_id = $1 AND invoice_id = $2', [tenantId, invoiceId])).rows) {
          for (const l of r.lines) taken.set(l.line, (taken.get(l.line) ?? new Dec(0)).plus(l.amount));
        }
        lines = input.lines.map((l, i) => {
          const charged = stored.get(l.line);
          if (charged === undefined || !charged.isPositive() || charged.isZero()) {
            throw new TallyError('TALLY_ERR_INVALID_VALUE', `invoice ${invoiceId} has no charge line ${l.line} to credit`, { field: `lines[${i}].line` });
          }
          // A whole line is its amount at the minor unit, half-even (the rule of invoice totals).
          const whole = charged.toDecimalPlaces(minorUnits(currency), Dec.ROUND_HALF_EVEN).minus(taken.get(l.line) ?? 0);
          if (!whole.isPositive() || whole.isZero()) throw new TallyError('TALLY_ERR_INVALID_VALUE', `line ${l.line} of invoice ${invoiceId} is credited in full already`, { field: `lines[${i}].line` });
          const credit = l.amount === undefined ? whole : money(l.amount, currency, `lines[${i}].amount`);
          if (credit.greaterThan(whole)) throw new TallyError('TALLY_ERR_INVALID_VALUE', `lines[${i}].amount ${l.amount} is more than is left to credit on line ${l.line} (${atMinor(whole, currency)})`, { field: `lines[${i}].amount` });
          return { line: l.line, amount: atMinor(credit, currency), whole: l.amount === undefined };
        });
        lines = lastLineTakesTheRest(lines, new Dec(inv.total).minus(inv.credited), stored, taken, currency);
        amount = sumOf(lines);
      } else {
        amount = money(input.amount!, currency, 'amount');
      }
      const left = new Dec(inv.total).minus(inv.credited);
      if (amount.greaterThan(left)) {
        throw new TallyError('TALLY_ERR_INVALID_VALUE', `the credit note (${atMinor(amount, currency)}) is more than is left to credit on invoice ${invoiceId} (${atMinor(left, currency)})`, {
          field: input.lines === undefined ? 'amount' : 'lines',
        });
      }
      let settlement: Settlement;
      if (inv.status === 'open') {
        if (input.settle !== undefined) throw new TallyError('TALLY_ERR_INVALID_VALUE', 'settle applies to paid invoices; a credit note on an open invoice lowers what is due', { field: 'settle' });
        settlement = 'reduce_due';
      } else {
        if (input.settle === undefined) throw new TallyError('TALLY_ERR_MISSING_FIELD', 'settle is required for a paid invoice: credit_balance, refund or out_of_band', { field: 'settle' });
        // Only money Stripe collected can go back through Stripe.
        if (input.settle === 'refund' && (inv.paid_out_of_band !== null || inv.stripe_invoice_id === null)) {
          throw new TallyError('TALLY_ERR_INVALID_VALUE', `invoice ${invoiceId} was not paid through Stripe: there is nothing to refund there; settle with credit_balance or out_of_band`, { field: 'settle' });
        }
        settlement = input.settle;
      }
      const count = Number((await tx.query<{ n: string }>('SELECT count(*)::text AS n FROM credit_notes WHERE tenant_id = $1 AND invoice_id = $2', [tenantId, invoiceId])).rows[0]!.n);
      const id = newId('cn', now.getTime());
      const { rows } = await tx.query<Row>(
        `INSERT INTO credit_notes (tenant_id, id, invoice_id, customer_id, currency, number, amount, settlement, reason, memo, lines, actor, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
        [tenantId, id, invoiceId, inv.customer_id, currency, `${inv.number ?? invoiceId}-CN${count + 1}`, amount.toFixed(), settlement, input.reason, input.memo ?? null, JSON.stringify(lines.map(({ line, amount }) => ({ line, amount }))), actor, now],
      );
      const settled = settlement === 'reduce_due' && amount.equals(left);
      await tx.query(
        `UPDATE invoices SET credited = credited + $3,
                status = CASE WHEN $4 THEN 'paid' ELSE status END, paid_at = CASE WHEN $4 THEN $5 ELSE paid_at END,
                payment_failed_at = CASE WHEN $4 THEN NULL ELSE payment_failed_at END, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [tenantId, invoiceId, amount.toFixed(), settled, now],
      );
      if (settlement === 'credit_balance') {
        await tx.query(
          `INSERT INTO credit_grants (tenant_id, id, customer_id, currency, amount, source, reason, invoice_id, actor, created_at)
           VALUES ($1, $2, $3, $4, $5, 'credit_note', $6, $7, $8, $9)`,
          [tenantId, `cred_${id}`, inv.customer_id, currency, amount.toFixed(), `credit note ${rows[0]!.number}`, invoiceId, actor, now],
        );
      }
      await tx.query('INSERT INTO invoice_audit (tenant_id, invoice_id, at, actor, action, details) VALUES ($1, $2, $3, $4, $5, $6)', [
        tenantId,
        invoiceId,
        now,
        actor,
        'credit_note',
        JSON.stringify({ credit_note: id, amount: atMinor(amount, currency), settlement, reason: input.reason }),
      ]);
      for (const hook of this.hooks) await hook(tx, { tenantId, id, invoiceId, subscriptionId: inv.subscription_id, settledInvoice: settled, at: now });
      return view(rows[0]!);
    });
  }

  async list(tenantId: string, invoiceId: string): Promise<CreditNoteView[]> {
    const { rows } = await this.pg.query<Row>(`SELECT ${COLUMNS} FROM credit_notes WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY created_at, id`, [tenantId, invoiceId]);
    return rows.map(view);
  }
}

/** A credit note as its outbound event carries it, read in the transaction that wrote it. */
export async function creditNoteView(q: Queryable, tenantId: string, id: string): Promise<CreditNoteView | undefined> {
  const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM credit_notes WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return rows[0] === undefined ? undefined : view(rows[0]);
}
