import { minorUnits } from '../core/currency.js';
import { Dec } from '../core/money.js';
import type { Queryable } from '../core/postgres.js';
import type { Period } from '../catalog/periods.js';
import { allocateAllowances, availableCredits, type Available } from '../catalog/credits.js';
import { allowanceDue, allowanceLeft, grantsFor, planAt } from './allowance.js';
import { composeInvoice, meterTotals, type ComposedInvoice, type CreditGrant, type MeterTotal } from './compose.js';
import { lateUsage, type LateUsage } from './late-usage.js';
import { baseFee, usageParts } from './parts.js';
import { ratePeriods, type PeriodRating, type PeriodWork, type RatingDeps } from './rate-periods.js';
import type { SubscriptionFacts } from './subscription-facts.js';
import { planAtEnd, termsFor, type Terms } from './terms.js';

/**
 * Invoice assembly: the one pipeline that turns billing periods into composed invoices, for
 * period close and the upcoming invoice alike, so a change to what an invoice holds is made
 * once. Each step is a small function below, run for the whole batch at once:
 *
 * 1. rate the periods up to their horizon (the period's end when closing, now for upcoming);
 * 2. find the late usage of earlier, invoiced periods (billed as adjustment lines);
 * 3. the period's credit allowance: granted before composing (close), or shown as it will be
 *    granted (upcoming, when no close run has granted it yet);
 * 4. read the customers' credits, the commercial terms (commitment, discounts, tax) and the
 *    one-off charges not billed yet;
 * 5. compose each invoice, using credits up in memory as the batch's invoices take them (a
 *    customer may have several subscriptions in one batch).
 *
 * It writes no invoice (only the allowance grants of step 3 and, when asked, the rated rows):
 * close persists what it produces (close.ts, invoice-writes.ts), upcoming shows it (billing.ts).
 */
export interface AssembleOptions {
  /** Write the hourly rated rows with this version (close); undefined: rate only. */
  writeVersion?: bigint;
  /**
   * `grant`: grant each period's allowance before composing, if the run that saw the period
   * start did not (the plan at the period's end decides the amount then). `preview`: show an
   * allowance not granted yet as it will be, from the plan in force at `at`.
   */
  allowance: { mode: 'grant' } | { mode: 'preview'; at: Date };
}

export interface AssembledInvoice {
  sub: SubscriptionFacts;
  period: Period;
  composed: ComposedInvoice;
  /** Each meter's billed quantity and amount (what billed_usage records). */
  totals: Map<string, MeterTotal>;
  late: LateUsage;
  /** What the invoice leaves of its period's credit allowance, expired with it. */
  expire: { grantId: string; amount: string } | null;
  /** The one-off charges it bills (marked billed when it is written). */
  charges: string[];
}

export interface Assembly {
  /** One per period, in the order given. */
  invoices: AssembledInvoice[];
  /** The credits as read before composing (close checks them again under lock). */
  credits: Available[];
}

export async function assembleInvoices(rd: RatingDeps, q: Queryable, work: readonly PeriodWork[], o: AssembleOptions): Promise<Assembly> {
  const ratings = await ratePeriods(rd, work, o.writeVersion === undefined ? {} : { writeVersion: o.writeVersion });
  const late = await lateUsage(rd, q, work.map((w) => ({ sub: w.sub, before: w.period.start })));
  if (o.allowance.mode === 'grant') await allocateAllowances(q, work.flatMap((w) => allowanceDue(w.sub, w.period, planAtEnd(w))));
  const credits = await availableCredits(q, work.map((w) => w.sub.tenantId), work.map((w) => w.sub.customer));
  const terms = await termsFor(q, work);
  const charges = await pendingCharges(q, work);
  return { invoices: compose(work, ratings, late, credits, terms, charges, o.allowance), credits };
}

type Charge = { id: string; description: string; amount: string };

/** Each subscription's one-off charges not billed yet, oldest first. */
async function pendingCharges(q: Queryable, work: readonly PeriodWork[]): Promise<Map<string, Charge[]>> {
  const out = new Map<string, Charge[]>();
  if (work.length === 0) return out;
  const { rows } = await q.query<Charge & { tenant_id: string; subscription_id: string }>(
    `SELECT tenant_id, subscription_id, id, description, amount::text AS amount FROM one_off_charges
      WHERE tenant_id = ANY($1) AND subscription_id = ANY($2) AND invoice_id IS NULL ORDER BY created_at, id`,
    [[...new Set(work.map((w) => w.sub.tenantId))], work.map((w) => w.sub.id)],
  );
  for (const r of rows) out.set(`${r.tenant_id}\n${r.subscription_id}`, [...(out.get(`${r.tenant_id}\n${r.subscription_id}`) ?? []), { id: r.id, description: r.description, amount: r.amount }]);
  return out;
}

/** Composes each period's invoice from what the steps before read, using credits up across the batch. */
function compose(
  work: readonly PeriodWork[],
  ratings: readonly PeriodRating[],
  late: Map<string, LateUsage>,
  credits: readonly Available[],
  terms: readonly Terms[],
  charges: Map<string, Charge[]>,
  allowanceMode: AssembleOptions['allowance'],
): AssembledInvoice[] {
  // A subscription's charges go on its first period in the batch only.
  const billed = new Set<string>();
  const remaining = new Map(credits.map((a) => [a.grantId, a]));
  return work.map((w, i) => {
    const rating = ratings[i]!;
    const usage = usageParts(rating);
    const l = late.get(w.sub.id)!;
    const { grants, allowance } = grantsFor([...remaining.values()], w.sub, w.period);
    const usable = allowanceMode.mode === 'preview' ? withPreview(grants, allowance, w, allowanceMode.at) : grants;
    const key = `${w.sub.tenantId}\n${w.sub.id}`;
    const mine = billed.has(key) ? [] : (charges.get(key) ?? []);
    billed.add(key);
    const composed = composeInvoice({ minorUnits: minorUnits(w.sub.currency), baseFee: baseFee(rating), usage, adjustments: l.lines, charges: mine, ...terms[i]!, credits: usable });
    for (const c of composed.consumed ?? []) {
      // A previewed allowance is no grant yet: nothing to use up.
      const g = remaining.get(c.grantId);
      if (g !== undefined) remaining.set(c.grantId, { ...g, remaining: new Dec(g.remaining).minus(c.amount).toFixed() });
    }
    const left = allowanceLeft(allowance, composed.consumed ?? []);
    return { sub: w.sub, period: w.period, composed, totals: meterTotals(usage), late: l, expire: left === null ? null : { grantId: allowance!.grantId, amount: left }, charges: mine.map((c) => c.id) };
  });
}

/** The credits of an upcoming invoice: an allowance not granted yet (no close run since the period started) is shown as it will be. */
function withPreview(grants: CreditGrant[], allowance: CreditGrant | undefined, w: PeriodWork, at: Date): CreditGrant[] {
  const due = allowance === undefined ? allowanceDue(w.sub, w.period, planAt(w.sub, at))[0] : undefined;
  return due === undefined ? grants : [...grants, { grantId: 'allowance', remaining: due.amount, label: 'Credit allowance for the period' }];
}
