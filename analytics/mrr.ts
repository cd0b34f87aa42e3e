import { Dec } from '../core/money.js';
import { minorUnits } from '../core/currency.js';
import type { Interval } from '../catalog/periods.js';

/**
 * Recurring revenue, as a pure core: given subscription facts, what each customer pays per
 * month at an instant, summed per currency, and how it moved between two instants. No IO, no
 * clock: callers pass the instants (the README's "Revenue analytics" has the definitions in full).
 *
 * - A subscription is **paying** at D when start_date <= D, it is not canceled at or before D
 *   (canceled_at is null or after D) and it is not in a trial at D (trial_end is null or
 *   <= D). Its plan at D is the plan history entry with the latest effective_from <= D.
 * - Its **MRR** at D is that plan's base fee per month (a `month` plan's fee as it is, a
 *   `year` plan's ÷ 12); usage charges are not recurring and are left out. A customer's MRR
 *   is the sum over its paying subscriptions, in its currency; currencies are never added.
 * - **Movements** over [from, to) compare each customer's MRR at `from` with its MRR at `to`:
 *   new (0 → > 0: the ending MRR), churned (> 0 → 0: the starting MRR), expansion and
 *   contraction (> 0 at both: the increase, or the decrease as a positive amount). So
 *   starting + new + expansion − contraction − churned = ending, exactly.
 *
 * Exactness: amounts are kept as annual run rates (a monthly fee × 12, a yearly fee as it is),
 * which are exact decimals, and summed exactly; the one division (MRR = ARR ÷ 12, ARPU =
 * ARR ÷ 12 ÷ customers) happens when a figure is rounded for the response, half-even to the
 * currency's minor unit. Each figure is rounded on its own.
 */

// The rater's decimal (100 significant digits, half-even): a base fee is numeric(38, 12), so
// sums of fees × 12 stay far below 100 digits and are exact, and a quotient rounded to 100
// digits is close enough to a tie at a currency's minor unit (or 4 decimals) that it can never
// round the other way.
export { Dec };

const ZERO = new Dec(0);
const TWELVE = new Dec(12);

export interface PlanTerms {
  code: string;
  version: number;
  interval: Interval;
  /** A plain decimal string. */
  baseFee: string;
}

export interface PlanInForce {
  effectiveFrom: Date;
  plan: PlanTerms;
}

export interface SubscriptionHistory {
  id: string;
  customer: string;
  /** The customer's currency, which its subscriptions bill in. */
  currency: string;
  startDate: Date;
  trialEnd: Date | null;
  canceledAt: Date | null;
  /** Plan history entries, in any order; at least the one in force at each instant asked about. */
  plans: readonly PlanInForce[];
}

export function isPaying(s: SubscriptionHistory, at: Date): boolean {
  const t = at.getTime();
  return s.startDate.getTime() <= t && (s.canceledAt === null || s.canceledAt.getTime() > t) && (s.trialEnd === null || s.trialEnd.getTime() <= t);
}

/** The plan in force at `at`: the entry with the latest effective_from not after it. */
export function planAt(s: SubscriptionHistory, at: Date): PlanTerms | undefined {
  let best: PlanInForce | undefined;
  for (const p of s.plans) {
    const from = p.effectiveFrom.getTime();
    if (from <= at.getTime() && (best === undefined || from > best.effectiveFrom.getTime())) best = p;
  }
  return best?.plan;
}

/** A plan's base fee as an annual run rate: exact for both intervals. */
export function annualRate(plan: PlanTerms): Dec {
  const fee = new Dec(plan.baseFee);
  return plan.interval === 'month' ? fee.times(TWELVE) : fee;
}

/**
 * Each customer holding a paying subscription at `at`, with its annual run rate (MRR × 12),
 * by currency then customer. A customer whose paying subscriptions are all free is in it with 0.
 */
export function customerRates(subs: readonly SubscriptionHistory[], at: Date): Map<string, Map<string, Dec>> {
  const byCurrency = new Map<string, Map<string, Dec>>();
  for (const s of subs) {
    if (!isPaying(s, at)) continue;
    const plan = planAt(s, at);
    // Every subscription has a plan from its start date on; a paying one without is a read
    // that missed its history, which must not be reported as zero revenue.
    if (plan === undefined) throw new Error(`subscription ${s.id} has no plan in force at ${at.toISOString()}`);
    let customers = byCurrency.get(s.currency);
    if (customers === undefined) byCurrency.set(s.currency, (customers = new Map<string, Dec>()));
    customers.set(s.customer, (customers.get(s.customer) ?? ZERO).plus(annualRate(plan)));
  }
  return byCurrency;
}

/** Recurring revenue of one currency at an instant, exact. */
export interface RevenueAt {
  currency: string;
  /** Annual run rate, exact: 12 × MRR. */
  arr: Dec;
  /** Customers with MRR above 0. */
  customers: number;
}

/** One entry per currency with a paying subscription at `at`, ordered by currency. */
export function revenueAt(subs: readonly SubscriptionHistory[], at: Date): RevenueAt[] {
  const out: RevenueAt[] = [];
  for (const [currency, customers] of customerRates(subs, at)) {
    let arr = ZERO;
    let paying = 0;
    for (const rate of customers.values()) {
      arr = arr.plus(rate);
      if (rate.gt(0)) paying++;
    }
    out.push({ currency, arr, customers: paying });
  }
  return out.sort((a, b) => compare(a.currency, b.currency));
}

/** MRR movements of one currency over [from, to), exact, as annual run rates (12 × MRR). */
export interface Movements {
  currency: string;
  starting: Dec;
  new: Dec;
  expansion: Dec;
  contraction: Dec;
  churned: Dec;
  ending: Dec;
  /** Customers with MRR above 0 at `from`. */
  customersAtStart: number;
  /** Customers with MRR above 0 at `from` and 0 at `to`. */
  churnedCustomers: number;
}

/** One entry per currency with a paying subscription at `from` or at `to`, ordered by currency. */
export function movements(subs: readonly SubscriptionHistory[], from: Date, to: Date): Movements[] {
  const start = customerRates(subs, from);
  const end = customerRates(subs, to);
  const currencies = [...new Set([...start.keys(), ...end.keys()])].sort(compare);
  return currencies.map((currency) => {
    const before = start.get(currency) ?? new Map<string, Dec>();
    const after = end.get(currency) ?? new Map<string, Dec>();
    const m: Movements = { currency, starting: ZERO, new: ZERO, expansion: ZERO, contraction: ZERO, churned: ZERO, ending: ZERO, customersAtStart: 0, churnedCustomers: 0 };
    for (const customer of new Set([...before.keys(), ...after.keys()])) {
      const a = before.get(customer) ?? ZERO;
      const b = after.get(customer) ?? ZERO;
      m.starting = m.starting.plus(a);
      m.ending = m.ending.plus(b);
      if (a.gt(0)) m.customersAtStart++;
      if (a.isZero() && b.gt(0)) m.new = m.new.plus(b);
      else if (a.gt(0) && b.isZero()) {
        m.churned = m.churned.plus(a);
        m.churnedCustomers++;
      } else if (b.gt(a)) m.expansion = m.expansion.plus(b.minus(a));
      else if (a.gt(b)) m.contraction = m.contraction.plus(a.minus(b));
    }
    return m;
  });
}

/** `value` rounded half-even to the currency's minor unit, with exactly that many decimals. */
export function roundMoney(value: Dec, currency: string): string {
  const places = minorUnits(currency);
  return value.toDecimalPlaces(places, Dec.ROUND_HALF_EVEN).toFixed(places);
}

/** A monthly figure from an annual run rate: ÷ 12, then rounded. */
function monthly(arr: Dec, currency: string): string {
  return roundMoney(arr.div(TWELVE), currency);
}

export interface MrrRow {
  currency: string;
  mrr: string;
  arr: string;
  customers: number;
  arpu: string | null;
}

export function mrrRow(r: RevenueAt): MrrRow {
  return {
    currency: r.currency,
    mrr: monthly(r.arr, r.currency),
    arr: roundMoney(r.arr, r.currency),
    customers: r.customers,
    arpu: r.customers === 0 ? null : roundMoney(r.arr.div(TWELVE.times(r.customers)), r.currency),
  };
}

export interface MovementRow {
  currency: string;
  starting_mrr: string;
  new: string;
  expansion: string;
  contraction: string;
  churned: string;
  ending_mrr: string;
  customers_at_start: number;
  churned_customers: number;
  churn_rate: string | null;
}

export function movementRow(m: Movements): MovementRow {
  return {
    currency: m.currency,
    starting_mrr: monthly(m.starting, m.currency),
    new: monthly(m.new, m.currency),
    expansion: monthly(m.expansion, m.currency),
    contraction: monthly(m.contraction, m.currency),
    churned: monthly(m.churned, m.currency),
    ending_mrr: monthly(m.ending, m.currency),
    customers_at_start: m.customersAtStart,
    churned_customers: m.churnedCustomers,
    churn_rate: churnRate(m.churnedCustomers, m.customersAtStart),
  };
}

/** churned ÷ at start, 4 decimals, half-even; null when no customer was paying at the start. */
export function churnRate(churned: number, atStart: number): string | null {
  if (atStart === 0) return null;
  return new Dec(churned).div(atStart).toDecimalPlaces(4, Dec.ROUND_HALF_EVEN).toFixed(4);
}

// By code unit, so the order never depends on a locale.
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
