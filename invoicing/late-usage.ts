import type { Queryable } from '../core/postgres.js';
import { amount6, Dec } from '../core/money.js';
import { meterTotals, type Adjustment } from './invoice.js';
import { usageParts } from './parts.js';
import { ratePeriods, type PeriodWork, type RatingDeps } from './rating.js';
import { floorHour, HOUR_MS } from '../rating/segments.js';
import type { SubscriptionFacts } from './source.js';

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
  mark: string;
}

const RECHECK_MARGIN_MS = HOUR_MS;

interface BilledRow {
  tenant_id: string;
  subscription_id: string;
  period_start: Date;
  period_end: Date;
  meter: string;
  quantity: string;
  amount: string;
  updated_at: Date;
}

/** Late usage of each subscription's periods that start before `before`, keyed by subscription id. */
export async function lateUsage(rd: RatingDeps, q: Queryable, items: readonly { sub: SubscriptionFacts; before: Date }[]): Promise<Map<string, LateUsage>> {
  const out = new Map<string, LateUsage>(items.map((i) => [i.sub.id, { lines: [], updates: [], mark: '' }]));
  if (items.length === 0) return out;
  const tenants = items.map((i) => i.sub.tenantId);
  const ids = items.map((i) => i.sub.id);
  const marks = await q.query<{ tenant_id: string; subscription_id: string; mark: string }>(
    `SELECT tenant_id, subscription_id, count(*) || '/' || coalesce(max(updated_at)::text, '') AS mark FROM billed_usage
      WHERE tenant_id = ANY($1) AND subscription_id = ANY($2) GROUP BY tenant_id, subscription_id`,
    [[...new Set(tenants)], ids],
  );
  const wanted = new Set(items.map((i) => `${i.sub.tenantId}\n${i.sub.id}`));
  for (const m of marks.rows) if (wanted.has(`${m.tenant_id}\n${m.subscription_id}`)) out.get(m.subscription_id)!.mark = m.mark;
  const { rows } = await q.query<BilledRow>(
    `SELECT b.tenant_id, b.subscription_id, b.period_start, i.period_end, b.meter, b.quantity::text AS quantity, b.amount::text AS amount, b.updated_at
       FROM billed_usage b JOIN invoices i ON i.tenant_id = b.tenant_id AND i.subscription_id = b.subscription_id AND i.period_start = b.period_start
      WHERE b.tenant_id = ANY($1) AND b.subscription_id = ANY($2)`,
    [[...new Set(tenants)], ids],
  );
  const before = new Map(items.map((i) => [i.sub.id, i.before.getTime()]));
  const billed = rows.filter((r) => wanted.has(`${r.tenant_id}\n${r.subscription_id}`) && r.period_start.getTime() < before.get(r.subscription_id)!);
  if (billed.length === 0) return out;

  // Hours whose rollups were written since the oldest of these periods was billed.
  const since = Math.min(...billed.map((r) => r.updated_at.getTime())) - RECHECK_MARGIN_MS;
  const subs = new Map(items.map((i) => [i.sub.id, i.sub]));
  const customers = [...new Set(billed.map((r) => subs.get(r.subscription_id)!.customer))];
  const changed = new Map<string, number[]>();
  for (const r of await rd.usage.hoursChangedSince([...new Set(tenants)], customers, since)) changed.set(`${r.tenantId}\n${r.customer}`, r.hours);

  // The billed periods touched by those hours (a period's usage runs from the hour its start falls in to the hour its end falls in).
  const periods = new Map<string, { sub: SubscriptionFacts; start: Date; end: Date; meters: Map<string, { quantity: string; amount: string }> }>();
  for (const r of billed) {
    const sub = subs.get(r.subscription_id)!;
    const hours = changed.get(`${sub.tenantId}\n${sub.customer}`) ?? [];
    if (!hours.some((h) => h >= floorHour(r.period_start.getTime()) && h < Math.ceil(r.period_end.getTime() / HOUR_MS) * HOUR_MS)) continue;
    const key = `${sub.id}\n${r.period_start.getTime()}`;
    const p = periods.get(key) ?? { sub, start: r.period_start, end: r.period_end, meters: new Map() };
    p.meters.set(r.meter, { quantity: r.quantity, amount: r.amount });
    periods.set(key, p);
  }
  const touched = [...periods.values()];
  const work: PeriodWork[] = touched.map((p) => ({ sub: p.sub, period: { index: -1, start: p.start, end: p.end }, horizon: p.end.getTime() }));
  const ratings = await ratePeriods(rd, work);
  ratings.forEach((rating, i) => {
    const p = touched[i]!;
    const late = out.get(p.sub.id)!;
    const now = meterTotals(usageParts(rating));
    for (const meter of new Set([...now.keys(), ...p.meters.keys()])) {
      const was = p.meters.get(meter) ?? { quantity: '0', amount: '0' };
      const quantity = new Dec(now.get(meter)?.quantity ?? '0');
      const amount = new Dec(now.get(meter)?.billed ?? '0');
      if (quantity.eq(was.quantity) && amount.eq(was.amount)) continue;
      late.lines.push({ meter, periodStart: p.start, periodEnd: p.end, quantity: quantity.minus(was.quantity).toFixed(), amount: amount6(amount.minus(was.amount)) });
      late.updates.push({ periodStart: p.start, meter, quantity: quantity.toFixed(), amount: amount6(amount) });
    }
  });
  return out;
}
