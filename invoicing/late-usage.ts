import type { Queryable } from '../core/postgres.js';
import { amount6, Dec } from '../core/money.js';
import { meterTotals, type Adjustment } from './compose.js';
import { usageParts } from './parts.js';
import { ratePeriods, type PeriodWork, type RatingDeps } from './rate-periods.js';
import { floorHour, HOUR_MS } from '../core/time.js';
import type { SubscriptionFacts } from './subscription-facts.js';
import { billedCommitments, billedMarks, billedUsage } from './billed-usage.js';

/**
 * Late usage: usage of a subscription's earlier, invoiced periods that changed after they were
 * billed. Only periods with hourly rollups written since they were billed (less a margin, as
 * an aggregator run stamps its rows with the time it started) are rated again; each meter's
 * usage (with its minimum) is compared with what billed_usage holds, and the difference is an
 * adjustment. `mark` fingerprints the billed rows read, so a writer can tell they did not
 * change in between.
 */
export interface LateUsage {
  lines: Adjustment[];
  updates: { periodStart: Date; meter: string; quantity: string; amount: string }[];
  /** The changed charges of periods with a commitment (billed_commitments). */
  commitments: { periodStart: Date; charges: string }[];
  mark: string;
}

const RECHECK_MARGIN_MS = HOUR_MS;

/** Late usage of each subscription's periods that start before `before`, keyed by subscription id. */
export async function lateUsage(rd: RatingDeps, q: Queryable, items: readonly { sub: SubscriptionFacts; before: Date }[]): Promise<Map<string, LateUsage>> {
  const out = new Map<string, LateUsage>(items.map((i) => [i.sub.id, { lines: [], updates: [], commitments: [], mark: '' }]));
  if (items.length === 0) return out;
  const tenants = items.map((i) => i.sub.tenantId);
  const ids = items.map((i) => i.sub.id);
  const wanted = new Set(items.map((i) => `${i.sub.tenantId}\n${i.sub.id}`));
  for (const m of await billedMarks(q, tenants, ids)) if (wanted.has(`${m.tenantId}\n${m.subscriptionId}`)) out.get(m.subscriptionId)!.mark = m.mark;
  const before = new Map(items.map((i) => [i.sub.id, i.before.getTime()]));
  const billed = (await billedUsage(q, tenants, ids)).filter((r) => wanted.has(`${r.tenantId}\n${r.subscriptionId}`) && r.periodStart.getTime() < before.get(r.subscriptionId)!);
  if (billed.length === 0) return out;

  // Hours whose rollups were written since the oldest of these periods was billed.
  const since = Math.min(...billed.map((r) => r.updatedAt.getTime())) - RECHECK_MARGIN_MS;
  const subs = new Map(items.map((i) => [i.sub.id, i.sub]));
  const customers = [...new Set(billed.map((r) => subs.get(r.subscriptionId)!.customer))];
  const changed = new Map<string, number[]>();
  for (const r of await rd.usage.hoursChangedSince([...new Set(tenants)], customers, since)) changed.set(`${r.tenantId}\n${r.customer}`, r.hours);

  // The billed periods touched by those hours (a period's usage runs from the hour its start falls in to the hour its end falls in).
  const periods = new Map<string, { sub: SubscriptionFacts; start: Date; end: Date; meters: Map<string, { quantity: string; amount: string }> }>();
  for (const r of billed) {
    const sub = subs.get(r.subscriptionId)!;
    const hours = changed.get(`${sub.tenantId}\n${sub.customer}`) ?? [];
    if (!hours.some((h) => h >= floorHour(r.periodStart.getTime()) && h < Math.ceil(r.periodEnd.getTime() / HOUR_MS) * HOUR_MS)) continue;
    const key = `${sub.id}\n${r.periodStart.getTime()}`;
    const p = periods.get(key) ?? { sub, start: r.periodStart, end: r.periodEnd, meters: new Map() };
    p.meters.set(r.meter, { quantity: r.quantity, amount: r.amount });
    periods.set(key, p);
  }
  const touched = [...periods.values()];
  const work: PeriodWork[] = touched.map((p) => ({ sub: p.sub, period: { index: -1, start: p.start, end: p.end }, horizon: p.end.getTime() }));
  const [ratings, commitments] = await Promise.all([ratePeriods(rd, work), billedCommitments(q, tenants, ids)]);
  ratings.forEach((rating, i) => {
    const p = touched[i]!;
    const late = out.get(p.sub.id)!;
    const now = meterTotals(usageParts(rating));
    let changed = new Dec(0);
    for (const meter of new Set([...now.keys(), ...p.meters.keys()])) {
      const was = p.meters.get(meter) ?? { quantity: '0', amount: '0' };
      const quantity = new Dec(now.get(meter)?.quantity ?? '0');
      const amount = new Dec(now.get(meter)?.billed ?? '0');
      if (quantity.eq(was.quantity) && amount.eq(was.amount)) continue;
      const line = { meter, periodStart: p.start, periodEnd: p.end, quantity: quantity.minus(was.quantity).toFixed(), amount: amount6(amount.minus(was.amount)) };
      late.lines.push(line);
      late.updates.push({ periodStart: p.start, meter, quantity: quantity.toFixed(), amount: amount6(amount) });
      changed = changed.plus(line.amount);
    }
    // The period's own minimum spend, held against its charges as they are now: usage taken
    // back below it is topped up again (and usage added under it was paid for already).
    const c = commitments.get(`${p.sub.id}\n${p.start.getTime()}`);
    if (c === undefined || changed.isZero()) return;
    const topUp = (charges: Dec) => Dec.max(0, new Dec(c.minimumSpend).minus(charges));
    const charges = new Dec(c.charges).plus(changed);
    const difference = topUp(charges).minus(topUp(new Dec(c.charges)));
    if (!difference.isZero()) late.lines.push({ meter: null, periodStart: p.start, periodEnd: p.end, quantity: null, amount: amount6(difference) });
    late.commitments.push({ periodStart: p.start, charges: amount6(charges) });
  });
  return out;
}
