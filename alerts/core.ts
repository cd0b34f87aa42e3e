import { Dec, amount6 } from '../core/money.js';
import type { MeterTotal } from '../invoicing/compose.js';

/**
 * Which usage-alert thresholds a period's usage has reached, as a pure core. A percentage
 * threshold is reached when a charge's period quantity is at least that share of its
 * `included` quantity (charges without one have none); a spend threshold when the rated
 * amount of its charge — or, without a meter, of all the subscription's charges — is at least
 * the amount. The minimum top-up is not spend.
 */
export interface AlertSettings {
  /** Percentages of each charge's included quantity. */
  includedPercents: readonly string[];
  spend: readonly { meter: string | null; amount: string }[];
}

export const DEFAULT_INCLUDED_PERCENTS = ['75', '90', '100'] as const;

export interface Crossing {
  /** '' for a spend threshold over all charges. */
  meter: string;
  kind: 'included_percent' | 'spend';
  threshold: string;
  included: string | null;
  /** The charge's period quantity (null for spend over all charges). */
  quantity: string | null;
  amount: string;
}

export function crossings(totals: ReadonlyMap<string, MeterTotal>, s: AlertSettings): Crossing[] {
  const out: Crossing[] = [];
  for (const [meter, t] of totals) {
    const included = t.charge.included;
    if (included === undefined || !new Dec(included).gt(0)) continue;
    for (const p of s.includedPercents) {
      if (new Dec(t.quantity).gte(new Dec(included).times(p).div(100))) {
        out.push({ meter, kind: 'included_percent', threshold: new Dec(p).toFixed(), included: new Dec(included).toFixed(), quantity: t.quantity, amount: amount6(new Dec(t.usage)) });
      }
    }
  }
  for (const sp of s.spend) {
    const over = sp.meter === null ? [...totals.values()] : [totals.get(sp.meter)].filter((t): t is MeterTotal => t !== undefined);
    if (over.length === 0) continue;
    const amount = over.reduce((a, t) => a.plus(t.usage), new Dec(0));
    if (amount.gte(sp.amount)) {
      const quantity = sp.meter === null ? null : over[0]!.quantity;
      out.push({ meter: sp.meter ?? '', kind: 'spend', threshold: new Dec(sp.amount).toFixed(), included: null, quantity, amount: amount6(amount) });
    }
  }
  return out;
}
