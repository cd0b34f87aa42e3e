import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { parseTimestamp } from '../core/time.js';
import { periodAt, type Interval } from './periods.js';
import { invalidStart } from './subscription-dates.js';

/**
 * Subscriptions: a customer on a plan version from a start date. Nothing time-dependent is
 * flipped by a job; the state at an instant is derived from stored facts (see 0006 migration):
 * the plan in force, a cancellation (now or at a period end), the trial end, and the dunning
 * state that billing sets. Every change is written to the audit table with who made it.
 */
export type Status = 'trialing' | 'active' | 'past_due' | 'suspended' | 'canceled';

export interface Facts {
  trial_end: Date | null;
  canceled_at: Date | null;
  dunning: 'past_due' | 'suspended' | null;
  /** Since when billing has had a failed, unpaid invoice (set with dunning by webhooks). */
  past_due_since?: Date | null;
}

/**
 * What happens to a subscription while an invoice of it stays unpaid, measured from the first
 * unpaid failure (`past_due_since`): still `active` for a grace period, then `past_due`, then
 * `suspended`, then (if configured) canceled. TALLY_DUNNING_GRACE_DAYS, _SUSPEND_DAYS and
 * _CANCEL_DAYS; a stage never configured is never reached.
 */
export interface DunningPolicy {
  graceMs: number;
  suspendAfterMs: number;
  cancelAfterMs: number;
}

/** No policy: past due from the first failure, never suspended or canceled. */
export const NO_DUNNING: DunningPolicy = { graceMs: 0, suspendAfterMs: Infinity, cancelAfterMs: Infinity };

export type DunningStage = 'grace' | 'past_due' | 'suspended' | 'canceled';

/** The stage of a subscription unpaid since `since` at `now`. */
export function dunningStage(since: Date, now: Date, policy: DunningPolicy): DunningStage {
  const unpaidMs = now.getTime() - since.getTime();
  if (unpaidMs >= policy.cancelAfterMs) return 'canceled';
  if (unpaidMs >= policy.suspendAfterMs) return 'suspended';
  if (unpaidMs >= policy.graceMs) return 'past_due';
  return 'grace';
}

/**
 * The status at `now`, from the facts. While an invoice is unpaid, the stage of the dunning
 * policy is read from `past_due_since`, so a read is right at once; the dunning sweep writes
 * each stage (and announces it) when it is reached, and cancels when the policy says so.
 */
export function statusAt(f: Facts, now: Date, policy: DunningPolicy = NO_DUNNING): Status {
  if (f.canceled_at !== null && f.canceled_at.getTime() <= now.getTime()) return 'canceled';
  // The stage written is a floor (Stripe's own subscription may have said past_due); the stage
  // reached by now may be further. Cancellation is written by the sweep with its event, never read ahead of it.
  const stage = f.past_due_since == null ? 'grace' : dunningStage(f.past_due_since, now, policy);
  if (stage === 'suspended' || stage === 'canceled' || f.dunning === 'suspended') return 'suspended';
  if (stage === 'past_due' || f.dunning === 'past_due') return 'past_due';
  if (f.trial_end !== null && f.trial_end.getTime() > now.getTime()) return 'trialing';
  return 'active';
}

const instant = z.string().refine((s) => parseTimestamp(s) !== undefined, 'must be an RFC 3339 timestamp with a time zone');

/** Seats: the base fee is charged per seat (Stripe's licensed quantity). */
export const MAX_QUANTITY = 1_000_000;
const quantity = z.number().int('must be a whole number of seats').min(1).max(MAX_QUANTITY);

export const CreateSubscription = z.strictObject({
  customer: z.string().min(1).max(256),
  plan: z.string().min(1).max(64),
  quantity: quantity.optional(),
  start_date: instant.optional(),
  trial_days: z.number().int().min(0).max(730).optional(),
});
export const ChangeSubscription = z
  .strictObject({
    /** The plan to move to (its latest version); the current plan version when only the quantity changes. */
    plan: z.string().min(1).max(64).optional(),
    quantity: quantity.optional(),
    prorate: z.boolean().optional(),
    at: z.enum(['now', 'period_end']).optional(),
  })
  .refine((c) => c.plan !== undefined || c.quantity !== undefined, { message: 'give a plan, a quantity, or both', path: ['plan'] });
export const CancelSubscription = z.strictObject({ at_period_end: z.boolean().optional() });

export interface SubscriptionView {
  id: string;
  customer: string;
  plan: { code: string; version: number };
  /** Seats: how many of the plan; its base fee is charged per seat. */
  quantity: number;
  status: Status;
  start_date: string;
  trial_end: string | null;
  current_period: { start: string; end: string };
  cancel_at: string | null;
  canceled_at: string | null;
  pending_change: { plan: { code: string; version: number }; quantity: number; at: string; prorate: boolean } | null;
  created_at: string;
  updated_at: string;
}

/** What reads of the subscription in force need of it (see liveByCustomer). */
export type LiveSubscription = Pick<SubscriptionView, 'id' | 'customer' | 'plan' | 'status' | 'start_date' | 'current_period'>;

interface Row {
  id: string;
  customer_id: string;
  interval: Interval;
  start_date: Date;
  trial_end: Date | null;
  canceled_at: Date | null;
  dunning: 'past_due' | 'suspended' | null;
  past_due_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface PlanRow {
  effective_from: Date;
  plan_code: string;
  plan_version: number;
  prorate: boolean;
  quantity: number;
}

const DAY_MS = 86_400_000;

/**
 * A change to announce (outbound `subscription.*` events), handed to the hook the wiring
 * registers (app/api.ts) inside the change's transaction, with it, so what the hook writes
 * commits with the change or not at all.
 */
export interface SubscriptionChange {
  tenantId: string;
  type: 'subscription.updated' | 'subscription.canceled';
  /** What makes the announcement once: the audit entry of the change, or the cancellation. */
  key: string;
  data: SubscriptionView | undefined;
}

export type SubscriptionHook = (tx: Queryable, change: SubscriptionChange) => Promise<void>;

export class SubscriptionService {
  constructor(
    private readonly pg: PostgresStore,
    /** The stages of an unpaid subscription (TALLY_DUNNING_*). */
    private readonly dunning: DunningPolicy = NO_DUNNING,
    /** Called with each change that is announced (none by default). */
    private readonly onChange: SubscriptionHook = () => Promise.resolve(),
  ) {}

  async create(tenantId: string, input: z.output<typeof CreateSubscription>, actor: string, now: Date): Promise<SubscriptionView> {
    return this.pg.transaction(async (tx) => {
      // FOR SHARE: a deletion of the customer (which takes its row FOR UPDATE and refuses while
      // it has a live subscription) waits for this one to commit, or this one for it, and then
      // finds it deleted; neither can miss the other.
      const customer = await tx.query<{ currency: string }>('SELECT currency FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR SHARE', [tenantId, input.customer]);
      if (customer.rows[0] === undefined) throw new TallyError('TALLY_ERR_CUSTOMER_NOT_FOUND', `no customer ${JSON.stringify(input.customer)}`, { field: 'customer' });
      const plan = await latestPlan(tx, tenantId, input.plan);
      if (plan.currency !== customer.rows[0].currency) {
        throw new TallyError('TALLY_ERR_CURRENCY_MISMATCH', `plan ${plan.code} is priced in ${plan.currency} but the customer pays in ${customer.rows[0].currency}`, { field: 'plan' });
      }
      const start = input.start_date === undefined ? now : new Date(parseTimestamp(input.start_date)!);
      // Dates the stores cannot hold would make every rating of the subscription fail (see subscription-dates.ts).
      const badStart = invalidStart(start.getTime(), now.getTime());
      if (badStart !== undefined) throw new TallyError('TALLY_ERR_INVALID_VALUE', `start_date ${badStart}`, { field: 'start_date' });
      const trialDays = input.trial_days ?? plan.trial_days;
      const trialEnd = trialDays > 0 ? new Date(start.getTime() + trialDays * DAY_MS) : null;
      const id = newId('sub');
      await tx.query('INSERT INTO subscriptions (tenant_id, id, customer_id, interval, start_date, trial_end) VALUES ($1, $2, $3, $4, $5, $6)', [tenantId, id, input.customer, plan.interval, start, trialEnd]);
      const seats = input.quantity ?? 1;
      await tx.query('INSERT INTO subscription_plans (tenant_id, subscription_id, effective_from, plan_code, plan_version, quantity) VALUES ($1, $2, $3, $4, $5, $6)', [tenantId, id, start, plan.code, plan.version, seats]);
      await audit(tx, tenantId, id, actor, 'created', { plan: plan.code, version: plan.version, quantity: seats, start_date: start.toISOString(), trial_end: trialEnd?.toISOString() ?? null });
      return (await this.view(tx, tenantId, id, now))!;
    });
  }

  get(tenantId: string, id: string, now: Date): Promise<SubscriptionView | undefined> {
    return this.view(this.pg, tenantId, id, now);
  }

  async list(tenantId: string, customer: string | undefined, limit: number, after: string | undefined, now: Date): Promise<{ data: SubscriptionView[]; has_more: boolean }> {
    const { rows } = await this.pg.query<{ id: string }>(
      `SELECT id FROM subscriptions WHERE tenant_id = $1 AND ($2::text IS NULL OR customer_id = $2) AND ($3::text IS NULL OR id > $3) ORDER BY id LIMIT $4`,
      [tenantId, customer ?? null, after ?? null, limit + 1],
    );
    const data: SubscriptionView[] = [];
    for (const r of rows.slice(0, limit)) data.push((await this.view(this.pg, tenantId, r.id, now))!);
    return { data, has_more: rows.length > limit };
  }

  /**
   * Per customer (every one of the tenant's, or one), the subscription in force at `now`:
   * started, not canceled, the one that started last; customers without one are left out.
   * One query, for what reads many customers at once (entitlement checks).
   */
  async liveByCustomer(tenantId: string, customer: string | undefined, now: Date): Promise<Map<string, LiveSubscription>> {
    const { rows } = await this.pg.query<Row & { plan_code: string; plan_version: number }>(
      `SELECT s.*, sp.plan_code, sp.plan_version FROM subscriptions s
         JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id AND c.deleted_at IS NULL
         JOIN LATERAL (SELECT plan_code, plan_version FROM subscription_plans p
                        WHERE p.tenant_id = s.tenant_id AND p.subscription_id = s.id AND p.effective_from <= $3
                        ORDER BY p.effective_from DESC LIMIT 1) sp ON true
        WHERE s.tenant_id = $1 AND ($2::text IS NULL OR s.customer_id = $2) AND s.start_date <= $3
          AND (s.canceled_at IS NULL OR s.canceled_at > $3)
        ORDER BY s.customer_id, s.start_date, s.id`,
      [tenantId, customer ?? null, now],
    );
    const live = new Map<string, LiveSubscription>();
    for (const s of rows) {
      const status = statusAt(s, now, this.dunning);
      if (status === 'canceled') continue;
      const p = periodAt(s.start_date, s.interval, now);
      // Ordered by start: the last one kept is the one that started last.
      live.set(s.customer_id, {
        id: s.id,
        customer: s.customer_id,
        plan: { code: s.plan_code, version: s.plan_version },
        status,
        start_date: s.start_date.toISOString(),
        current_period: { start: p.start.toISOString(), end: p.end.toISOString() },
      });
    }
    return live;
  }

  async cancel(tenantId: string, id: string, atPeriodEnd: boolean, actor: string, now: Date): Promise<SubscriptionView | undefined> {
    return this.pg.transaction(async (tx) => {
      const sub = await lock(tx, tenantId, id);
      if (sub === undefined) return undefined;
      if (statusAt(sub, now) === 'canceled') throw new TallyError('TALLY_ERR_INVALID_TRANSITION', 'the subscription is already canceled', { field: 'id' });
      const at = atPeriodEnd ? periodAt(sub.start_date, sub.interval, now).end : now;
      const changed = sub.canceled_at === null || sub.canceled_at.getTime() !== at.getTime();
      let seq = '';
      if (changed) {
        await tx.query('UPDATE subscriptions SET canceled_at = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [tenantId, id, at]);
        seq = await audit(tx, tenantId, id, actor, atPeriodEnd ? 'cancel_scheduled' : 'canceled', { at: at.toISOString() });
      }
      const view = await this.view(tx, tenantId, id, now);
      if (changed) {
        // Canceled now: `subscription.canceled`; at the period's end: an update now, and the cancellation when that period is closed.
        await this.onChange(tx, atPeriodEnd ? { tenantId, type: 'subscription.updated', key: `subscription.updated:${seq}`, data: view } : { tenantId, type: 'subscription.canceled', key: `subscription.canceled:${id}`, data: view });
      }
      return view;
    });
  }

  async change(tenantId: string, id: string, input: z.output<typeof ChangeSubscription>, actor: string, now: Date): Promise<SubscriptionView | undefined> {
    return this.pg.transaction(async (tx) => {
      const sub = await lock(tx, tenantId, id);
      if (sub === undefined) return undefined;
      if (statusAt(sub, now) === 'canceled') throw new TallyError('TALLY_ERR_INVALID_TRANSITION', 'a canceled subscription cannot change plan', { field: 'id' });
      const current = await planAt(tx, tenantId, id, now);
      // Only the quantity changing keeps the plan version in force (it never moves to a newer one).
      const plan =
        input.plan === undefined
          ? await planVersion(tx, tenantId, current.plan_code, current.plan_version)
          : await latestPlan(tx, tenantId, input.plan);
      const seats = input.quantity ?? current.quantity;
      const customer = await tx.query<{ currency: string }>('SELECT currency FROM customers WHERE tenant_id = $1 AND id = $2', [tenantId, sub.customer_id]);
      if (plan.currency !== customer.rows[0]?.currency) {
        throw new TallyError('TALLY_ERR_CURRENCY_MISMATCH', `plan ${plan.code} is priced in ${plan.currency} but the customer pays in ${customer.rows[0]?.currency ?? '?'}`, { field: 'plan' });
      }
      if (plan.interval !== sub.interval) {
        throw new TallyError('TALLY_ERR_INVALID_VALUE', `plan ${plan.code} bills every ${plan.interval}; this subscription bills every ${sub.interval}`, { field: 'plan' });
      }
      const at = (input.at ?? 'now') === 'now' ? now : periodAt(sub.start_date, sub.interval, now).end;
      const prorate = input.prorate ?? true;
      // A new change replaces any change not yet in force.
      await tx.query('DELETE FROM subscription_plans WHERE tenant_id = $1 AND subscription_id = $2 AND effective_from > $3', [tenantId, id, now]);
      const samePlan = current.plan_code === plan.code && current.plan_version === plan.version;
      const unchanged = at.getTime() === now.getTime() && samePlan && current.quantity === seats;
      if (!unchanged) {
        await tx.query(
          `INSERT INTO subscription_plans (tenant_id, subscription_id, effective_from, plan_code, plan_version, prorate, quantity) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant_id, subscription_id, effective_from) DO UPDATE SET plan_code = EXCLUDED.plan_code, plan_version = EXCLUDED.plan_version, prorate = EXCLUDED.prorate, quantity = EXCLUDED.quantity`,
          [tenantId, id, at, plan.code, plan.version, prorate, seats],
        );
        await tx.query('UPDATE subscriptions SET updated_at = now() WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
        const action = samePlan ? 'quantity_changed' : 'plan_changed';
        const seq = await audit(tx, tenantId, id, actor, at.getTime() === now.getTime() ? action : `${action.replace('_changed', '_change')}_scheduled`, {
          from: { plan: current.plan_code, version: current.plan_version, quantity: current.quantity },
          to: { plan: plan.code, version: plan.version, quantity: seats },
          at: at.toISOString(),
          prorate,
        });
        const view = await this.view(tx, tenantId, id, now);
        await this.onChange(tx, { tenantId, type: 'subscription.updated', key: `subscription.updated:${seq}`, data: view });
        return view;
      }
      return this.view(tx, tenantId, id, now);
    });
  }

  async auditTrail(tenantId: string, id: string): Promise<{ at: string; actor: string; action: string; details: unknown }[]> {
    const { rows } = await this.pg.query<{ at: Date; actor: string; action: string; details: unknown }>(
      'SELECT at, actor, action, details FROM subscription_audit WHERE tenant_id = $1 AND subscription_id = $2 ORDER BY seq',
      [tenantId, id],
    );
    return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
  }

  private view(q: Queryable, tenantId: string, id: string, now: Date): Promise<SubscriptionView | undefined> {
    return subscriptionView(q, tenantId, id, now, this.dunning);
  }
}

async function latestPlan(q: Queryable, tenantId: string, code: string, version?: number) {
  const { rows } = await q.query<{ code: string; version: number; currency: string; interval: Interval; trial_days: number }>(
    'SELECT code, version, currency, interval, trial_days FROM plans WHERE tenant_id = $1 AND code = $2 AND ($3::int IS NULL OR version = $3) ORDER BY version DESC LIMIT 1',
    [tenantId, code, version ?? null],
  );
  if (rows[0] === undefined) throw new TallyError('TALLY_ERR_PLAN_NOT_FOUND', `no plan ${JSON.stringify(code)}`, { field: 'plan' });
  return rows[0];
}

/** The plan version a subscription is on (a change of seats only keeps it). */
const planVersion = (q: Queryable, tenantId: string, code: string, version: number) => latestPlan(q, tenantId, code, version);

async function lock(q: Queryable, tenantId: string, id: string): Promise<Row | undefined> {
  const { rows } = await q.query<Row>('SELECT * FROM subscriptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, id]);
  return rows[0];
}

async function planAt(q: Queryable, tenantId: string, id: string, now: Date): Promise<PlanRow> {
  const { rows } = await q.query<PlanRow>(
    'SELECT * FROM subscription_plans WHERE tenant_id = $1 AND subscription_id = $2 AND effective_from <= $3 ORDER BY effective_from DESC LIMIT 1',
    [tenantId, id, now],
  );
  return rows[0]!;
}

/** Writes an audit entry; returns its sequence number (what makes a webhook event of it once). */
async function audit(q: Queryable, tenantId: string, id: string, actor: string, action: string, details: Record<string, unknown>): Promise<string> {
  const { rows } = await q.query<{ seq: string }>(
    'INSERT INTO subscription_audit (tenant_id, subscription_id, actor, action, details) VALUES ($1, $2, $3, $4, $5) RETURNING seq::text AS seq',
    [tenantId, id, actor, action, JSON.stringify(details)],
  );
  return rows[0]!.seq;
}

/** A subscription as the API shows it at `now` (also the `data` of its webhook events). */
export async function subscriptionView(q: Queryable, tenantId: string, id: string, now: Date, dunning: DunningPolicy = NO_DUNNING): Promise<SubscriptionView | undefined> {
  const { rows } = await q.query<Row>('SELECT * FROM subscriptions WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  const s = rows[0];
  if (s === undefined) return undefined;
  const current = await planAt(q, tenantId, id, now);
  const pending = await q.query<PlanRow>(
    'SELECT * FROM subscription_plans WHERE tenant_id = $1 AND subscription_id = $2 AND effective_from > $3 ORDER BY effective_from LIMIT 1',
    [tenantId, id, now],
  );
  const p = periodAt(s.start_date, s.interval, now.getTime() < s.start_date.getTime() ? s.start_date : now);
  const canceledNow = s.canceled_at !== null && s.canceled_at.getTime() <= now.getTime();
  const next = pending.rows[0];
  return {
    id: s.id,
    customer: s.customer_id,
    plan: { code: current.plan_code, version: current.plan_version },
    quantity: current.quantity,
    status: statusAt(s, now, dunning),
    start_date: s.start_date.toISOString(),
    trial_end: s.trial_end?.toISOString() ?? null,
    current_period: { start: p.start.toISOString(), end: p.end.toISOString() },
    cancel_at: s.canceled_at !== null && !canceledNow ? s.canceled_at.toISOString() : null,
    canceled_at: canceledNow ? s.canceled_at!.toISOString() : null,
    pending_change: next === undefined ? null : { plan: { code: next.plan_code, version: next.plan_version }, quantity: next.quantity, at: next.effective_from.toISOString(), prorate: next.prorate },
    created_at: s.created_at.toISOString(),
    updated_at: s.updated_at.toISOString(),
  };
}
