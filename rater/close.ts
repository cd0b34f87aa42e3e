import type { Counter } from 'prom-client';
import { minorUnits } from '../core/currency.js';
import { errorSummary, isolate, storesDown } from '../core/isolate.js';
import type { Logger } from '../core/log.js';
import { newId } from '../core/ids.js';
import type { PostgresStore } from '../core/postgres.js';
import { period as periodK, periodAt, type Period } from '../catalog/periods.js';
import { unstorableField } from '../catalog/subscription-dates.js';
import { enqueue } from '../billing-sync/outbox.js';
import { emit } from '../notify/events.js';
import { eventsOf } from '../notify/payloads.js';
import { invoiceSummaries } from './invoices.js';
import { subscriptionView } from '../catalog/subscriptions.js';
import type { Progress } from '../aggregator/aggregator.js';
import { Dec } from '../core/money.js';
import { composeInvoice, meterTotals, type ComposedInvoice } from './invoice.js';
import { allocateAllowances, availableCredits } from '../catalog/credits.js';
import { allowanceDue, allowanceLeft, grantsFor, planAt } from './allowance.js';
import { lateUsage, type LateUsage } from './late-usage.js';
import { baseFee, usageParts } from './parts.js';
import { planAtEnd, termsFor } from './terms.js';
import { ratePeriods, type RatingDeps } from './rating.js';
import { loadSubscriptions, type SubscriptionFacts } from './source.js';

/**
 * Period close, in batches: every due period of a batch of subscriptions is rated in one go
 * (a few ClickHouse queries for the whole batch, not per subscription), late usage of earlier
 * periods is found and re-rated in one go, and the invoices, their lines, what was billed and
 * the Stripe outbox rows are written in one Postgres transaction per batch, with the batch's
 * subscriptions locked. A subscription whose period got an invoice meanwhile (another close),
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
  /** Periods that ended but wait for the aggregator or the grace period. */
  waiting: number;
  /** Subscriptions set aside by this run (logged and counted; tried again by the next); absent when none. */
  setAside?: number;
}

export interface CloseDeps {
  pg: PostgresStore;
  closeGraceMs: number;
  watermark: () => Promise<Date>;
  /**
   * Whether billing sync to Stripe is configured: then an invoice-mode plan's invoice is
   * `invoice.finalized` when Stripe finalizes it; otherwise (and for meter-mode plans, which
   * Stripe invoices itself) Tally's invoice is final as it is written.
   */
  stripeSync?: boolean;
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

interface Closing extends Due {
  id: string;
  composed: ComposedInvoice;
  totals: ReturnType<typeof meterTotals>;
  late: LateUsage;
  /** What the invoice leaves of its period's credit allowance, expired with it. */
  expire: { grantId: string; amount: string } | null;
}

export async function closePeriods(d: CloseDeps, rd: RatingDeps, asOf: Date, progress?: Progress, filter: { tenantId?: string } = {}): Promise<CloseReport> {
  const watermark = (await d.watermark()).getTime();
  const subs = await loadSubscriptions(d.pg, filter);
  const { rows } = await d.pg.query<{ tenant_id: string; subscription_id: string; period_start: Date }>(
    'SELECT tenant_id, subscription_id, period_start FROM invoices WHERE ($1::text IS NULL OR tenant_id = $1)',
    [filter.tenantId ?? null],
  );
  const closed = new Set(rows.map((r) => `${r.tenant_id}\n${r.subscription_id}\n${r.period_start.getTime()}`));
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
    d.logger?.warn({ tenant: sub.tenantId, subscription: sub.id, ...errorSummary(error) }, 'closing a subscription failed; it is set aside and tried again on the next run');
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
      if (end > watermark) {
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
      // The tables this writes grow fast during a large close; Postgres plans with the sizes
      // it last measured, and an embedded Postgres has no autovacuum to measure them again.
      if (batches++ % 10 === 0) await d.pg.query('ANALYZE invoices, invoice_lines, billed_usage, stripe_outbox');
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
  const ratings = await ratePeriods(
    rd,
    batch.map((b) => ({ sub: b.sub, period: b.period, horizon: b.period.end.getTime() })),
    { writeVersion: BigInt(asOf.getTime()) * 1000n + 999n },
  );
  const late = await lateUsage(rd, d.pg, batch.map((b) => ({ sub: b.sub, before: b.period.start })));
  // A period's allowance is granted before its invoice is composed, if the run that saw the
  // period start did not (the plan at the period's end decides the amount then).
  await allocateAllowances(d.pg, batch.flatMap((b) => allowanceDue(b.sub, b.period, planAtEnd(b))));
  // Credits as read now; used up in memory as the batch's invoices take them (a customer may
  // have several subscriptions in one batch), and checked again under lock before writing.
  const snapshot = await availableCredits(d.pg, batch.map((b) => b.sub.tenantId), batch.map((b) => b.sub.customer));
  const remaining = new Map(snapshot.map((a) => [a.grantId, a]));
  const terms = await termsFor(d.pg, batch);
  const closing: Closing[] = batch.map((b, i) => {
    const rating = ratings[i]!;
    const usage = usageParts(rating);
    const l = late.get(b.sub.id)!;
    const { grants, allowance } = grantsFor([...remaining.values()], b.sub, b.period);
    const composed = composeInvoice({ minorUnits: minorUnits(b.sub.currency), baseFee: baseFee(rating), usage, adjustments: l.lines, ...terms[i]!, credits: grants });
    for (const c of composed.consumed ?? []) {
      const g = remaining.get(c.grantId)!;
      remaining.set(c.grantId, { ...g, remaining: new Dec(g.remaining).minus(c.amount).toFixed() });
    }
    const left = allowanceLeft(allowance, composed.consumed ?? []);
    return { ...b, id: newId('in'), composed, totals: meterTotals(usage), late: l, expire: left === null ? null : { grantId: allowance!.grantId, amount: left } };
  });

  return d.pg.transaction(async (tx) => {
    const tenants = closing.map((c) => c.sub.tenantId);
    const ids = closing.map((c) => c.sub.id);
    // `= ANY` on each key column lets Postgres use the indexes (a row-value IN over unnest
    // scans the table); rows of other (tenant, id) combinations are filtered out below.
    await tx.query('SELECT 1 FROM subscriptions WHERE tenant_id = ANY($1) AND id = ANY($2) ORDER BY tenant_id, id FOR UPDATE', [[...new Set(tenants)], ids]);
    const existing = await tx.query<{ tenant_id: string; subscription_id: string; period_start: Date }>(
      'SELECT tenant_id, subscription_id, period_start FROM invoices WHERE tenant_id = ANY($1) AND subscription_id = ANY($2) AND period_start = ANY($3)',
      [[...new Set(tenants)], ids, closing.map((c) => c.period.start)],
    );
    const billed = await tx.query<{ tenant_id: string; subscription_id: string; mark: string }>(
      `SELECT tenant_id, subscription_id, count(*) || '/' || coalesce(max(updated_at)::text, '') AS mark FROM billed_usage
        WHERE tenant_id = ANY($1) AND subscription_id = ANY($2) GROUP BY tenant_id, subscription_id`,
      [[...new Set(tenants)], ids],
    );
    // Credits used meanwhile by another close: those customers' invoices wait for the next run.
    await tx.query('SELECT 1 FROM credit_grants WHERE tenant_id = ANY($1) AND customer_id = ANY($2) FOR UPDATE', [[...new Set(tenants)], closing.map((c) => c.sub.customer)]);
    const now = new Map((await availableCredits(tx, tenants, closing.map((c) => c.sub.customer))).map((a) => [a.grantId, a.remaining]));
    const stale = new Set(snapshot.filter((a) => now.get(a.grantId) !== a.remaining).map((a) => a.customer));
    const periodOf = new Map(closing.map((c) => [`${c.sub.tenantId}\n${c.sub.id}`, c.period.start.getTime()]));
    const skip = new Set(existing.rows.filter((r) => periodOf.get(`${r.tenant_id}\n${r.subscription_id}`) === r.period_start.getTime()).map((r) => `${r.tenant_id}\n${r.subscription_id}`));
    const marks = new Map(billed.rows.map((r) => [`${r.tenant_id}\n${r.subscription_id}`, r.mark]));
    const go = closing.filter((c) => {
      const key = `${c.sub.tenantId}\n${c.sub.id}`;
      return !skip.has(key) && (marks.get(key) ?? '') === c.late.mark && !stale.has(`${c.sub.tenantId}\n${c.sub.customer}`);
    });
    if (go.length === 0) return { invoices: 0, adjustments: 0 };

    await tx.query(
      `INSERT INTO invoices (tenant_id, id, subscription_id, customer_id, currency, period_start, period_end, status, subtotal, discount, tax, total, credit, closed_as_of)
       SELECT *, $14::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[], $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[])`,
      [
        go.map((c) => c.sub.tenantId),
        go.map((c) => c.id),
        go.map((c) => c.sub.id),
        go.map((c) => c.sub.customer),
        go.map((c) => c.sub.currency),
        go.map((c) => c.period.start),
        go.map((c) => c.period.end),
        go.map((c) => (new Dec(c.composed.total).isZero() ? 'paid' : 'open')),
        go.map((c) => c.composed.subtotal),
        go.map((c) => c.composed.discount),
        go.map((c) => c.composed.tax),
        go.map((c) => c.composed.total),
        go.map((c) => c.composed.credit),
        asOf,
      ],
    );
    const uses = go.flatMap((c) => [
      ...(c.composed.consumed ?? []).map((u) => ({ c, kind: 'consume', ...u })),
      ...(c.expire === null ? [] : [{ c, kind: 'expire', ...c.expire }]),
    ]);
    await tx.query(
      `INSERT INTO credit_entries (tenant_id, grant_id, customer_id, kind, amount, invoice_id)
       SELECT t, g, cu, k, -a, i FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[]) AS x(t, g, cu, k, a, i)`,
      [uses.map((x) => x.c.sub.tenantId), uses.map((x) => x.grantId), uses.map((x) => x.c.sub.customer), uses.map((x) => x.kind), uses.map((x) => x.amount), uses.map((x) => x.c.id)],
    );
    const carried = go.filter((c) => c.composed.carried != null);
    await tx.query(
      `INSERT INTO credit_grants (tenant_id, id, customer_id, currency, amount, source, reason, invoice_id, actor)
       SELECT t, 'cred_' || i, cu, cur, a, 'invoice_credit', 'charges below zero on invoice ' || i, i, 'close' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[]) AS x(t, i, cu, cur, a)`,
      [carried.map((c) => c.sub.tenantId), carried.map((c) => c.id), carried.map((c) => c.sub.customer), carried.map((c) => c.sub.currency), carried.map((c) => c.composed.carried!)],
    );
    const lines = go.flatMap((c) => c.composed.lines.map((l, i) => ({ c, l, n: i + 1 })));
    await tx.query(
      `INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, type, meter, quantity, amount, description, plan_code, plan_version, line_start, line_end, adjusts_period_start)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::text[], $9::text[], $10::int[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[])`,
      [
        lines.map((x) => x.c.sub.tenantId),
        lines.map((x) => x.c.id),
        lines.map((x) => x.n),
        lines.map((x) => x.l.type),
        lines.map((x) => x.l.meter),
        lines.map((x) => x.l.quantity),
        lines.map((x) => x.l.amount),
        lines.map((x) => x.l.description),
        lines.map((x) => x.l.plan?.code ?? null),
        lines.map((x) => x.l.plan?.version ?? null),
        lines.map((x) => x.l.period?.start ?? null),
        lines.map((x) => x.l.period?.end ?? null),
        lines.map((x) => x.l.adjusts_period_start ?? null),
      ],
    );
    const billedRows = go.flatMap((c) => [
      ...[...c.totals].map(([meter, t]) => ({ c, periodStart: c.period.start, meter, quantity: t.quantity, amount: t.billed })),
      ...c.late.updates.map((u) => ({ c, periodStart: u.periodStart, meter: u.meter, quantity: u.quantity, amount: u.amount })),
    ]);
    await tx.query(
      `INSERT INTO billed_usage (tenant_id, subscription_id, period_start, meter, quantity, amount)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::numeric[], $6::numeric[])
       ON CONFLICT (tenant_id, subscription_id, period_start, meter) DO UPDATE SET quantity = EXCLUDED.quantity, amount = EXCLUDED.amount, updated_at = now()`,
      [
        billedRows.map((b) => b.c.sub.tenantId),
        billedRows.map((b) => b.c.sub.id),
        billedRows.map((b) => b.periodStart),
        billedRows.map((b) => b.meter),
        billedRows.map((b) => b.quantity),
        billedRows.map((b) => b.amount),
      ],
    );
    // The intent to put each invoice in Stripe commits with it (billing-sync/outbox.ts).
    // Plans billed through Stripe Billing Meters are invoiced by Stripe; their usage is pushed hourly instead.
    const invoiced = go.filter((c) => planAtEnd(c).billing_mode === 'invoice');
    await enqueue(tx, invoiced.map((c) => ({ tenantId: c.sub.tenantId, kind: 'invoice' as const, ref: c.id })));
    // Outbound webhooks commit with the invoices too (notify/events.ts).
    const written = await invoiceSummaries(tx, go.map((c) => ({ tenantId: c.sub.tenantId, id: c.id })));
    const finalHere = new Set(go.filter((c) => d.stripeSync !== true || planAtEnd(c).billing_mode !== 'invoice').map((c) => c.id));
    const paid = new Set(go.filter((c) => new Dec(c.composed.total).isZero()).map((c) => c.id));
    await emit(tx, [
      ...eventsOf(written, 'invoice.created'),
      ...eventsOf(written.filter((w) => finalHere.has(w.invoice.id)), 'invoice.finalized'),
      ...eventsOf(written.filter((w) => paid.has(w.invoice.id)), 'invoice.paid'),
      // The period that ends a canceled subscription is its last: it is now canceled for good
      // (an immediate cancellation emitted this when it was made; the key makes it once).
      ...(await Promise.all(
        go
          .filter((c) => c.sub.canceledAt !== null && c.sub.canceledAt.getTime() <= c.period.end.getTime())
          .map(async (c) => ({ tenantId: c.sub.tenantId, type: 'subscription.canceled' as const, key: `subscription.canceled:${c.sub.id}`, data: await subscriptionView(tx, c.sub.tenantId, c.sub.id, asOf) })),
      )),
    ]);
    return { invoices: go.length, adjustments: go.reduce((n, c) => n + c.late.lines.length, 0) };
  });
}
