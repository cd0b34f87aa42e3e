import type { Counter } from 'prom-client';
import type { Logger } from '../core/log.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { dunningStage, subscriptionView, type DunningPolicy } from '../catalog/subscriptions.js';
import { emit } from '../webhooks/events.js';

/**
 * Dunning, written: a subscription's stage follows its oldest open invoice that Stripe reported
 * unpaid (a failed payment, one awaiting the customer's authentication, an overdue one), and
 * the policy (catalog/subscriptions.ts): grace, `past_due`, `suspended`, then canceled if
 * configured. Each stage is written once when it is reached and announced as an outbound
 * event, once per unpaid episode: by the Stripe webhook that changed the invoices, and by the
 * sweep that the sync loop runs for the stages that time alone reaches.
 */
export type Written = 'past_due' | 'suspended' | null;

/**
 * Settles one subscription's dunning at `now` inside `tx`; returns the stage written when it
 * changed (`'canceled'` when the policy canceled it), else undefined.
 */
export async function settleDunning(tx: Queryable, tenantId: string, subscriptionId: string, policy: DunningPolicy, now: Date): Promise<Written | 'canceled' | undefined> {
  const sub = (
    await tx.query<{ dunning: Written; past_due_since: Date | null; canceled_at: Date | null }>(
      'SELECT dunning, past_due_since, canceled_at FROM subscriptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
      [tenantId, subscriptionId],
    )
  ).rows[0];
  if (sub === undefined) return undefined;
  const since =
    (
      await tx.query<{ since: Date | null }>(
        "SELECT min(payment_failed_at) AS since FROM invoices WHERE tenant_id = $1 AND subscription_id = $2 AND status = 'open' AND payment_failed_at IS NOT NULL",
        [tenantId, subscriptionId],
      )
    ).rows[0]?.since ?? null;
  const stage = since === null ? undefined : dunningStage(since, now, policy);
  const written: Written = stage === 'past_due' ? 'past_due' : stage === 'suspended' || stage === 'canceled' ? 'suspended' : null;
  const live = sub.canceled_at === null || sub.canceled_at.getTime() > now.getTime();
  const cancel = stage === 'canceled' && live;
  if (written === sub.dunning && since?.getTime() === sub.past_due_since?.getTime() && !cancel) return undefined;
  await tx.query(
    `UPDATE subscriptions SET dunning = $3, past_due_since = $4, canceled_at = CASE WHEN $5 THEN $6 ELSE canceled_at END, updated_at = now()
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, subscriptionId, written, since, cancel, now],
  );
  if (cancel) {
    await tx.query("INSERT INTO subscription_audit (tenant_id, subscription_id, actor, action, details) VALUES ($1, $2, 'dunning', 'cancel', $3)", [
      tenantId,
      subscriptionId,
      JSON.stringify({ reason: 'unpaid', unpaid_since: since!.toISOString() }),
    ]);
    await emit(tx, [{ tenantId, type: 'subscription.canceled', key: `subscription.canceled:${subscriptionId}`, data: await subscriptionView(tx, tenantId, subscriptionId, now, policy) }]);
    return 'canceled';
  }
  if (written === sub.dunning) return undefined;
  // Once per unpaid episode (named by when it began) and stage; recovery names the episode it ends.
  const episode = (since ?? sub.past_due_since)?.toISOString() ?? 'none';
  await tx.query("INSERT INTO subscription_audit (tenant_id, subscription_id, actor, action, details) VALUES ($1, $2, 'dunning', 'dunning', $3)", [
    tenantId,
    subscriptionId,
    JSON.stringify({ from: sub.dunning, to: written, unpaid_since: since?.toISOString() ?? null }),
  ]);
  await emit(tx, [
    { tenantId, type: 'subscription.updated', key: `subscription.dunning:${subscriptionId}:${episode}:${written ?? 'recovered'}`, data: await subscriptionView(tx, tenantId, subscriptionId, now, policy) },
  ]);
  return written;
}

export interface SweepDeps {
  pg: PostgresStore;
  policy: DunningPolicy;
  logger: Logger;
  /** `tally_loop_item_failures_total` (core/metrics.ts loopMetrics). */
  itemFailures?: Counter<'loop'>;
}

/**
 * The stages time alone reaches (grace over, suspension, cancellation): every subscription
 * with an unpaid invoice is settled at `now`, each in its own transaction, so one that fails is
 * logged, counted and left for the next sweep while the others go on.
 */
export async function sweepDunning(d: SweepDeps, now: Date): Promise<{ checked: number; changed: number; failed: number }> {
  const { rows } = await d.pg.query<{ tenant_id: string; id: string }>(
    'SELECT tenant_id, id FROM subscriptions WHERE past_due_since IS NOT NULL AND (canceled_at IS NULL OR canceled_at > $1) ORDER BY tenant_id, id',
    [now],
  );
  const report = { checked: rows.length, changed: 0, failed: 0 };
  for (const r of rows) {
    try {
      const changed = await d.pg.transaction((tx) => settleDunning(tx, r.tenant_id, r.id, d.policy, now));
      if (changed !== undefined) report.changed++;
    } catch (e) {
      report.failed++;
      d.itemFailures?.inc({ loop: 'dunning' });
      d.logger.warn({ tenant: r.tenant_id, subscription: r.id, message: e instanceof Error ? e.message : String(e) }, 'dunning: settling a subscription failed; the next sweep tries again');
    }
  }
  return report;
}
