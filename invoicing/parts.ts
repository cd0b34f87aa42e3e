import { baseFeeLines, type BaseFeeLine } from '../rating/base-fee.js';
import type { UsagePart } from './compose.js';
import type { PeriodRating } from './rate-periods.js';

/** A rated period's usage, per plan segment, as invoice parts. */
export function usageParts(r: PeriodRating): UsagePart[] {
  return r.segments.map((s) => ({
    plan: { code: s.segment.plan.code, version: s.segment.plan.version, name: s.segment.plan.name },
    start: s.segment.start,
    end: s.segment.end,
    charges: s.charges.map((c) => ({ meter: c.meter, charge: c.charge, quantity: c.quantity, amount: c.amount })),
  }));
}

/** A rated period's base-fee and proration lines. */
export function baseFee(r: PeriodRating): BaseFeeLine[] {
  if (r.window === undefined) return [];
  const sub = r.work.sub;
  return baseFeeLines({ period: r.work.period, window: r.window, trialEnd: sub.trialEnd, history: sub.history });
}
