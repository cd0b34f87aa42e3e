import type { Queryable } from '../core/postgres.js';
import type { Period } from '../catalog/periods.js';
import { commitmentsFor } from '../catalog/commitments.js';
import { couponsFor } from '../catalog/coupons.js';
import { taxRatesFor } from '../catalog/tax-rates.js';
import { volumeDiscountsFor } from '../catalog/volume-discounts.js';
import type { Discount } from './compose.js';
import type { SubscriptionFacts } from './subscription-facts.js';
import { planAt } from './allowance.js';

/**
 * The commercial terms of invoices about to be composed — each period's commitment, its
 * discounts (the tenant's volume discount, then the coupons in force for it), and its
 * customer's tax rate — read for a whole batch at once, for
 * close and the upcoming invoice alike (assemble.ts, which reads credits too and uses them up
 * across a batch).
 */
export interface Terms {
  commitment: { minimumSpend: string | null; discountPercent: string | null } | undefined;
  discounts: Discount[];
  tax: { name: string; percent: string } | undefined;
}

/** The plan in force at the end of the period (the last one before it ends; the first, if none is). */
export function planAtEnd(c: { sub: SubscriptionFacts; period: Period }) {
  return planAt(c.sub, new Date(c.period.end.getTime() - 1)) ?? c.sub.history[0]!.plan;
}

export async function termsFor(q: Queryable, items: readonly { sub: SubscriptionFacts; period: Period }[]): Promise<Terms[]> {
  const targets = items.map((b) => ({ tenantId: b.sub.tenantId, subscriptionId: b.sub.id, startDate: b.sub.startDate, interval: b.sub.interval, period: b.period, planCode: planAtEnd(b).code }));
  const coupons = await couponsFor(q, targets);
  const taxOf = await taxRatesFor(q, items.map((b) => b.sub.tenantId));
  const commitmentOf = await commitmentsFor(q, targets);
  const volume = await volumeDiscountsFor(q, items.map((b) => ({ tenantId: b.sub.tenantId, customer: b.sub.customer, period: b.period })));
  return items.map((b, i) => {
    const v = volume[i];
    const volumeLine: Discount[] = v === undefined ? [] : [{ code: 'volume', name: `Volume discount for ${v.subscriptions} subscriptions`, percent_off: v.percent, amount_off: null }];
    return { commitment: commitmentOf(i), discounts: [...volumeLine, ...coupons.get(targets[i]!)!], tax: taxOf(b.sub) };
  });
}
