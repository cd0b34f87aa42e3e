import type { Queryable } from '../core/postgres.js';

/**
 * Reading billed_usage: what each invoiced period of a subscription billed per meter (written
 * with the invoices, invoice-writes.ts), for late usage (late-usage.ts) and close's check that
 * it did not change in between.
 */
export interface BilledUsage {
  tenantId: string;
  subscriptionId: string;
  periodStart: Date;
  periodEnd: Date;
  meter: string;
  quantity: string;
  amount: string;
  updatedAt: Date;
}

/**
 * A fingerprint of each subscription's billed rows (how many, and the last change), for the
 * subscriptions of these tenants with these ids: a writer compares it with the one it read.
 * Rows of other (tenant, id) combinations may be returned; callers keep the pairs they asked for.
 */
export async function billedMarks(q: Queryable, tenantIds: readonly string[], subscriptionIds: readonly string[]): Promise<{ tenantId: string; subscriptionId: string; mark: string }[]> {
  // `= ANY` on each key column lets Postgres use the indexes (a row-value IN over unnest scans the table).
  const { rows } = await q.query<{ tenant_id: string; subscription_id: string; mark: string }>(
    `SELECT tenant_id, subscription_id, count(*) || '/' || coalesce(max(updated_at)::text, '') AS mark FROM billed_usage
      WHERE tenant_id = ANY($1) AND subscription_id = ANY($2) GROUP BY tenant_id, subscription_id`,
    [[...new Set(tenantIds)], subscriptionIds],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, subscriptionId: r.subscription_id, mark: r.mark }));
}

/** The billed rows of these subscriptions' invoiced periods, with each period's end (same pairing caveat as billedMarks). */
export async function billedUsage(q: Queryable, tenantIds: readonly string[], subscriptionIds: readonly string[]): Promise<BilledUsage[]> {
  const { rows } = await q.query<{ tenant_id: string; subscription_id: string; period_start: Date; period_end: Date; meter: string; quantity: string; amount: string; updated_at: Date }>(
    `SELECT b.tenant_id, b.subscription_id, b.period_start, i.period_end, b.meter, b.quantity::text AS quantity, b.amount::text AS amount, b.updated_at
       FROM billed_usage b JOIN invoices i ON i.tenant_id = b.tenant_id AND i.subscription_id = b.subscription_id AND i.period_start = b.period_start AND i.kind = 'period'
      WHERE b.tenant_id = ANY($1) AND b.subscription_id = ANY($2)`,
    [[...new Set(tenantIds)], subscriptionIds],
  );
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    subscriptionId: r.subscription_id,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    meter: r.meter,
    quantity: r.quantity,
    amount: r.amount,
    updatedAt: r.updated_at,
  }));
}

/** What each invoiced period's commitment was held against (billed_commitments), keyed by subscription id and period start (ms). */
export async function billedCommitments(q: Queryable, tenantIds: readonly string[], subscriptionIds: readonly string[]): Promise<Map<string, { minimumSpend: string; charges: string }>> {
  const { rows } = await q.query<{ tenant_id: string; subscription_id: string; period_start: Date; minimum_spend: string; charges: string }>(
    `SELECT tenant_id, subscription_id, period_start, minimum_spend::text AS minimum_spend, charges::text AS charges FROM billed_commitments
      WHERE tenant_id = ANY($1) AND subscription_id = ANY($2)`,
    [[...new Set(tenantIds)], subscriptionIds],
  );
  const wanted = new Set(tenantIds.map((t, i) => `${t}\n${subscriptionIds[i]}`));
  return new Map(
    rows.filter((r) => wanted.has(`${r.tenant_id}\n${r.subscription_id}`)).map((r) => [`${r.subscription_id}\n${r.period_start.getTime()}`, { minimumSpend: r.minimum_spend, charges: r.charges }]),
  );
}
