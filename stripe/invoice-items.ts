import { Dec } from '../core/money.js';

/**
 * Invoice lines as Stripe invoice items, as a pure core. Stripe items carry whole minor units
 * (cents; yen), Tally's lines 6 decimal places, and Tally rounds only the invoice's total. So
 * the lines are apportioned: each gets its amount rounded down to a minor unit, and the units
 * left to reach Tally's total go one each to the lines with the largest remainders (earlier
 * lines first on a tie). The items then add up exactly to Tally's total, and no item is off
 * by a whole minor unit or more. Stripe takes at most 250 items per invoice: beyond 249 lines,
 * the rest are combined into one item.
 */
export const MAX_ITEMS = 250;

export interface ItemLine {
  description: string;
  /** 6 decimal places. */
  amount: string;
  /** Which of Tally's lines (1-based) the item carries. */
  lines: number[];
}

export interface Item extends ItemLine {
  /** Whole minor units. */
  minor: number;
}

export function toItems(lines: readonly { description: string; amount: string }[], minorUnits: number): Item[] {
  let grouped: ItemLine[] = lines.map((l, i) => ({ description: l.description, amount: l.amount, lines: [i + 1] }));
  if (grouped.length > MAX_ITEMS) {
    const rest = grouped.slice(MAX_ITEMS - 1);
    const sum = rest.reduce((s, l) => s.plus(l.amount), new Dec(0));
    grouped = [...grouped.slice(0, MAX_ITEMS - 1), { description: `${rest.length} further lines (see the invoice in Tally)`, amount: sum.toFixed(6), lines: rest.flatMap((l) => l.lines) }];
  }
  const scale = new Dec(10).pow(minorUnits);
  const scaled = grouped.map((l) => new Dec(l.amount).times(scale));
  const floors = scaled.map((s) => s.floor());
  const target = scaled.reduce((a, s) => a.plus(s), new Dec(0)).toDecimalPlaces(0, Dec.ROUND_HALF_EVEN);
  let left = target.minus(floors.reduce((a, f) => a.plus(f), new Dec(0))).toNumber();
  const order = scaled.map((s, i) => ({ i, rem: s.minus(floors[i]!) })).sort((a, b) => b.rem.comparedTo(a.rem) || a.i - b.i);
  const minor = floors.map((f) => f.toNumber());
  for (const { i } of order) {
    if (left <= 0) break;
    minor[i]! += 1;
    left--;
  }
  return grouped.map((l, i) => ({ ...l, minor: minor[i]! }));
}
