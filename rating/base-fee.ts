import { prorateBaseFee } from './proration.js';
import type { PlanChange, PlanVersionRef } from './segments.js';

/**
 * Base-fee lines of a period, as a pure core. The base fee is priced as if paid at the start
 * of the period (as Stripe does for licensed prices), and every later event in the period is a
 * proration line against what was charged:
 *
 *  - base_fee: the fee of the plan in force when billing starts, for the whole period; when a
 *    trial covers the start of the period, only for the part after the trial;
 *  - proration on a plan change with `prorate`: (new fee − charged fee) × remaining / period
 *    length — an upgrade from 49.00 to 199.00 with 15 of 30 days left is 75.000000, a
 *    downgrade is a credit (negative). A change without `prorate` takes effect on the next
 *    period's base fee and adds no line;
 *  - proration on an immediate cancellation: a credit of the charged fee for the rest of the
 *    period.
 *
 * Time is measured in milliseconds; each line is rounded to 6 decimals, half-even.
 */
export interface FeePlan extends PlanVersionRef {
  name: string;
  base_fee: string;
}

export interface BaseFeeLine {
  type: 'base_fee' | 'proration';
  amount: string;
  description: string;
  plan: PlanVersionRef;
  start: Date;
  end: Date;
}

export interface BaseFeeInput<P extends FeePlan> {
  period: { start: Date; end: Date };
  /** When the subscription was live in the period; `final` when canceled at its end. */
  window: { start: Date; end: Date; final: boolean };
  trialEnd: Date | null;
  /** The plan history, sorted, the first entry in force at the window's start. */
  history: readonly PlanChange<P>[];
}

const DAY_MS = 86_400_000;
const days = (ms: number) => String(Number((ms / DAY_MS).toFixed(2)));
const day = (d: Date) => d.toISOString().slice(0, 10);
const ref = (p: PlanVersionRef): PlanVersionRef => ({ code: p.code, version: p.version });

export function baseFeeLines<P extends FeePlan>(input: BaseFeeInput<P>): BaseFeeLine[] {
  const { period, window, history } = input;
  const ps = period.start.getTime();
  const pe = period.end.getTime();
  const billFrom = Math.max(window.start.getTime(), input.trialEnd?.getTime() ?? -Infinity);
  if (billFrom >= window.end.getTime()) return [];

  const planAt = (t: number): P => {
    let p = history[0]!.plan;
    for (const h of history) if (h.effective_from.getTime() <= t) p = h.plan;
    return p;
  };
  const lines: BaseFeeLine[] = [];
  const first = planAt(billFrom);
  const from = new Date(billFrom);
  lines.push({
    type: 'base_fee',
    amount: prorateBaseFee('0', first.base_fee, period.start, period.end, from),
    description: `${first.name} base fee, ${day(from)} to ${day(period.end)}${billFrom > ps ? ` (${days(pe - billFrom)} of ${days(pe - ps)} days)` : ''}`,
    plan: ref(first),
    start: from,
    end: period.end,
  });

  let charged = first;
  for (const h of history) {
    const t = h.effective_from.getTime();
    if (t <= billFrom || t >= window.end.getTime() || !h.prorate) continue;
    if (h.plan.base_fee === charged.base_fee && h.plan.code === charged.code) {
      charged = h.plan;
      continue;
    }
    lines.push({
      type: 'proration',
      amount: prorateBaseFee(charged.base_fee, h.plan.base_fee, period.start, period.end, h.effective_from),
      description: `${charged.name} to ${h.plan.name} on ${day(h.effective_from)}: difference for the remaining ${days(pe - t)} of ${days(pe - ps)} days`,
      plan: ref(h.plan),
      start: h.effective_from,
      end: period.end,
    });
    charged = h.plan;
  }

  if (window.final && window.end.getTime() < pe) {
    lines.push({
      type: 'proration',
      amount: prorateBaseFee(charged.base_fee, '0', period.start, period.end, window.end),
      description: `Canceled on ${day(window.end)}: unused ${charged.name} base fee for ${days(pe - window.end.getTime())} of ${days(pe - ps)} days`,
      plan: ref(charged),
      start: window.end,
      end: period.end,
    });
  }
  return lines.filter((l) => l.type === 'base_fee' || l.amount !== '0.000000');
}
