import { Dec } from '../core/money.js';
import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { minorUnits } from '../core/currency.js';
import { newId } from '../core/ids.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { LINES_TEXT, LINES_TEXT_RULE } from '../core/display-text.js';

/**
 * Customer credits (see the 0010 and 0014 migrations): grants and the entries that use them,
 * never changed in place. Purchased credits never expire. Period close uses them (oldest
 * first) to bring an invoice's total down, never below zero; an invoice whose charges come to
 * less than zero adds its difference as a new grant. A plan's credit allowance is a grant per
 * subscription and period, used by that period's invoice after the purchased credits; what
 * the invoice leaves of it expires (an `expire` entry). A grant's remaining balance is its
 * amount plus its entries; the customer's balance is the sum of those, in the customer's
 * currency.
 */
export const GrantCredit = z.strictObject({
  amount: z.string().regex(/^\d{1,20}(\.\d{1,6})?$/, 'must be a positive decimal string such as "25.00"'),
  reason: z.string().trim().min(1).max(500).regex(LINES_TEXT, LINES_TEXT_RULE).optional(),
});

export interface GrantView {
  id: string;
  customer: string;
  currency: string;
  amount: string;
  remaining: string;
  source: Source;
  reason: string | null;
  invoice: string | null;
  /** For an allowance: the subscription, the period it is for, and when it expires. */
  subscription: string | null;
  period_start: string | null;
  expires_at: string | null;
  created_at: string;
}

type Source = 'purchase' | 'invoice_credit' | 'allowance' | 'credit_note';

export interface LedgerEntry {
  at: string;
  kind: 'grant' | 'consume' | 'expire' | 'release';
  grant: string;
  amount: string;
  invoice: string | null;
  /** The customer's balance after this entry. */
  balance: string;
}

/** A grant with a balance, for close and upcoming, in the order they are used (oldest first). */
export interface Available {
  grantId: string;
  /** tenant and customer id, joined by a newline. */
  customer: string;
  remaining: string;
  /** For an allowance: the subscription and period start (ms) it is for. */
  allowance: { subscription: string; periodStart: number } | null;
}

interface GrantRow {
  id: string;
  customer_id: string;
  currency: string;
  amount: string;
  remaining: string;
  source: Source;
  reason: string | null;
  invoice_id: string | null;
  subscription_id: string | null;
  period_start: Date | null;
  expires_at: Date | null;
  created_at: Date;
}

const GRANTS = `SELECT g.id, g.customer_id, g.currency, g.amount::text AS amount, (g.amount + COALESCE(sum(e.amount), 0))::text AS remaining,
                       g.source, g.reason, g.invoice_id, g.subscription_id, g.period_start, g.expires_at, g.created_at
                  FROM credit_grants g LEFT JOIN credit_entries e ON e.tenant_id = g.tenant_id AND e.grant_id = g.id`;

const trim = (s: string) => new Dec(s).toFixed();

export class CreditService {
  constructor(private readonly pg: PostgresStore) {}

  async grant(tenantId: string, customerId: string, input: z.output<typeof GrantCredit>, actor: string): Promise<GrantView> {
    const { rows } = await this.pg.query<{ currency: string }>('SELECT currency FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [tenantId, customerId]);
    const customer = rows[0];
    if (customer === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no customer ${JSON.stringify(customerId)}`, { field: 'id' });
    const amount = new Dec(input.amount);
    const places = minorUnits(customer.currency);
    if (amount.lte(0)) throw new TallyError('TALLY_ERR_INVALID_VALUE', 'amount must be above zero', { field: 'amount' });
    if (amount.decimalPlaces() > places) throw new TallyError('TALLY_ERR_INVALID_VALUE', `${customer.currency} has ${places} decimal places; amount has more`, { field: 'amount' });
    const id = newId('cred');
    await this.pg.query(
      "INSERT INTO credit_grants (tenant_id, id, customer_id, currency, amount, source, reason, actor) VALUES ($1, $2, $3, $4, $5, 'purchase', $6, $7)",
      [tenantId, id, customerId, customer.currency, amount.toFixed(), input.reason ?? null, actor],
    );
    return (await this.grants(tenantId, customerId)).find((g) => g.id === id)!;
  }

  /** Every grant of the customer with its remaining balance, oldest first; undefined for an unknown (or deleted) customer. */
  async balance(tenantId: string, customerId: string): Promise<{ customer: string; currency: string; balance: string; grants: GrantView[] } | undefined> {
    const { rows } = await this.pg.query<{ currency: string }>('SELECT currency FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [tenantId, customerId]);
    if (rows[0] === undefined) return undefined;
    const grants = await this.grants(tenantId, customerId);
    const balance = grants.reduce((s, g) => s.plus(g.remaining), new Dec(0));
    return { customer: customerId, currency: rows[0].currency, balance: balance.toFixed(minorUnits(rows[0].currency)), grants };
  }

  /** The audit trail: every grant and use, oldest first, with the balance after each. */
  async ledger(tenantId: string, customerId: string): Promise<LedgerEntry[] | undefined> {
    const { rows: c } = await this.pg.query<{ currency: string }>('SELECT currency FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [tenantId, customerId]);
    if (c[0] === undefined) return undefined;
    const { rows } = await this.pg.query<{ at: Date; kind: LedgerEntry['kind']; grant: string; amount: string; invoice: string | null }>(
      `SELECT created_at AS at, 'grant' AS kind, id AS grant, amount::text AS amount, invoice_id AS invoice, 0 AS seq FROM credit_grants WHERE tenant_id = $1 AND customer_id = $2
       UNION ALL
       SELECT at, kind, grant_id, amount::text, invoice_id, seq FROM credit_entries WHERE tenant_id = $1 AND customer_id = $2
       ORDER BY at, seq`,
      [tenantId, customerId],
    );
    let balance = new Dec(0);
    const places = minorUnits(c[0].currency);
    return rows.map((r) => {
      balance = balance.plus(r.amount);
      return { at: r.at.toISOString(), kind: r.kind, grant: r.grant, amount: new Dec(r.amount).toFixed(places), invoice: r.invoice, balance: balance.toFixed(places) };
    });
  }

  private async grants(tenantId: string, customerId: string): Promise<GrantView[]> {
    const { rows } = await this.pg.query<GrantRow>(`${GRANTS} WHERE g.tenant_id = $1 AND g.customer_id = $2 GROUP BY g.tenant_id, g.id ORDER BY g.created_at, g.id`, [tenantId, customerId]);
    return rows.map((r) => ({
      id: r.id,
      customer: r.customer_id,
      currency: r.currency,
      amount: new Dec(r.amount).toFixed(minorUnits(r.currency)),
      remaining: new Dec(r.remaining).toFixed(minorUnits(r.currency)),
      source: r.source,
      reason: r.reason,
      invoice: r.invoice_id,
      subscription: r.subscription_id,
      period_start: r.period_start?.toISOString() ?? null,
      expires_at: r.expires_at?.toISOString() ?? null,
      created_at: r.created_at.toISOString(),
    }));
  }
}

/** The grants with a balance of these customers, oldest first (the order close uses them in). */
export async function availableCredits(q: Queryable, tenantIds: readonly string[], customerIds: readonly string[]): Promise<Available[]> {
  if (customerIds.length === 0) return [];
  const { rows } = await q.query<{ tenant_id: string; id: string; customer_id: string; remaining: string; subscription_id: string | null; period_start: Date | null }>(
    `SELECT g.tenant_id, g.id, g.customer_id, (g.amount + COALESCE(sum(e.amount), 0))::text AS remaining, g.subscription_id, g.period_start
       FROM credit_grants g LEFT JOIN credit_entries e ON e.tenant_id = g.tenant_id AND e.grant_id = g.id
      WHERE g.tenant_id = ANY($1) AND g.customer_id = ANY($2)
      GROUP BY g.tenant_id, g.id HAVING g.amount + COALESCE(sum(e.amount), 0) > 0
      ORDER BY g.created_at, g.id`,
    [[...new Set(tenantIds)], [...new Set(customerIds)]],
  );
  return rows.map((r) => ({
    grantId: r.id,
    customer: `${r.tenant_id}\n${r.customer_id}`,
    remaining: trim(r.remaining),
    allowance: r.subscription_id === null ? null : { subscription: r.subscription_id, periodStart: r.period_start!.getTime() },
  }));
}

/**
 * The credit an invoice used follows its status. Voided, it was never owed: each purchased or
 * carried grant it consumed gets a `release` entry of what the invoice took from it. (A period's
 * allowance is not given back: it pays for that period only and expired when the invoice was
 * written.) Paid after all once void (Stripe collected it before the void reached it), it takes
 * that back, as far as each grant still has it. Both work from what the ledger holds for the
 * invoice, so running one again changes nothing. Run in the transaction that changes the status.
 */
export async function invoiceCreditFollows(q: Queryable, tenantId: string, invoiceId: string, change: { from: string; to: string }): Promise<void> {
  if (change.to !== 'void' && !(change.from === 'void' && change.to === 'paid')) return;
  // The grants the invoice used, locked (in close's order) before what they have left is read:
  // two changes at once, or a close, must not both count on the same credit.
  await q.query(
    `SELECT 1 FROM credit_grants WHERE tenant_id = $1 AND id IN (SELECT grant_id FROM credit_entries WHERE tenant_id = $1 AND invoice_id = $2)
      ORDER BY tenant_id, id FOR UPDATE`,
    [tenantId, invoiceId],
  );
  if (change.to === 'void') {
    await q.query(
      `INSERT INTO credit_entries (tenant_id, grant_id, customer_id, kind, amount, invoice_id)
       SELECT e.tenant_id, e.grant_id, e.customer_id, 'release', -sum(e.amount), e.invoice_id
         FROM credit_entries e JOIN credit_grants g ON g.tenant_id = e.tenant_id AND g.id = e.grant_id
        WHERE e.tenant_id = $1 AND e.invoice_id = $2 AND e.kind IN ('consume', 'release') AND g.source <> 'allowance'
        GROUP BY e.tenant_id, e.grant_id, e.customer_id, e.invoice_id
       HAVING sum(e.amount) < 0
        ORDER BY e.grant_id`,
      [tenantId, invoiceId],
    );
  } else {
    // Per grant, what the invoice still holds (consumes and releases) should come to what it
    // released: the consume that brings it there, no more than the grant has left.
    await q.query(
      `INSERT INTO credit_entries (tenant_id, grant_id, customer_id, kind, amount, invoice_id)
       SELECT x.tenant_id, x.grant_id, x.customer_id, 'consume', -LEAST(-x.owed, x.remaining), x.invoice_id
         FROM (SELECT e.tenant_id, e.grant_id, e.customer_id, e.invoice_id,
                      -sum(e.amount) FILTER (WHERE e.kind = 'release') - sum(e.amount) AS owed,
                      (SELECT g.amount + COALESCE(sum(a.amount), 0) FROM credit_grants g LEFT JOIN credit_entries a ON a.tenant_id = g.tenant_id AND a.grant_id = g.id
                        WHERE g.tenant_id = e.tenant_id AND g.id = e.grant_id GROUP BY g.amount) AS remaining
                 FROM credit_entries e
                WHERE e.tenant_id = $1 AND e.invoice_id = $2 AND e.kind IN ('consume', 'release')
                GROUP BY e.tenant_id, e.grant_id, e.customer_id, e.invoice_id
               HAVING bool_or(e.kind = 'release')) x
        WHERE x.owed < 0 AND x.remaining > 0
        ORDER BY x.grant_id`,
      [tenantId, invoiceId],
    );
  }
}

/** A period's credit allowance to grant: the plan's amount for one subscription and period. */
export interface AllowanceDue {
  tenantId: string;
  subscriptionId: string;
  customer: string;
  currency: string;
  period: { start: Date; end: Date };
  amount: string;
}

/**
 * Grants each period's allowance once (the unique index on subscription and period makes a
 * second run, or a concurrent one, a no-op), expiring at the period's end.
 */
export async function allocateAllowances(q: Queryable, due: readonly AllowanceDue[]): Promise<void> {
  const give = due.filter((a) => new Dec(a.amount).gt(0));
  if (give.length === 0) return;
  await q.query(
    `INSERT INTO credit_grants (tenant_id, id, customer_id, currency, amount, source, reason, actor, subscription_id, period_start, expires_at)
     SELECT t, i, cu, cur, a, 'allowance', 'credit allowance of ' || s || ' for the period from ' || to_char(ps AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'close', s, ps, pe
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[], $7::timestamptz[], $8::timestamptz[]) AS x(t, i, cu, cur, a, s, ps, pe)
     ON CONFLICT DO NOTHING`,
    [
      give.map((a) => a.tenantId),
      give.map(() => newId('cred')),
      give.map((a) => a.customer),
      give.map((a) => a.currency),
      give.map((a) => a.amount),
      give.map((a) => a.subscriptionId),
      give.map((a) => a.period.start),
      give.map((a) => a.period.end),
    ],
  );
}
