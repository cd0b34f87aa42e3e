import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { Dec, plain } from '../core/money.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { LINE_TEXT, LINE_TEXT_RULE } from '../core/display-text.js';

/**
 * One-off charges (see the 0026 migration): an amount and a description added to a
 * subscription, billed as a `charge` line on its next closed invoice (and shown on its upcoming
 * one until then), announced (`charge.created`) by a hook the wiring registers. Amounts carry up to 6 decimal places like every invoice line; the invoice
 * total rounds as always (half-even at the currency's minor unit).
 */
export const AddCharge = z.strictObject({
  // At most a trillion: more than any invoice Stripe takes, and far from what the stores hold.
  amount: z.string().regex(/^\d{1,12}(\.\d{1,6})?$/, 'must be a positive decimal string below 10^12 with at most 6 decimal places, such as "250.00"'),
  description: z.string().trim().min(1, 'must not be empty').max(500).regex(LINE_TEXT, LINE_TEXT_RULE),
});

export interface ChargeView {
  id: string;
  subscription: string;
  customer: string;
  currency: string;
  amount: string;
  description: string;
  /** The invoice that billed it; null while it waits for the next one. */
  invoice: string | null;
  created_at: string;
}

interface Row {
  id: string;
  subscription_id: string;
  customer_id: string;
  currency: string;
  amount: string;
  description: string;
  invoice_id: string | null;
  created_at: Date;
}

const view = (r: Row): ChargeView => ({
  id: r.id,
  subscription: r.subscription_id,
  customer: r.customer_id,
  currency: r.currency,
  amount: plain(r.amount),
  description: r.description,
  invoice: r.invoice_id,
  created_at: r.created_at.toISOString(),
});

const COLUMNS = 'id, subscription_id, customer_id, currency, amount::text AS amount, description, invoice_id, created_at';

/** A side effect of adding a charge (its outbound event), run inside the transaction that adds it. */
export type ChargeHook = (tx: Queryable, charge: ChargeView, tenantId: string) => Promise<void>;

export class OneOffCharges {
  constructor(
    private readonly pg: PostgresStore,
    private readonly onAdded: ChargeHook = () => Promise.resolve(),
  ) {}

  /** Undefined when there is no such subscription. */
  async add(tenantId: string, subscriptionId: string, input: z.output<typeof AddCharge>, actor: string, now: Date): Promise<ChargeView | undefined> {
    if (new Dec(input.amount).isZero()) throw new TallyError('TALLY_ERR_INVALID_VALUE', 'amount must be more than 0', { field: 'amount' });
    return this.pg.transaction(async (tx) => {
      // Under the subscription's lock (FOR UPDATE: invoicing it now takes that lock next): a
      // cancel, a plan change or a close waits for this one, or this one sees what they did.
      const sub = (
        await tx.query<{ customer_id: string; currency: string; canceled_at: Date | null }>(
          'SELECT s.customer_id, c.currency, s.canceled_at FROM subscriptions s JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id WHERE s.tenant_id = $1 AND s.id = $2 FOR UPDATE OF s',
          [tenantId, subscriptionId],
        )
      ).rows[0];
      if (sub === undefined) return undefined;
      // Canceled by now, or its last period already invoiced (a cancel and its close committed
      // while this waited for the lock): there is no next invoice to carry the charge.
      const finalInvoiced =
        sub.canceled_at !== null &&
        (
          await tx.query("SELECT 1 FROM invoices WHERE tenant_id = $1 AND subscription_id = $2 AND kind = 'period' AND period_end >= $3 LIMIT 1", [
            tenantId,
            subscriptionId,
            sub.canceled_at,
          ])
        ).rows.length > 0;
      if ((sub.canceled_at !== null && sub.canceled_at.getTime() <= now.getTime()) || finalInvoiced) {
        throw new TallyError('TALLY_ERR_INVALID_TRANSITION', `subscription ${subscriptionId} is canceled: it has no next invoice to add a charge to`, { field: 'id' });
      }
      // A plan billed through Stripe Billing Meters is invoiced by Stripe: Tally's invoices of it
      // are kept for reference and collect nothing, so a charge on them would never be paid.
      const mode = (
        await tx.query<{ billing_mode: string }>(
          `SELECT p.billing_mode FROM subscription_plans sp JOIN plans p ON p.tenant_id = sp.tenant_id AND p.code = sp.plan_code AND p.version = sp.plan_version
            WHERE sp.tenant_id = $1 AND sp.subscription_id = $2 AND sp.effective_from <= $3 ORDER BY sp.effective_from DESC LIMIT 1`,
          [tenantId, subscriptionId, now],
        )
      ).rows[0]?.billing_mode;
      if (mode === 'meter') {
        throw new TallyError('TALLY_ERR_INVALID_TRANSITION', `subscription ${subscriptionId} is on a plan Stripe invoices (billing_mode meter): add the charge in Stripe`, { field: 'id' });
      }
      const { rows } = await tx.query<Row>(
        `INSERT INTO one_off_charges (tenant_id, id, subscription_id, customer_id, currency, amount, description, actor, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
        [tenantId, newId('chg', now.getTime()), subscriptionId, sub.customer_id, sub.currency, input.amount, input.description, actor, now],
      );
      const charge = view(rows[0]!);
      await this.onAdded(tx, charge, tenantId);
      return charge;
    });
  }

  /** Undefined when there is no such subscription (as every other sub-resource answers: 404). */
  async list(tenantId: string, subscriptionId: string): Promise<ChargeView[] | undefined> {
    const found = await this.pg.query('SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND id = $2', [tenantId, subscriptionId]);
    if (found.rows.length === 0) return undefined;
    const { rows } = await this.pg.query<Row>(`SELECT ${COLUMNS} FROM one_off_charges WHERE tenant_id = $1 AND subscription_id = $2 ORDER BY created_at, id`, [tenantId, subscriptionId]);
    return rows.map(view);
  }
}
