import { Dec } from '../core/money.js';
import type { Queryable } from '../core/postgres.js';
import { availableCredits, type Available } from '../catalog/credits.js';
import type { AssembledInvoice } from './assemble.js';
import { lineDetail } from './compose.js';
import { billedMarks } from './billed-usage.js';
import { takeNumbers, type Issuer } from './billing-profile.js';

/**
 * Writing the invoices a close assembled (close.ts), inside its transaction: which of them may
 * still be written once the batch is locked, then the invoices, their lines, the credit they
 * use, carry or let expire, and what was billed for each meter.
 */
export interface Closing extends AssembledInvoice {
  id: string;
  /** A period's invoice (the default), or charges invoiced at once on an invoice of their own. */
  kind?: 'period' | 'one_off';
}

/**
 * Locks the batch's subscriptions and its customers' credit grants, and keeps the invoices
 * still to write: not those whose period got an invoice meanwhile (another close), whose billed
 * usage changed since it was read, or whose customer's credits were used meanwhile (`credits`:
 * as the assembly read them); those wait for the next run.
 */
export async function stillToWrite(tx: Queryable, closing: readonly Closing[], credits: readonly Available[]): Promise<Closing[]> {
  const tenants = closing.map((c) => c.sub.tenantId);
  const ids = closing.map((c) => c.sub.id);
  // `= ANY` on each key column lets Postgres use the indexes (a row-value IN over unnest
  // scans the table); rows of other (tenant, id) combinations are filtered out below.
  await tx.query('SELECT 1 FROM subscriptions WHERE tenant_id = ANY($1) AND id = ANY($2) ORDER BY tenant_id, id FOR UPDATE', [[...new Set(tenants)], ids]);
  const existing = await tx.query<{ tenant_id: string; subscription_id: string; period_start: Date }>(
    "SELECT tenant_id, subscription_id, period_start FROM invoices WHERE tenant_id = ANY($1) AND subscription_id = ANY($2) AND period_start = ANY($3) AND kind = 'period'",
    [[...new Set(tenants)], ids, closing.map((c) => c.period.start)],
  );
  const billed = await billedMarks(tx, tenants, ids);
  // Credits used meanwhile by another close: those customers' invoices wait for the next run.
  // In one order, as the subscriptions above: two closes sharing a customer never deadlock.
  await tx.query('SELECT 1 FROM credit_grants WHERE tenant_id = ANY($1) AND customer_id = ANY($2) ORDER BY tenant_id, id FOR UPDATE', [[...new Set(tenants)], closing.map((c) => c.sub.customer)]);
  const now = new Map((await availableCredits(tx, tenants, closing.map((c) => c.sub.customer))).map((a) => [a.grantId, a.remaining]));
  const stale = new Set(credits.filter((a) => now.get(a.grantId) !== a.remaining).map((a) => a.customer));
  const periodOf = new Map(closing.map((c) => [`${c.sub.tenantId}\n${c.sub.id}`, c.period.start.getTime()]));
  const skip = new Set(existing.rows.filter((r) => periodOf.get(`${r.tenant_id}\n${r.subscription_id}`) === r.period_start.getTime()).map((r) => `${r.tenant_id}\n${r.subscription_id}`));
  const marks = new Map(billed.map((r) => [`${r.tenantId}\n${r.subscriptionId}`, r.mark]));
  // One-off charges billed meanwhile (invoiced at once): those invoices wait for the next run,
  // which assembles them without the charge. The lock keeps the rest for this batch.
  const wanted = closing.flatMap((c) => c.charges.map((id) => ({ t: c.sub.tenantId, id })));
  const pending = new Set(
    (
      await tx.query<{ tenant_id: string; id: string }>(
        'SELECT tenant_id, id FROM one_off_charges WHERE tenant_id = ANY($1) AND id = ANY($2) AND invoice_id IS NULL ORDER BY tenant_id, id FOR UPDATE',
        [[...new Set(wanted.map((w) => w.t))], wanted.map((w) => w.id)],
      )
    ).rows.map((r) => `${r.tenant_id}\n${r.id}`),
  );
  return closing.filter((c) => {
    const key = `${c.sub.tenantId}\n${c.sub.id}`;
    const chargesStill = c.charges.every((id) => pending.has(`${c.sub.tenantId}\n${id}`));
    return !skip.has(key) && (marks.get(key) ?? '') === c.late.mark && !stale.has(`${c.sub.tenantId}\n${c.sub.customer}`) && chargesStill;
  });
}

/**
 * The invoice number and issuer of each invoice: each tenant's next numbers, taken in tenant
 * order (two closes lock their tenants' counters in the same order, so neither waits on the
 * other in a cycle), in order of period and customer within a tenant.
 */
async function numbered(tx: Queryable, go: readonly Closing[]): Promise<Map<string, { number: string; issuer: Issuer }>> {
  const out = new Map<string, { number: string; issuer: Issuer }>();
  const byTenant = new Map<string, Closing[]>();
  for (const c of go) byTenant.set(c.sub.tenantId, [...(byTenant.get(c.sub.tenantId) ?? []), c]);
  for (const tenant of [...byTenant.keys()].sort()) {
    const invoices = byTenant.get(tenant)!.sort((a, b) => a.period.start.getTime() - b.period.start.getTime() || a.sub.customer.localeCompare(b.sub.customer) || a.id.localeCompare(b.id));
    const { numbers, issuer } = await takeNumbers(tx, tenant, invoices.length);
    invoices.forEach((c, i) => out.set(c.id, { number: numbers[i]!, issuer }));
  }
  return out;
}

/** Whether an invoice is written as a draft for review: under review, when there is something to pay. */
export const isDraft = (c: Closing, review: boolean): boolean => review && !new Dec(c.composed.total).isZero();

/**
 * Writes the invoices with their lines, credit entries and grants, and billed usage. Under
 * review, an invoice with something to pay is a draft: its number is taken when it is approved.
 */
export async function writeInvoices(tx: Queryable, go: readonly Closing[], asOf: Date, review = false): Promise<void> {
  if (go.length === 0) return;
  const numbers = await numbered(tx, go.filter((c) => !isDraft(c, review)));
  await tx.query(
    // The customer's collection terms go with the invoice as they were read with its tax facts
    // (a change of the customer meanwhile makes neither half of an invoice; a later one does not
    // change what was issued); an invoice with nothing due is paid as it is written.
    `INSERT INTO invoices (tenant_id, id, subscription_id, customer_id, currency, period_start, period_end, status, subtotal, discount, tax, total, credit, number, issuer,
                           kind, collection_method, days_until_due, purchase_order, closed_as_of, paid_at)
     SELECT x.*, $16::timestamptz, CASE WHEN x.status = 'paid' THEN $16::timestamptz END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[], $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[],
                   $14::text[], $15::jsonb[], $17::text[], $18::text[], $19::int[], $20::text[])
            AS x(tenant_id, id, subscription_id, customer_id, currency, period_start, period_end, status, subtotal, discount, tax, total, credit, number, issuer, kind,
                 collection_method, days_until_due, purchase_order)`,
    [
      go.map((c) => c.sub.tenantId),
      go.map((c) => c.id),
      go.map((c) => c.sub.id),
      go.map((c) => c.sub.customer),
      go.map((c) => c.sub.currency),
      go.map((c) => c.period.start),
      go.map((c) => c.period.end),
      go.map((c) => (new Dec(c.composed.total).isZero() ? 'paid' : isDraft(c, review) ? 'draft' : 'open')),
      go.map((c) => c.composed.subtotal),
      go.map((c) => c.composed.discount),
      go.map((c) => c.composed.tax),
      go.map((c) => c.composed.total),
      go.map((c) => c.composed.credit),
      go.map((c) => numbers.get(c.id)?.number ?? null),
      go.map((c) => (numbers.has(c.id) ? JSON.stringify(numbers.get(c.id)!.issuer) : null)),
      asOf,
      go.map((c) => c.kind ?? 'period'),
      go.map((c) => c.sub.collection.method),
      go.map((c) => c.sub.collection.daysUntilDue),
      go.map((c) => c.sub.collection.purchaseOrder),
    ],
  );
  // The one-off charges these invoices bill, billed once: by the invoice written here.
  const charged = go.flatMap((c) => c.charges.map((id) => ({ c, id })));
  await tx.query(
    'UPDATE one_off_charges o SET invoice_id = x.i FROM unnest($1::text[], $2::text[], $3::text[]) AS x(t, id, i) WHERE o.tenant_id = x.t AND o.id = x.id AND o.invoice_id IS NULL',
    [charged.map((x) => x.c.sub.tenantId), charged.map((x) => x.id), charged.map((x) => x.c.id)],
  );
  const uses = go.flatMap((c) => [
    ...(c.composed.consumed ?? []).map((u) => ({ c, kind: 'consume', ...u })),
    ...(c.expire === null ? [] : [{ c, kind: 'expire', ...c.expire }]),
  ]);
  await tx.query(
    `INSERT INTO credit_entries (tenant_id, grant_id, customer_id, kind, amount, invoice_id)
     SELECT t, g, cu, k, -a, i FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[]) AS x(t, g, cu, k, a, i)`,
    [uses.map((x) => x.c.sub.tenantId), uses.map((x) => x.grantId), uses.map((x) => x.c.sub.customer), uses.map((x) => x.kind), uses.map((x) => x.amount), uses.map((x) => x.c.id)],
  );
  const carried = go.filter((c) => c.composed.carried != null);
  await tx.query(
    `INSERT INTO credit_grants (tenant_id, id, customer_id, currency, amount, source, reason, invoice_id, actor)
     SELECT t, 'cred_' || i, cu, cur, a, 'invoice_credit', 'charges below zero on invoice ' || i, i, 'close' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[]) AS x(t, i, cu, cur, a)`,
    [carried.map((c) => c.sub.tenantId), carried.map((c) => c.id), carried.map((c) => c.sub.customer), carried.map((c) => c.sub.currency), carried.map((c) => c.composed.carried!)],
  );
  const lines = go.flatMap((c) => c.composed.lines.map((l, i) => ({ c, l, n: i + 1 })));
  await tx.query(
    `INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, type, meter, quantity, amount, description, plan_code, plan_version, line_start, line_end, adjusts_period_start, detail)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::text[], $9::text[], $10::int[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::jsonb[])`,
    [
      lines.map((x) => x.c.sub.tenantId),
      lines.map((x) => x.c.id),
      lines.map((x) => x.n),
      lines.map((x) => x.l.type),
      lines.map((x) => x.l.meter),
      lines.map((x) => x.l.quantity),
      lines.map((x) => x.l.amount),
      lines.map((x) => x.l.description),
      lines.map((x) => x.l.plan?.code ?? null),
      lines.map((x) => x.l.plan?.version ?? null),
      lines.map((x) => x.l.period?.start ?? null),
      lines.map((x) => x.l.period?.end ?? null),
      lines.map((x) => x.l.adjusts_period_start ?? null),
      lines.map((x) => lineDetail(x.l)),
    ],
  );
  const billedRows = go.flatMap((c) => [
    ...[...c.totals].map(([meter, t]) => ({ c, periodStart: c.period.start, meter, quantity: t.quantity, amount: t.billed })),
    ...c.late.updates.map((u) => ({ c, periodStart: u.periodStart, meter: u.meter, quantity: u.quantity, amount: u.amount })),
  ]);
  await tx.query(
    `INSERT INTO billed_usage (tenant_id, subscription_id, period_start, meter, quantity, amount)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::numeric[], $6::numeric[])
     ON CONFLICT (tenant_id, subscription_id, period_start, meter) DO UPDATE SET quantity = EXCLUDED.quantity, amount = EXCLUDED.amount, updated_at = now()`,
    [
      billedRows.map((b) => b.c.sub.tenantId),
      billedRows.map((b) => b.c.sub.id),
      billedRows.map((b) => b.periodStart),
      billedRows.map((b) => b.meter),
      billedRows.map((b) => b.quantity),
      billedRows.map((b) => b.amount),
    ],
  );
  // What each period's minimum spend was held against; then the changed charges of earlier ones.
  const held = go.filter((c) => (c.kind ?? 'period') === 'period' && c.composed.commitment !== undefined);
  await tx.query(
    `INSERT INTO billed_commitments (tenant_id, subscription_id, period_start, minimum_spend, charges)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::numeric[], $5::numeric[])
     ON CONFLICT (tenant_id, subscription_id, period_start) DO UPDATE SET minimum_spend = EXCLUDED.minimum_spend, charges = EXCLUDED.charges, updated_at = now()`,
    [held.map((c) => c.sub.tenantId), held.map((c) => c.sub.id), held.map((c) => c.period.start), held.map((c) => c.composed.commitment!.minimumSpend), held.map((c) => c.composed.commitment!.charges)],
  );
  const changed = go.flatMap((c) => c.late.commitments.map((u) => ({ c, ...u })));
  await tx.query(
    `UPDATE billed_commitments b SET charges = x.ch, updated_at = now() FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::numeric[]) AS x(t, s, p, ch)
      WHERE b.tenant_id = x.t AND b.subscription_id = x.s AND b.period_start = x.p`,
    [changed.map((u) => u.c.sub.tenantId), changed.map((u) => u.c.sub.id), changed.map((u) => u.periodStart), changed.map((u) => u.charges)],
  );
}

/**
 * Measures the tables a close writes again: they grow fast during a large close, Postgres plans
 * with the sizes it last measured, and an embedded Postgres has no autovacuum to measure them.
 */
export async function analyzeInvoiceTables(q: Queryable): Promise<void> {
  await q.query('ANALYZE invoices, invoice_lines, billed_usage, stripe_outbox');
}
