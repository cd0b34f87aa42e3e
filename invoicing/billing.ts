import { TallyError } from '../core/errors.js';
import { invoiceChargesNow } from './invoice-now.js';
import type { PostgresStore } from '../core/postgres.js';
import { periodAt } from '../catalog/periods.js';
import { unstorableField } from '../catalog/subscription-dates.js';
import type { MeterRepository } from '../metering/meters.js';
import type { Progress } from '../core/progress.js';
import { assembleInvoices } from './assemble.js';
import { closePeriods, type CloseDeps, type CloseReport } from './close.js';
import { invoiceView, type InvoiceView } from './invoice-view.js';
import type { RatingDeps } from './rate-periods.js';
import { loadSubscriptions } from './subscription-facts.js';

/**
 * Upcoming invoices and period close.
 *
 * A period is closed once it has ended (at its end, or at an immediate cancellation), the
 * grace period for late events has passed, and the aggregator's watermark has reached its end
 * (so every event accepted during the period is in the rollups), as has the watermark of each
 * meter it charges (a meter not backfilled yet, or set aside after a failed recompute, waits). Closing rates the period a
 * final time, writes its hourly rated rows, and inserts the invoice with its lines in one
 * transaction, with whatever the wiring registers to follow a close (its Stripe outbox row,
 * its outbound events); the (subscription, period) key makes a second close a no-op (close.ts).
 * Both come from one pipeline (assemble.ts), so an upcoming invoice is what close would write.
 *
 * Usage that changes after its period was invoiced (late events) is billed on the next invoice
 * as adjustment lines: what the period's usage of a meter rates to now, minus what has been
 * billed for it so far (late-usage.ts). The upcoming invoice shows them too.
 */
export interface BillingDeps extends Omit<RatingDeps, 'meter'>, Pick<CloseDeps, 'logger' | 'itemFailures' | 'afterClose' | 'review'> {
  pg: PostgresStore;
  meters: MeterRepository;
  closeGraceMs: number;
  watermark: () => Promise<Date>;
}

export type { InvoiceView } from './invoice-view.js';
export type { CloseReport } from './close.js';

export class Billing {
  /** Rating that looks meters up as it goes (outside transactions). */
  private readonly live: RatingDeps;

  constructor(private readonly d: BillingDeps) {
    this.live = { ch: d.ch, usage: d.usage, pool: d.pool, meter: (t, k) => d.meters.get(t, k) };
  }

  /**
   * Rating with every meter read up front: close rates inside a transaction, and the embedded
   * Postgres has one connection, which the transaction holds.
   */
  private async preloaded(): Promise<RatingDeps> {
    const all = new Map((await this.d.meters.all()).map((m) => [`${m.tenant_id}\n${m.key}`, m]));
    return { ch: this.d.ch, usage: this.d.usage, pool: this.d.pool, meter: (t, k) => Promise.resolve(all.get(`${t}\n${k}`)) };
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
    const { invoices } = await assembleInvoices(this.live, this.d.pg, [{ sub, period, horizon: now.getTime() }], { allowance: { mode: 'preview', at } });
    return invoiceView(sub, period, invoices[0]!.composed, { id: null, status: 'draft', created_at: null });
  }

  /** The subscription's pending one-off charges on an invoice of their own, now (invoice-now.ts). */
  invoiceChargesNow(tenantId: string, subscriptionId: string, now: Date, chargeId?: string): Promise<string | undefined> {
    return invoiceChargesNow({ pg: this.d.pg, review: this.d.review ?? false, afterClose: this.d.afterClose ?? [] }, tenantId, subscriptionId, now, chargeId);
  }

  /** Closes every period that ended (plus grace) at or before `asOf` (see close.ts). */
  async close(asOf: Date, progress?: Progress, filter: { tenantId?: string } = {}): Promise<CloseReport> {
    return closePeriods(this.d, await this.preloaded(), asOf, progress, filter);
  }
}
