import type { Charge } from '../catalog/plans.js';
import type { BaseFeeLine } from '../rating/base-fee.js';
import { Dec, amount6 } from '../core/money.js';
import type { PlanVersionRef } from '../rating/segments.js';
import { rate, type TierLine } from '../rating/core.js';

/**
 * An invoice from its parts, as a pure core. The lines, in order:
 *  1. base fee and proration lines (see base-fee.ts);
 *  2. one usage line per charge of each plan segment (quantity and amount of that segment);
 *  3. one minimum line per meter whose charge has a `minimum` above what its usage lines add
 *     up to over the period (the charge in force at the end of the period decides);
 *  4. adjustment lines: usage of earlier, already invoiced periods that changed after they
 *     were invoiced (late events), billed as the difference;
 *  5. a commitment's minimum spend: a `minimum` line topping the charges so far up to it.
 * Line amounts carry 6 decimals. The subtotal is the exact sum of the lines rounded half-even
 * to the currency's minor unit. Then, in order: discounts (applyDiscounts: a committed-use
 * discount first, then those given — the volume discount, then coupons — each a `discount`
 * line); credits (applyCredits, in the order given — purchased, then the period's allowance:
 * never below zero; an amount below zero is carried to the customer's credit balance), each a
 * `credit` line; tax at the customer's rate on what is left, rounded half-even to the minor
 * unit, a `tax` line. The total is subtotal − discount − credit + tax.
 */
export type LineType = 'base_fee' | 'usage' | 'minimum' | 'proration' | 'adjustment' | 'charge' | 'discount' | 'credit' | 'tax';

export interface InvoiceLine {
  type: LineType;
  meter: string | null;
  quantity: string | null;
  amount: string;
  description: string;
  plan: PlanVersionRef | null;
  period: { start: string; end: string } | null;
  adjusts_period_start?: string;
  /** Usage lines: how the quantity was priced (what the invoice document prints under the line). */
  pricing?: LinePricing;
  /** Tax lines: the rate applied. */
  tax_rate?: { name: string; percent: string };
}

/**
 * How a usage line's quantity came to its amount: the charge's model, the units its
 * `included` left free, and the unit price (per_unit, package) or each tier's units, unit
 * price, flat fee and amount (graduated: every tier reached; volume: the one tier).
 * `capped` says the charge's maximum cut the amount below what the tiers add up to.
 */
export interface LinePricing {
  model: 'per_unit' | 'graduated' | 'volume' | 'package';
  included: string | null;
  billable: string;
  unit_price: string | null;
  package_size: string | null;
  packages: string | null;
  tiers: TierLine[];
  capped: boolean;
}

/** What a line keeps beside its columns (invoice_lines.detail): its pricing or tax rate, or null. */
export function lineDetail(l: InvoiceLine): string | null {
  if (l.pricing === undefined && l.tax_rate === undefined) return null;
  return JSON.stringify(l.pricing !== undefined ? { pricing: l.pricing } : { tax_rate: l.tax_rate });
}

/** A stored line with what its detail holds. */
export function withDetail(l: InvoiceLine, detail: { pricing?: LinePricing; tax_rate?: { name: string; percent: string } } | null): InvoiceLine {
  if (detail?.pricing !== undefined) l.pricing = detail.pricing;
  if (detail?.tax_rate !== undefined) l.tax_rate = detail.tax_rate;
  return l;
}

/** The pricing of a usage line, or undefined where the rated amount is not the card's (it then shows without). */
export function linePricing(charge: Charge, quantity: string, amount: string): LinePricing | undefined {
  const r = rate(charge, quantity);
  if (!new Dec(r.amount).eq(amount)) return undefined;
  const uncapped = charge.model === 'per_unit' ? new Dec(r.billable).times(charge.unit_price ?? '0') : charge.model === 'package' ? new Dec(r.packages ?? '0').times(charge.unit_price ?? '0') : r.lines.reduce((s, l) => s.plus(l.amount), new Dec(0));
  return {
    model: charge.model,
    included: charge.included === undefined ? null : new Dec(charge.included).toFixed(),
    billable: r.billable,
    unit_price: charge.unit_price === undefined ? null : new Dec(charge.unit_price).toFixed(),
    package_size: charge.package_size === undefined ? null : new Dec(charge.package_size).toFixed(),
    packages: r.packages ?? null,
    tiers: r.lines.map((l) => ({ ...l, unit_price: new Dec(l.unit_price).toFixed() })),
    capped: charge.maximum !== undefined && new Dec(amount6(uncapped)).gt(amount),
  };
}

export interface UsagePart {
  plan: PlanVersionRef & { name: string };
  start: Date;
  end: Date;
  charges: { meter: string; charge: Charge; quantity: string; amount: string }[];
}

/**
 * An earlier period's change billed now: a meter's usage (`meter`), or what that period's own
 * commitment minimum spend makes of its changed charges (`meter` null, `quantity` null).
 */
export interface Adjustment {
  meter: string | null;
  periodStart: Date;
  periodEnd: Date;
  quantity: string | null;
  amount: string;
}

export interface ComposedInvoice {
  lines: InvoiceLine[];
  subtotal: string;
  discount: string;
  /** What credits took off (minor units); negative when an amount below zero was carried to the balance. */
  credit: string;
  tax: string;
  total: string;
  /** Credit grants used, and a credit carried to the balance (not shown in the API). */
  consumed?: { grantId: string; amount: string }[];
  carried?: string | null;
  /** The minimum spend applied and the period's own charges it was held against (billed_commitments). */
  commitment?: { minimumSpend: string; charges: string };
}

const iso = (d: Date) => d.toISOString();
const day = (d: Date) => d.toISOString().slice(0, 10);

/** What the period's usage of each meter comes to: usage amounts plus its minimum top-up. */
export interface MeterTotal {
  quantity: string;
  usage: string;
  topUp: string;
  /** usage + topUp: what the period bills for the meter. */
  billed: string;
  charge: Charge;
}

export function meterTotals(parts: readonly UsagePart[]): Map<string, MeterTotal> {
  const acc = new Map<string, { quantity: Dec; usage: Dec; charge: Charge }>();
  for (const p of parts) {
    for (const c of p.charges) {
      const t = acc.get(c.meter) ?? { quantity: new Dec(0), usage: new Dec(0), charge: c.charge };
      acc.set(c.meter, { quantity: t.quantity.plus(c.quantity), usage: t.usage.plus(c.amount), charge: c.charge });
    }
  }
  // The minimum is the one of the charge in force at the end: the last part's plan's. A meter
  // that plan does not charge (changed to a plan without it) has no minimum, whatever an
  // earlier plan's charge said.
  const inForce = new Map((parts[parts.length - 1]?.charges ?? []).map((c) => [c.meter, c.charge]));
  const out = new Map<string, MeterTotal>();
  for (const [meter, t] of acc) {
    const minimum = inForce.get(meter)?.minimum;
    const topUp = minimum === undefined ? new Dec(0) : Dec.max(0, new Dec(minimum).minus(t.usage));
    out.set(meter, { quantity: t.quantity.toFixed(), usage: amount6(t.usage), topUp: amount6(topUp), billed: amount6(t.usage.plus(topUp)), charge: t.charge });
  }
  return out;
}

export function composeInvoice(input: {
  minorUnits: number;
  baseFee: readonly BaseFeeLine[];
  usage: readonly UsagePart[];
  adjustments: readonly Adjustment[];
  /** One-off charges added to the subscription since its last invoice (a setup fee, an add-on). */
  charges?: readonly { description: string; amount: string }[];
  /** The subscription's commitment for the period: a minimum spend and/or a committed-use discount. */
  commitment?: { minimumSpend: string | null; discountPercent: string | null } | undefined;
  /** Coupons in force for the period, in the order they were redeemed. */
  discounts?: readonly Discount[];
  /** The customer's credit grants with a balance, in the order they are used. */
  credits?: readonly CreditGrant[];
  /** The customer's tax rate, if any. */
  tax?: { name: string; percent: string } | undefined;
}): ComposedInvoice {
  const lines: InvoiceLine[] = input.baseFee.map((l) => ({
    type: l.type,
    meter: null,
    quantity: null,
    amount: l.amount,
    description: l.description,
    plan: l.plan,
    period: { start: iso(l.start), end: iso(l.end) },
  }));
  for (const p of input.usage) {
    for (const c of p.charges) {
      const line: InvoiceLine = {
        type: 'usage',
        meter: c.meter,
        quantity: c.quantity,
        amount: c.amount,
        description: `${c.meter} on ${p.plan.name} (${c.charge.model}), ${day(p.start)} to ${day(p.end)}`,
        plan: { code: p.plan.code, version: p.plan.version },
        period: { start: iso(p.start), end: iso(p.end) },
      };
      const pricing = linePricing(c.charge, c.quantity, c.amount);
      if (pricing !== undefined) line.pricing = pricing;
      lines.push(line);
    }
  }
  for (const [meter, t] of meterTotals(input.usage)) {
    if (t.topUp === '0.000000') continue;
    lines.push({
      type: 'minimum',
      meter,
      quantity: null,
      amount: t.topUp,
      description: `${meter}: minimum of ${t.charge.minimum} (usage came to ${t.usage})`,
      plan: null,
      period: null,
    });
  }
  // The period's own charges, which its minimum spend is held against: earlier periods'
  // adjustments below are theirs (each with its own period's minimum spend applied).
  const charges = lines.reduce((s, l) => s.plus(l.amount), new Dec(0));
  for (const a of input.adjustments) {
    lines.push({
      type: 'adjustment',
      meter: a.meter,
      quantity: a.quantity,
      amount: a.amount,
      description:
        a.meter === null
          ? `Commitment: minimum spend of ${day(a.periodStart)} to ${day(a.periodEnd)}, held against that period's charges as they are now`
          : `${a.meter}: usage of ${day(a.periodStart)} to ${day(a.periodEnd)} that arrived after it was invoiced`,
      plan: null,
      period: { start: iso(a.periodStart), end: iso(a.periodEnd) },
      adjusts_period_start: iso(a.periodStart),
    });
  }
  const minimumSpend = input.commitment?.minimumSpend ?? null;
  if (minimumSpend !== null && charges.lt(minimumSpend)) {
    lines.push({
      type: 'minimum',
      meter: null,
      quantity: null,
      amount: amount6(new Dec(minimumSpend).minus(charges)),
      description: `Commitment: minimum spend of ${new Dec(minimumSpend).toFixed()} per period (charges came to ${amount6(charges)})`,
      plan: null,
      period: null,
    });
  }
  // After the minimum spend, which they do not count toward; discounted and taxed like the rest.
  for (const c of input.charges ?? []) lines.push({ type: 'charge', meter: null, quantity: null, amount: amount6(new Dec(c.amount)), description: c.description, plan: null, period: null });
  const sum = lines.reduce((s, l) => s.plus(l.amount), new Dec(0));
  const money = (d: Dec) => d.toDecimalPlaces(input.minorUnits, Dec.ROUND_HALF_EVEN).toFixed(input.minorUnits);
  const subtotal = money(sum);
  const committed: Discount[] =
    input.commitment?.discountPercent == null ? [] : [{ code: 'commitment', name: 'Committed-use discount', percent_off: input.commitment.discountPercent, amount_off: null }];
  const off = applyDiscounts(new Dec(subtotal), [...committed, ...(input.discounts ?? [])], input.minorUnits);
  for (const d of off.lines) lines.push({ type: 'discount', meter: null, quantity: null, amount: amount6(new Dec(d.amount).neg()), description: d.description, plan: null, period: null });
  const discounted = new Dec(subtotal).minus(off.total);
  const credit = applyCredits(discounted, input.credits ?? []);
  for (const c of credit.consumed) {
    lines.push({ type: 'credit', meter: null, quantity: null, amount: amount6(new Dec(c.amount).neg()), description: input.credits?.find((g) => g.grantId === c.grantId)?.label ?? `Credit applied (${c.grantId})`, plan: null, period: null });
  }
  if (credit.carried !== null) {
    lines.push({ type: 'credit', meter: null, quantity: null, amount: amount6(new Dec(credit.carried)), description: 'Credit below zero carried to the customer’s credit balance', plan: null, period: null });
  }
  const taxable = discounted.minus(credit.applied);
  // Exclusive tax on what is left after discounts and credits, rounded half-even to the minor unit.
  const tax = input.tax === undefined || taxable.lte(0) ? new Dec(0) : taxable.times(input.tax.percent).div(100).toDecimalPlaces(input.minorUnits, Dec.ROUND_HALF_EVEN);
  if (!tax.isZero()) {
    const percent = new Dec(input.tax!.percent).toFixed();
    lines.push({ type: 'tax', meter: null, quantity: null, amount: amount6(tax), description: `${input.tax!.name} (${percent} %)`, plan: null, period: null, tax_rate: { name: input.tax!.name, percent } });
  }
  const composed: ComposedInvoice = { lines, subtotal, discount: money(new Dec(off.total)), credit: money(new Dec(credit.applied)), tax: money(tax), total: money(taxable.plus(tax)), consumed: credit.consumed, carried: credit.carried };
  if (minimumSpend !== null) composed.commitment = { minimumSpend: new Dec(minimumSpend).toFixed(), charges: amount6(charges) };
  return composed;
}

/**
 * Coupons against the charges, as a pure core, in the order given: a percentage takes that
 * share of what is left (rounded half-even to the currency's minor unit), a fixed amount takes
 * itself or what is left if less. Charges at or below zero take no discount.
 */
export interface Discount {
  code: string;
  name: string;
  percent_off: string | null;
  amount_off: string | null;
}

export function applyDiscounts(due: Dec, discounts: readonly Discount[], minorUnits: number): { lines: { code: string; amount: string; description: string }[]; total: string } {
  const lines: { code: string; amount: string; description: string }[] = [];
  let left = due;
  for (const d of discounts) {
    if (left.lte(0)) break;
    const off =
      d.percent_off !== null
        ? left.times(d.percent_off).div(100).toDecimalPlaces(minorUnits, Dec.ROUND_HALF_EVEN)
        : Dec.min(left, d.amount_off ?? '0');
    if (off.lte(0)) continue;
    lines.push({ code: d.code, amount: off.toFixed(), description: `${d.name} (${d.percent_off !== null ? `${new Dec(d.percent_off).toFixed()} % off` : `${new Dec(d.amount_off!).toFixed()} off`})` });
    left = left.minus(off);
  }
  return { lines, total: due.minus(left).toFixed() };
}

/**
 * Credits against an amount due, as a pure core: the grants are used in the order given
 * (purchased credits first, oldest first) until the amount is covered or they run out, so the
 * total never goes below zero. An amount already below zero (a downgrade credit larger than
 * the charges) uses no grant: it is carried to the customer's balance as a new credit, and the
 * total is zero. `applied` is what the credits take off the amount (negative when carrying).
 */
export interface CreditGrant {
  grantId: string;
  remaining: string;
  /** The line's description when this grant is used (default: "Credit applied (id)"). */
  label?: string;
}

export function applyCredits(due: Dec, grants: readonly CreditGrant[]): { consumed: { grantId: string; amount: string }[]; carried: string | null; applied: string } {
  if (due.isNegative()) return { consumed: [], carried: due.neg().toFixed(), applied: due.toFixed() };
  const consumed: { grantId: string; amount: string }[] = [];
  let left = due;
  for (const g of grants) {
    if (left.lte(0)) break;
    const take = Dec.min(left, g.remaining);
    if (take.lte(0)) continue;
    consumed.push({ grantId: g.grantId, amount: take.toFixed() });
    left = left.minus(take);
  }
  return { consumed, carried: null, applied: due.minus(left).toFixed() };
}
