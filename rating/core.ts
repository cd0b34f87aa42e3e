import { Dec, amount6 } from '../core/money.js';

/**
 * The rating core: a charge of a rate card and a quantity in, the amount out, with the lines
 * that explain it. Pure: no IO, no clock; decimal strings in and out, exact arithmetic in
 * between, one rounding at the end (6 decimals, half-even).
 *
 * The rules, in order:
 *  1. billable = quantity - included, never below 0;
 *  2. the model prices the billable quantity:
 *     - per_unit: billable x unit_price;
 *     - graduated: each tier prices the units that fall in it (a tier covers (previous up_to,
 *       up_to]), plus its flat_fee when any unit falls in it;
 *     - volume: every billable unit at the price of the tier the total reaches, plus that
 *       tier's flat_fee; nothing at all for 0;
 *     - package: ceil (round "up", the default) or floor ("down") of billable / package_size
 *       packages, times unit_price;
 *  3. maximum caps the amount;
 *  4. the amount is rounded to 6 decimals, half-even;
 *  5. a minimum above the amount adds a top-up of the difference (its own invoice line).
 */
export interface Tier {
  up_to: string | null;
  unit_price: string;
  flat_fee?: string | undefined;
}

export interface ChargeCard {
  model: 'per_unit' | 'graduated' | 'volume' | 'package';
  unit_price?: string | undefined;
  tiers?: readonly Tier[] | undefined;
  package_size?: string | undefined;
  round?: 'up' | 'down' | undefined;
  included?: string | undefined;
  minimum?: string | undefined;
  maximum?: string | undefined;
}

export interface TierLine {
  tier: number;
  units: string;
  unit_price: string;
  flat_fee: string;
  amount: string;
}

export interface Rated {
  quantity: string;
  billable: string;
  /** 6 decimals, after the maximum. */
  amount: string;
  /** 6 decimals; "0.000000" when there is no minimum or the amount reaches it. */
  minimum_top_up: string;
  /** graduated and volume: what each tier contributed; package: the packages. */
  lines: TierLine[];
  packages?: string;
}

export function rate(card: ChargeCard, quantity: string): Rated {
  const q = new Dec(quantity);
  const billable = Dec.max(0, q.minus(card.included ?? '0'));
  let exact = new Dec(0);
  const lines: TierLine[] = [];
  let packages: Dec | undefined;

  switch (card.model) {
    case 'per_unit':
      exact = billable.times(need(card.unit_price, 'unit_price'));
      break;
    case 'graduated': {
      let lower = new Dec(0);
      need(card.tiers, 'tiers').forEach((t, i) => {
        const upper = t.up_to === null ? null : new Dec(t.up_to);
        const inTier = Dec.max(0, (upper === null ? billable : Dec.min(billable, upper)).minus(lower));
        if (inTier.gt(0)) {
          const fee = new Dec(t.flat_fee ?? '0');
          const part = inTier.times(t.unit_price).plus(fee);
          exact = exact.plus(part);
          lines.push({ tier: i + 1, units: inTier.toFixed(), unit_price: t.unit_price, flat_fee: fee.toFixed(), amount: part.toFixed() });
        }
        if (upper !== null) lower = upper;
      });
      break;
    }
    case 'volume': {
      if (billable.isZero()) break;
      const tiers = need(card.tiers, 'tiers');
      const i = tiers.findIndex((t) => t.up_to === null || billable.lte(t.up_to));
      const t = tiers[i]!;
      const fee = new Dec(t.flat_fee ?? '0');
      exact = billable.times(t.unit_price).plus(fee);
      lines.push({ tier: i + 1, units: billable.toFixed(), unit_price: t.unit_price, flat_fee: fee.toFixed(), amount: exact.toFixed() });
      break;
    }
    case 'package': {
      const ratio = billable.div(need(card.package_size, 'package_size'));
      packages = card.round === 'down' ? ratio.floor() : ratio.ceil();
      exact = packages.times(need(card.unit_price, 'unit_price'));
      break;
    }
  }

  if (card.maximum !== undefined) exact = Dec.min(exact, card.maximum);
  const amount = amount6(exact);
  const topUp = card.minimum === undefined ? new Dec(0) : Dec.max(0, new Dec(card.minimum).minus(amount));
  const rated: Rated = { quantity: q.toFixed(), billable: billable.toFixed(), amount, minimum_top_up: amount6(topUp), lines };
  if (packages !== undefined) rated.packages = packages.toFixed();
  return rated;
}

function need<T>(v: T | undefined, field: string): T {
  if (v === undefined) throw new Error(`rate card has no ${field}`);
  return v;
}
