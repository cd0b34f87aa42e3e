import { TallyError } from '../core/errors.js';
import { minorUnits } from '../core/currency.js';
import type { PostgresStore } from '../core/postgres.js';
import { periodAt, type Period } from '../catalog/periods.js';
import { unstorableField } from '../catalog/subscription-dates.js';
import type { MeterRepository } from '../aggregator/meters.js';
import type { Progress } from '../aggregator/aggregator.js';
import { closePeriods, type CloseDeps, type CloseReport } from './close.js';
import { termsFor } from './terms.js';
import { composeInvoice, type ComposedInvoice } from './invoice.js';
import { lateUsage } from './late-usage.js';
import { availableCredits } from '../catalog/credits.js';
import { allowanceDue, grantsFor, planAt } from './allowance.js';
import { baseFee, usageParts } from './parts.js';
import { ratePeriods, type RatingDeps } from './rating.js';
import { loadSubscriptions, type SubscriptionFacts } from './source.js';

/**
 * Upcoming invoices and period close.
 *
 * A period is closed once it has ended (at its end, or at an immediate cancellation), the
 * grace period for late events has passed, and the aggregator's watermark has reached its end
 * (so every event accepted during the period is in the rollups). Closing rates the period a
 * final time, writes its hourly rated rows, and inserts the invoice with its lines and its
 * Stripe outbox row in one transaction; the (subscription, period) key makes a second close a
 * no-op (close.ts).
 *
 * Usage that changes after its period was invoiced (late events) is billed on the next invoice
 * as adjustment lines: what the period's usage of a meter rates to now, minus what has been
 * billed for it so far (late-usage.ts). The upcoming invoice shows them too.
 */
export interface BillingDeps extends Omit<RatingDeps, 'meter'>, Pick<CloseDeps, 'logger' | 'itemFailures'> {
  pg: PostgresStore;
  meters: MeterRepository;
  closeGraceMs: number;
  watermark: () => Promise<Date>;
  /** Billing sync to Stripe is configured (see CloseDeps). */
  stripeSync?: boolean;
}

export interface InvoiceView extends Omit<ComposedInvoice, 'consumed' | 'carried'> {
  id: string | null;
  subscription: string;
  customer: string;
  currency: string;
  period_start: string;
  period_end: string;
  status: 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';
  stripe_invoice_id: string | null;
  created_at: string | null;
}

export type { CloseReport } from './close.js';

export class Billing {
  /** Rating that looks meters up as it goes (outside transactions). */
  private readonly live: RatingDeps;

  constructor(private readonly d: BillingDeps) {
    this.live = { ch: d.ch, pool: d.pool, meter: (t, k) => d.meters.get(t, k) };
  }

  /**
   * Rating with every meter read up front: close rates inside a transaction, and the embedded
   * Postgres has one connection, which the transaction holds.
   */
  private async preloaded(): Promise<RatingDeps> {
    const all = new Map((await this.d.meters.all()).map((m) => [`${m.tenant_id}\n${m.key}`, m]));
    return { ch: this.d.ch, pool: this.d.pool, meter: (t, k) => Promise.resolve(all.get(`${t}\n${k}`)) };
  }

  /** The open period of a subscription rated so far, in the invoice shape (status draft). */
  async upcoming(tenantId: string, id: string, now: Date): Promise<InvoiceView> {
    const [sub] = await loadSubscriptions(this.d.pg, { tenantId, ids: [id] });
    if (sub === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no subscription ${JSON.stringify(id)}`, { field: 'id' });
    if (sub.canceledAt !== null && sub.canceledAt.getTime() <= now.getTime()) {
      throw new TallyError('TALLY_ERR_NO_UPCOMING_INVOICE', `subscription ${id} was canceled at ${sub.canceledAt.toISOString()}; it has no upcoming invoice`);
    }
    // Only a subscription stored before dates were bounded (or by hand) can hold such a date;
    // nothing about it can be rated, so there is no upcoming invoice to show.
    const unratable = unstorableField(sub);
    if (unratable !== undefined) {
      throw new TallyError('TALLY_ERR_NO_UPCOMING_INVOICE', `subscription ${id} has a ${unratable} the stores cannot hold; it cannot be rated`, { field: unratable });
    }
    const at = now.getTime() < sub.startDate.getTime() ? sub.startDate : now;
    const period = periodAt(sub.startDate, sub.interval, at);
    const [rating] = await ratePeriods(this.live, [{ sub, period, horizon: now.getTime() }]);
    const late = (await lateUsage(this.live, this.d.pg, [{ sub, before: period.start }])).get(sub.id)!;
    const { grants, allowance } = grantsFor(await availableCredits(this.d.pg, [tenantId], [sub.customer]), sub, period);
    // An allowance not granted yet (no close run since the period started) is shown as it will be.
    const due = allowance === undefined ? allowanceDue(sub, period, planAt(sub, at))[0] : undefined;
    const credits = due === undefined ? grants : [...grants, { grantId: 'allowance', remaining: due.amount, label: 'Credit allowance for the period' }];
    const [terms] = await termsFor(this.d.pg, [{ sub, period }]);
    const composed = composeInvoice({ minorUnits: minorUnits(sub.currency), baseFee: baseFee(rating!), usage: usageParts(rating!), adjustments: late.lines, ...terms!, credits });
    return this.view(sub, period, composed, { id: null, status: 'draft', created_at: null });
  }

  /** Closes every period that ended (plus grace) at or before `asOf` (see close.ts). */
  async close(asOf: Date, progress?: Progress, filter: { tenantId?: string } = {}): Promise<CloseReport> {
    return closePeriods(this.d, await this.preloaded(), asOf, progress, filter);
  }

  view(sub: SubscriptionFacts, p: Period, c: ComposedInvoice, meta: { id: string | null; status: InvoiceView['status']; created_at: string | null }): InvoiceView {
    return {
      id: meta.id,
      subscription: sub.id,
      customer: sub.customer,
      currency: sub.currency,
      period_start: p.start.toISOString(),
      period_end: p.end.toISOString(),
      status: meta.status,
      lines: c.lines,
      subtotal: c.subtotal,
      discount: c.discount,
      credit: c.credit,
      tax: c.tax,
      total: c.total,
      stripe_invoice_id: null,
      created_at: meta.created_at,
    };
  }
}
