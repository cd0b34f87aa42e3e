import type { AllowanceDue, Available } from '../catalog/credits.js';
import type { Period } from '../catalog/periods.js';
import { Dec } from '../core/money.js';
import type { CreditGrant } from './compose.js';
import type { PlanVersion, SubscriptionFacts } from './subscription-facts.js';

/**
 * Which credit an invoice may use, and in what order: the customer's purchased credits (and
 * credit carried from earlier invoices), oldest first, then the period's own credit allowance.
 * (Purchased credits go first, as the credit terms promise; an allowance can pay for nothing but
 * its own period's invoice, and what that invoice leaves of it expires.)
 */
export function grantsFor(available: readonly Available[], sub: SubscriptionFacts, period: Period): { grants: CreditGrant[]; allowance: CreditGrant | undefined } {
  const customer = `${sub.tenantId}\n${sub.customer}`;
  const mine = available.filter((a) => a.customer === customer);
  const purchased = mine.filter((a) => a.allowance === null).map((a) => ({ grantId: a.grantId, remaining: a.remaining }));
  const own = mine.find((a) => a.allowance !== null && a.allowance.subscription === sub.id && a.allowance.periodStart === period.start.getTime());
  const allowance = own === undefined ? undefined : { grantId: own.grantId, remaining: own.remaining, label: `Credit allowance for the period (${own.grantId})` };
  return { grants: allowance === undefined ? purchased : [...purchased, allowance], allowance };
}

/** The plan in force at an instant: the last change at or before it. */
export function planAt(sub: SubscriptionFacts, at: Date): PlanVersion | undefined {
  let plan: PlanVersion | undefined;
  for (const h of sub.history) if (h.effective_from.getTime() <= at.getTime()) plan = h.plan;
  return plan;
}

/** The allowance a period is due, from the plan given (the one in force when it is granted). */
export function allowanceDue(sub: SubscriptionFacts, period: Period, plan: PlanVersion | undefined): AllowanceDue[] {
  if (plan === undefined || !new Dec(plan.credit_allowance).gt(0)) return [];
  return [{ tenantId: sub.tenantId, subscriptionId: sub.id, customer: sub.customer, currency: sub.currency, period, amount: plan.credit_allowance }];
}

/** What an invoice leaves of its period's allowance: expired when the invoice is written. */
export function allowanceLeft(allowance: CreditGrant | undefined, consumed: readonly { grantId: string; amount: string }[]): string | null {
  if (allowance === undefined) return null;
  const used = consumed.filter((c) => c.grantId === allowance.grantId).reduce((s, c) => s.plus(c.amount), new Dec(0));
  const left = new Dec(allowance.remaining).minus(used);
  return left.gt(0) ? left.toFixed() : null;
}
