import type { Counter } from 'prom-client';
import { errorSummary, isolate, storesDown } from '../core/isolate.js';
import type { Logger } from '../core/log.js';
import { newId } from '../core/ids.js';
import type { PostgresStore } from '../core/postgres.js';
import { RetrySet } from '../core/retry-set.js';
import { period as periodK, periodAt, type Period } from '../catalog/periods.js';
import { unstorableField } from '../catalog/subscription-dates.js';
import type { Progress } from '../core/progress.js';
import { allocateAllowances } from '../catalog/credits.js';
import { allowanceDue, planAt } from './allowance.js';
import { assembleInvoices } from './assemble.js';
import type { CloseHook } from './close-hooks.js';
import { analyzeInvoiceTables, isDraft, stillToWrite, writeInvoices, type Closing } from './invoice-writes.js';
import { invoicedPeriods } from './invoice-reads.js';
import { planAtEnd } from './terms.js';
import type { RatingDeps } from './rate-periods.js';
import { loadSubscriptions, type SubscriptionFacts } from './subscription-facts.js';
import { RepeatedWarnings } from '../core/repeated-warnings.js';

/** A subscription set aside run after run is logged now and then, not every run (core/repeated-warnings.ts). */
const closeWarnings = new RepeatedWarnings();

/**
 * Period close, in batches: the invoices of every due period of a batch of subscriptions are
 * assembled in one go (assemble.ts: a few ClickHouse queries for the whole batch, not per
 * subscription, late usage of earlier periods re-rated in one go), then the invoices, their
 * lines and what was billed are written in one Postgres transaction per batch, with the batch's
 * subscriptions locked (invoice-writes.ts); the hooks the wiring registers (the Stripe outbox,
 * outbound events: close-hooks.ts) write in that same transaction. A subscription whose period got an invoice meanwhile (another close),
 * or whose billed usage changed since it was read, is left for the next run. A subscription
 * with several ended periods (an import) has them closed oldest first, one round each, so each
 * period's adjustments see what the previous one billed.
 *
 * One subscription never stops the others' invoices: a batch that fails is split until the
 * periods that fail on their own are found (core/isolate.ts). Their subscriptions are logged,
 * counted in `tally_loop_item_failures_total{loop="close"}` and left out of the rest of the run
 * (a later period is never closed before an earlier one); with no invoice written, the next run
 * tries them again. A subscription whose dates the stores cannot hold is left out untried. A
 * failure with a store down fails the run.
 */
export interface CloseReport {
  invoices: number;
  adjustments: number;
  /** Periods that ended but wait for the aggregator (its watermark, a meter's backfill, or a meter it set aside) or the grace period. */
  waiting: number;
  /** Subscriptions set aside by this run (logged and counted; tried again by the next); absent when none. */
  setAside?: number;
}

export interface CloseDeps {
  pg: PostgresStore;
  closeGraceMs: number;
  /** TALLY_INVOICE_REVIEW: invoices with something to pay are written as drafts, numbered and sent when approved. */
  review?: boolean;
  watermark: () => Promise<Date>;
  /** Run in order inside the transaction that writes a batch's invoices (close-hooks.ts): the Stripe outbox, outbound events. */
  afterClose?: readonly CloseHook[];
  logger?: Logger | undefined;
  /** `tally_loop_item_failures_total` (core/metrics.ts loopMetrics). */
  itemFailures?: Counter<'loop'> | undefined;
}

const BATCH = 500;

/** The period's effective end: its end, or an immediate cancellation inside it. */
function effectiveEnd(sub: SubscriptionFacts, p: Period): number {
  return Math.min(p.end.getTime(), Math.max(p.start.getTime(), sub.canceledAt?.getTime() ?? Infinity));
}

interface Due {
  sub: SubscriptionFacts;
  period: Period;
}

export async function closePeriods(d: CloseDeps, rd: RatingDeps, asOf: Date, progress?: Progress, filter: { tenantId?: string } = {}): Promise<CloseReport> {
  const watermark = (await d.watermark()).getTime();
  // Meters whose hourly usage the aggregator has not built yet (defined after their events, or
  // marked for a rebuild by a migration): a period charging one waits, as for the watermark.
  const unbuilt = new Set(
    (await d.pg.query<{ tenant_id: string; key: string }>('SELECT tenant_id, key FROM meters WHERE backfilled_through IS NULL')).rows.map((r) => `${r.tenant_id}\n${r.key}`),
  );
  // Meters the aggregator set aside (a recompute failed while its watermark moved on): their
  // usage is complete only up to the instant their events wait from, so a period charging one
  // and ending after that waits too, instead of closing on short usage.
  const behind = new Map((await new RetrySet(d.pg, 'aggregator').list()).map((i) => [`${i.tenantId}\n${i.item}`, i.since]));
  const incomplete = (key: string, end: number) => unbuilt.has(key) || (behind.get(key) ?? Infinity) < end;
  const waitsForMeters = (sub: SubscriptionFacts, end: number) =>
    (unbuilt.size > 0 || behind.size > 0) &&
    sub.history.some((h) => h.effective_from.getTime() < end && h.plan.charges.some((c) => incomplete(`${sub.tenantId}\n${c.meter}`, end)));
  const subs = await loadSubscriptions(d.pg, filter);
  const closed = new Set((await invoicedPeriods(d.pg, filter.tenantId)).map((r) => `${r.tenantId}\n${r.subscriptionId}\n${r.periodStart.getTime()}`));
  const report: CloseReport = { invoices: 0, adjustments: 0, waiting: 0 };
  const systemic = storesDown(d.pg);
  // Subscriptions set aside by this run, by tenant and id.
  const failed = new Set<string>();
  const keyOf = (sub: SubscriptionFacts) => `${sub.tenantId}\n${sub.id}`;
  const setAside = (sub: SubscriptionFacts, error: unknown) => {
    if (failed.has(keyOf(sub))) return;
    failed.add(keyOf(sub));
    report.setAside = (report.setAside ?? 0) + 1;
    d.itemFailures?.inc({ loop: 'close' });
    const { log, quiet } = closeWarnings.take(keyOf(sub), error);
    if (log) d.logger?.warn({ tenant: sub.tenantId, subscription: sub.id, ...errorSummary(error), ...(quiet > 0 ? { failures_not_logged: quiet } : {}) }, 'closing a subscription failed; it is set aside and tried again on the next run');
  };
  const live: SubscriptionFacts[] = [];
  for (const sub of subs) {
    const field = unstorableField(sub);
    if (field === undefined) live.push(sub);
    else setAside(sub, new RangeError(`its ${field} is outside what the stores hold`));
  }
  // Credit allowances of the periods running now, so a customer's balance shows them while
  // they can be used (the plan in force now decides the amount).
  const running: { sub: SubscriptionFacts; due: ReturnType<typeof allowanceDue> }[] = [];
  for (const sub of live) {
    if (asOf.getTime() < sub.startDate.getTime() || (sub.canceledAt !== null && sub.canceledAt.getTime() <= asOf.getTime())) continue;
    try {
      running.push({ sub, due: allowanceDue(sub, periodAt(sub.startDate, sub.interval, asOf), planAt(sub, asOf)) });
    } catch (e) {
      setAside(sub, e);
    }
  }
  await isolate(running, (items) => allocateAllowances(d.pg, items.flatMap((i) => i.due)), { systemic, setAside: (i, e) => setAside(i.sub, e) });

  // Rounds: round r holds the r-th due period of every subscription.
  const rounds: Due[][] = [];
  for (const sub of live) {
    if (failed.has(keyOf(sub))) continue;
    let r = 0;
    for (let k = 0; ; k++) {
      const p = periodK(sub.startDate, sub.interval, k);
      if (sub.canceledAt !== null && p.start.getTime() >= sub.canceledAt.getTime()) break;
      const end = effectiveEnd(sub, p);
      if (end + d.closeGraceMs > asOf.getTime()) break;
      if (closed.has(`${sub.tenantId}\n${sub.id}\n${p.start.getTime()}`)) continue;
      if (end > watermark || waitsForMeters(sub, end)) {
        report.waiting++;
        break;
      }
      (rounds[r++] ??= []).push({ sub, period: p });
    }
  }
  const total = rounds.reduce((n, r) => n + r.length, 0);
  progress?.start(total, 'close (periods)');
  let batches = 0;
  for (const round of rounds) {
    // A subscription set aside in an earlier round keeps its later periods open too.
    const left = round.filter((due) => !failed.has(keyOf(due.sub)));
    for (let i = 0; i < left.length; i += BATCH) {
      const batch = left.slice(i, i + BATCH);
      if (batches++ % 10 === 0) await analyzeInvoiceTables(d.pg);
      await isolate(
        batch,
        async (items) => {
          const done = await closeBatch(d, rd, [...items], asOf);
          report.invoices += done.invoices;
          report.adjustments += done.adjustments;
        },
        { systemic, setAside: (due, e) => setAside(due.sub, e) },
      );
      progress?.tick(batch.length);
    }
    progress?.tick(round.length - left.length);
  }
  progress?.stop();
  return report;
}

async function closeBatch(d: CloseDeps, rd: RatingDeps, batch: Due[], asOf: Date): Promise<{ invoices: number; adjustments: number }> {
  const { invoices, credits } = await assembleInvoices(
    rd,
    d.pg,
    batch.map((b) => ({ sub: b.sub, period: b.period, horizon: b.period.end.getTime() })),
    { writeVersion: BigInt(asOf.getTime()) * 1000n + 999n, allowance: { mode: 'grant' } },
  );
  const closing: Closing[] = invoices.map((a) => ({ ...a, id: newId('in') }));
  return d.pg.transaction(async (tx) => {
    const go = await stillToWrite(tx, closing, credits);
    if (go.length === 0) return { invoices: 0, adjustments: 0 };
    await writeInvoices(tx, go, asOf, d.review ?? false);
    // What follows a close outside invoicing (the Stripe outbox, outbound events) commits with it.
    const closed = go.map((c) => ({ id: c.id, sub: c.sub, period: c.period, plan: planAtEnd(c), composed: c.composed, draft: isDraft(c, d.review ?? false) }));
    for (const hook of d.afterClose ?? []) await hook(tx, closed, asOf);
    return { invoices: go.length, adjustments: go.reduce((n, c) => n + c.late.lines.length, 0) };
  });
}
