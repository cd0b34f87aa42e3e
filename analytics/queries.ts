import { seatFee, type SeatPricing } from '../rating/seats.js';
import type { Queryable } from '../core/postgres.js';
import type { Interval } from '../catalog/periods.js';
import type { SubscriptionHistory } from './mrr.js';

interface HistoryRow {
  id: string;
  customer_id: string;
  currency: string;
  start_date: Date;
  trial_end: Date | null;
  canceled_at: Date | null;
  effective_from: Date;
  code: string;
  version: number;
  interval: Interval;
  /** Per seat, or 0 with seat tiers. */
  base_fee: string;
  seat_pricing: SeatPricing | null;
  quantity: number;
}

/**
 * The tenant's subscriptions that have started and are not canceled at one of `instants`, each
 * with the plan history entries in force at those instants (one query, whatever the number of
 * subscriptions). Whether a subscription pays, and how much, is left to the pure core.
 */
export async function loadSubscriptionHistories(q: Queryable, tenantId: string, instants: readonly Date[]): Promise<SubscriptionHistory[]> {
  const { rows } = await q.query<HistoryRow>(
    `SELECT DISTINCT s.id, s.customer_id, c.currency, s.start_date, s.trial_end, s.canceled_at,
            pl.effective_from, pl.code, pl.version, pl.interval, pl.base_fee, pl.seat_pricing, pl.quantity
       FROM subscriptions s
       JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id
      CROSS JOIN unnest($2::timestamptz[]) AS i(at)
       JOIN LATERAL (
             SELECT sp.effective_from, p.code, p.version, p.interval, p.base_fee::text AS base_fee, p.seat_pricing, sp.quantity
               FROM subscription_plans sp
               JOIN plans p ON p.tenant_id = sp.tenant_id AND p.code = sp.plan_code AND p.version = sp.plan_version
              WHERE sp.tenant_id = s.tenant_id AND sp.subscription_id = s.id AND sp.effective_from <= i.at
              ORDER BY sp.effective_from DESC
              LIMIT 1) pl ON true
      WHERE s.tenant_id = $1 AND s.start_date <= i.at AND (s.canceled_at IS NULL OR s.canceled_at > i.at)
      ORDER BY s.id, pl.effective_from`,
    [tenantId, instants],
  );
  const byId = new Map<string, SubscriptionHistory & { plans: SubscriptionHistory['plans'][number][] }>();
  for (const r of rows) {
    let s = byId.get(r.id);
    if (s === undefined) {
      s = { id: r.id, customer: r.customer_id, currency: r.currency, startDate: r.start_date, trialEnd: r.trial_end, canceledAt: r.canceled_at, plans: [] };
      byId.set(r.id, s);
    }
    s.plans.push({ effectiveFrom: r.effective_from, plan: { code: r.code, version: r.version, interval: r.interval, baseFee: seatFee(r.base_fee, r.seat_pricing, r.quantity) } });
  }
  return [...byId.values()];
}

/** Revenue of one plan in one currency over a range: exact, before rounding. */
export interface PlanRevenue {
  plan: string;
  currency: string;
  invoices: number;
  /** Σ (subtotal − discount), an exact decimal string. */
  revenue: string;
}

/**
 * The tenant's invoices whose period ends in (from, to], except void ones, each counted whole
 * for the plan its subscription had at the period's last instant (period_end − 1 ms): their
 * number and the sum of subtotal − discount (charges net of discounts, before credits and
 * tax), per currency and plan code, ordered by currency then plan code (by code unit).
 * Postgres sums numerics exactly; rounding is the caller's.
 */
export async function loadRevenueByPlan(q: Queryable, tenantId: string, from: Date, to: Date): Promise<PlanRevenue[]> {
  const { rows } = await q.query<Omit<PlanRevenue, 'plan'> & { plan: string | null }>(
    `SELECT pl.plan_code AS plan, i.currency, count(*)::int AS invoices, sum(i.subtotal - i.discount)::text AS revenue
       FROM invoices i
       LEFT JOIN LATERAL (
             SELECT sp.plan_code
               FROM subscription_plans sp
              WHERE sp.tenant_id = i.tenant_id AND sp.subscription_id = i.subscription_id
                AND sp.effective_from <= i.period_end - interval '1 millisecond'
              ORDER BY sp.effective_from DESC
              LIMIT 1) pl ON true
      WHERE i.tenant_id = $1 AND i.period_end > $2 AND i.period_end <= $3 AND i.status <> 'void'
      GROUP BY i.currency, pl.plan_code
      ORDER BY i.currency COLLATE "C", pl.plan_code COLLATE "C"`,
    [tenantId, from, to],
  );
  return rows.map((r) => {
    // An invoiced period lies after its subscription's start, where its plan history begins;
    // an invoice without a plan is a broken history, and leaving it out would under-report.
    if (r.plan === null) throw new Error(`tenant ${tenantId} has ${r.invoices} ${r.currency} invoice(s) whose subscription had no plan at the period's end`);
    return { ...r, plan: r.plan };
  });
}
