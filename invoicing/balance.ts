import { minorUnits } from '../core/currency.js';
import { Dec } from '../core/money.js';
import type { Queryable } from '../core/postgres.js';
import type { CreditService } from '../catalog/credits.js';
import { periodAt } from '../catalog/periods.js';
import { allowanceDue, planAt } from './allowance.js';
import type { InvoiceView } from './invoice-view.js';
import { loadSubscriptions, type SubscriptionFacts } from './subscription-facts.js';

/**
 * A customer's prepaid balance now: the credit it holds minus what its open periods have run up
 * so far, in the customer's currency, exact to the minor unit.
 *
 * - `credit`: the remaining purchased credit (and credit carried from earlier invoices or credit
 *   notes), plus each live subscription's credit allowance for the open period, as granted or, if
 *   no close run has granted it yet, as it will be (the plan in force now). An allowance pays only
 *   for its own period's invoice and what that leaves of it expires with the period, so it counts
 *   until the period ends and no longer; allowances of periods already ended do not count. (With
 *   several subscriptions, one's allowance cannot pay another's invoice; the sums do not tell
 *   them apart, the per-subscription parts do.)
 * - `spend`: for each live subscription, its upcoming invoice's charges before credits, that is
 *   subtotal − discount (base fee, usage rated so far, late-usage adjustments and one-off charges
 *   not billed yet, after coupons, commitments and volume discounts). Tax does not count: credits
 *   are applied before tax, and tax is charged only on what credits leave, so a balance at zero or
 *   above means the next invoice is paid by credit in full, tax and all.
 * - A customer without a live subscription (none, not started yet, or canceled) spends nothing.
 */
export interface BalanceView {
  customer: string;
  currency: string;
  credit: string;
  spend: string;
  balance: string;
  as_of: string;
  subscriptions: SubscriptionSpend[];
}

export interface SubscriptionSpend {
  subscription: string;
  period_start: string;
  period_end: string;
  /** The period's credit allowance left (included in `credit`). */
  allowance: string;
  /** The upcoming invoice's subtotal − discount. */
  spend: string;
}

export interface BalanceDeps {
  pg: Queryable;
  credits: Pick<CreditService, 'balance'>;
  /** The subscriptions' upcoming invoices, in the order given (Billing.upcomingMany). */
  upcoming: (tenantId: string, subscriptionIds: readonly string[], now: Date) => Promise<InvoiceView[]>;
}

/** Whether a subscription has an open period at `now`: started and not canceled by then. */
const live = (sub: SubscriptionFacts, now: Date): boolean => sub.startDate.getTime() <= now.getTime() && (sub.canceledAt === null || sub.canceledAt.getTime() > now.getTime());

/** The customer's balance at `now`; undefined for a customer the tenant does not have. */
export async function customerBalance(deps: BalanceDeps, tenantId: string, customerId: string, now: Date): Promise<BalanceView | undefined> {
  const held = await deps.credits.balance(tenantId, customerId);
  if (held === undefined) return undefined;
  const places = minorUnits(held.currency);
  const purchased = held.grants.filter((g) => g.source !== 'allowance').reduce((s, g) => s.plus(g.remaining), new Dec(0));
  const subs = (await loadSubscriptions(deps.pg, { tenantId, customers: [customerId] })).filter((s) => live(s, now));
  const invoices = await deps.upcoming(tenantId, subs.map((s) => s.id), now);
  const subscriptions = subs.map((sub, i): SubscriptionSpend => {
    const period = periodAt(sub.startDate, sub.interval, now);
    const invoice = invoices[i]!;
    const granted = held.grants.find((g) => g.source === 'allowance' && g.subscription === sub.id && g.period_start === period.start.toISOString());
    const allowance = granted !== undefined ? granted.remaining : (allowanceDue(sub, period, planAt(sub, now))[0]?.amount ?? '0');
    return {
      subscription: sub.id,
      period_start: period.start.toISOString(),
      period_end: period.end.toISOString(),
      allowance: new Dec(allowance).toFixed(places),
      spend: new Dec(invoice.subtotal).minus(invoice.discount).toFixed(places),
    };
  });
  const credit = subscriptions.reduce((s, x) => s.plus(x.allowance), purchased);
  const spend = subscriptions.reduce((s, x) => s.plus(x.spend), new Dec(0));
  return {
    customer: customerId,
    currency: held.currency,
    credit: credit.toFixed(places),
    spend: spend.toFixed(places),
    balance: credit.minus(spend).toFixed(places),
    as_of: now.toISOString(),
    subscriptions,
  };
}
