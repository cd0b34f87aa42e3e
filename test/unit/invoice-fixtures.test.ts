import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { minorUnits } from '../../core/currency.js';
import { baseFeeLines, type FeePlan } from '../../rating/base-fee.js';
import { rate, type ChargeCard } from '../../rating/core.js';
import { composeInvoice, type CreditGrant, type Discount, type UsagePart } from '../../invoicing/compose.js';
import type { Charge } from '../../catalog/plans.js';
import { allowanceLeft } from '../../invoicing/allowance.js';

/**
 * Golden invoices (test/fixtures/invoices.json): a period, a plan history and usage per plan
 * segment in, the lines and totals out — every model and option, prorations and trials,
 * commitments, volume discounts, coupons, credits, credit allowances and taxes alone and together, in two-, zero- and three-decimal currencies.
 */
interface Fixture {
  name: string;
  currency: string;
  period: { start: string; end: string };
  trial_end?: string;
  history: { effective_from: string; plan: FeePlan; prorate: boolean }[];
  usage: { plan: { code: string; version: number; name: string }; start: string; end: string; charges: { card: ChargeCard & { meter: string }; quantity: string }[] }[];
  discounts?: Discount[];
  credits?: CreditGrant[];
  /** The period's credit allowance, used after the credits. */
  allowance?: CreditGrant;
  tax?: { name: string; percent: string };
  commitment?: { minimumSpend: string | null; discountPercent: string | null };
  expected: { lines: [string, string | null, string | null, string][]; subtotal: string; total: string; expired?: string | null };
}
const fixtures = JSON.parse(readFileSync(path.join(packageRoot(), 'test', 'fixtures', 'invoices.json'), 'utf8')) as Fixture[];

describe('invoices: golden fixtures', () => {
  it.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    const period = { start: new Date(f.period.start), end: new Date(f.period.end) };
    const baseFee = baseFeeLines({
      period,
      window: { ...period, final: false },
      trialEnd: f.trial_end === undefined ? null : new Date(f.trial_end),
      history: f.history.map((h) => ({ ...h, effective_from: new Date(h.effective_from) })),
    });
    const usage: UsagePart[] = f.usage.map((u) => ({
      plan: u.plan,
      start: new Date(u.start),
      end: new Date(u.end),
      charges: u.charges.map((c) => ({ meter: c.card.meter, charge: c.card as Charge, quantity: c.quantity, amount: rate(c.card, c.quantity).amount })),
    }));
    const inv = composeInvoice({ minorUnits: minorUnits(f.currency), baseFee, usage, adjustments: [], commitment: f.commitment, discounts: f.discounts ?? [], credits: [...(f.credits ?? []), ...(f.allowance === undefined ? [] : [f.allowance])], tax: f.tax });
    const expired = f.allowance === undefined ? {} : { expired: allowanceLeft(f.allowance, inv.consumed ?? []) };
    expect({ lines: inv.lines.map((l) => [l.type, l.meter, l.quantity, l.amount]), subtotal: inv.subtotal, total: inv.total, ...expired }).toEqual(f.expected);
  });
});
