import { Dec } from '../core/money.js';
import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { isCurrency, minorUnits } from '../core/currency.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { parseTimestamp } from '../core/time.js';
import { periodAt, type Interval, type Period } from './periods.js';
import { LINE_TEXT, LINE_TEXT_RULE } from '../core/display-text.js';

/**
 * Coupons (see the 0011 migration) and their redemption by subscriptions. A coupon applies to
 * the period a subscription redeems it in and, for `repeating`, the N − 1 periods after it,
 * for `forever` every period after it; a plan restriction is checked against the plan in force
 * at the end of each period.
 */
const DECIMAL = /^\d{1,20}(\.\d{1,6})?$/;

export const CreateCoupon = z
  .strictObject({
    code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'must be letters, digits and _ . : - (at most 64)'),
    name: z.string().trim().min(1).max(200).regex(LINE_TEXT, LINE_TEXT_RULE),
    percent_off: z.string().regex(DECIMAL, 'must be a decimal string such as "20"').optional(),
    amount_off: z.string().regex(DECIMAL, 'must be a decimal string such as "10.00"').optional(),
    currency: z
      .string()
      .transform((c) => c.toUpperCase())
      .refine(isCurrency, { message: 'must be an ISO 4217 currency code', params: { code: 'TALLY_ERR_CURRENCY_INVALID' }, abort: true })
      .optional(),
    duration: z.enum(['once', 'repeating', 'forever']),
    duration_periods: z.number().int().min(1).max(1200).optional(),
    max_redemptions: z.number().int().min(1).optional(),
    redeem_by: z.string().refine((s) => parseTimestamp(s) !== undefined, 'must be an RFC 3339 timestamp with a time zone').optional(),
    plans: z.array(z.string().min(1).max(64)).min(1).max(100).optional(),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if ((c.percent_off === undefined) === (c.amount_off === undefined)) issue('percent_off', 'give either percent_off or amount_off');
    if (c.percent_off !== undefined && DECIMAL.test(c.percent_off)) {
      const p = new Dec(c.percent_off);
      if (p.lte(0) || p.gt(100) || p.decimalPlaces() > 4) issue('percent_off', 'must be above 0 and at most 100, with at most 4 decimal places');
    }
    // zod runs this even when a field failed a check, so nothing here may assume a field is valid.
    if (c.amount_off !== undefined) {
      if (c.currency === undefined) issue('currency', 'an amount_off coupon needs its currency');
      else if (isCurrency(c.currency) && DECIMAL.test(c.amount_off) && (new Dec(c.amount_off).lte(0) || new Dec(c.amount_off).decimalPlaces() > minorUnits(c.currency))) {
        issue('amount_off', `must be above 0, in ${c.currency}'s minor units`);
      }
    } else if (c.currency !== undefined) issue('currency', 'only an amount_off coupon has a currency');
    if ((c.duration === 'repeating') !== (c.duration_periods !== undefined)) issue('duration_periods', 'repeating coupons (and only they) need duration_periods');
  });

export const RedeemCoupon = z.strictObject({ coupon: z.string().min(1).max(64) });

export interface Coupon {
  code: string;
  name: string;
  percent_off: string | null;
  amount_off: string | null;
  currency: string | null;
  duration: 'once' | 'repeating' | 'forever';
  duration_periods: number | null;
  max_redemptions: number | null;
  redeem_by: string | null;
  plans: string[] | null;
  times_redeemed: number;
  created_at: string;
}

interface Row extends Omit<Coupon, 'redeem_by' | 'created_at' | 'times_redeemed'> {
  redeem_by: Date | null;
  created_at: Date;
  times_redeemed: string;
}

const SELECT = `SELECT c.code, c.name, c.percent_off::text AS percent_off, c.amount_off::text AS amount_off, c.currency, c.duration, c.duration_periods,
  c.max_redemptions, c.redeem_by, c.plans, c.created_at, (SELECT count(*) FROM coupon_redemptions r WHERE r.tenant_id = c.tenant_id AND r.coupon_code = c.code)::text AS times_redeemed
  FROM coupons c`;

const dec = (s: string | null) => (s === null ? null : new Dec(s).toFixed());
function toCoupon(r: Row): Coupon {
  return { ...r, percent_off: dec(r.percent_off), amount_off: dec(r.amount_off), redeem_by: r.redeem_by?.toISOString() ?? null, created_at: r.created_at.toISOString(), times_redeemed: Number(r.times_redeemed) };
}

export class CouponService {
  constructor(private readonly pg: PostgresStore) {}

  async create(tenantId: string, c: z.output<typeof CreateCoupon>): Promise<Coupon> {
    const r = await this.pg.query(
      `INSERT INTO coupons (tenant_id, code, name, percent_off, amount_off, currency, duration, duration_periods, max_redemptions, redeem_by, plans)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tenant_id, code) DO NOTHING`,
      [tenantId, c.code, c.name, c.percent_off ?? null, c.amount_off ?? null, c.currency ?? null, c.duration, c.duration_periods ?? null, c.max_redemptions ?? null,
        c.redeem_by === undefined ? null : new Date(parseTimestamp(c.redeem_by)!), c.plans ?? null],
    );
    if (r.rowCount === 0) throw new TallyError('TALLY_ERR_ALREADY_EXISTS', `coupon ${c.code} exists; coupons cannot be changed`, { field: 'code' });
    return (await this.get(tenantId, c.code))!;
  }

  async get(tenantId: string, code: string): Promise<Coupon | undefined> {
    const { rows } = await this.pg.query<Row>(`${SELECT} WHERE c.tenant_id = $1 AND c.code = $2`, [tenantId, code]);
    return rows[0] === undefined ? undefined : toCoupon(rows[0]);
  }

  async list(tenantId: string): Promise<Coupon[]> {
    const { rows } = await this.pg.query<Row>(`${SELECT} WHERE c.tenant_id = $1 ORDER BY c.code`, [tenantId]);
    return rows.map(toCoupon);
  }

  /** Applies a coupon to a subscription from its current period on. */
  async redeem(tenantId: string, subscriptionId: string, code: string, actor: string, now: Date): Promise<{ subscription: string; coupon: Coupon; redeemed_at: string }> {
    return this.pg.transaction(async (tx) => {
      const sub = (await tx.query<{ canceled_at: Date | null; currency: string }>(
        'SELECT s.canceled_at, c.currency FROM subscriptions s JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id WHERE s.tenant_id = $1 AND s.id = $2 FOR UPDATE OF s',
        [tenantId, subscriptionId],
      )).rows[0];
      if (sub === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no subscription ${JSON.stringify(subscriptionId)}`, { field: 'id' });
      if (sub.canceled_at !== null && sub.canceled_at.getTime() <= now.getTime()) throw new TallyError('TALLY_ERR_INVALID_TRANSITION', 'a canceled subscription cannot redeem a coupon', { field: 'id' });
      // The coupon row is locked so that redemptions are counted one at a time.
      const locked = await tx.query('SELECT 1 FROM coupons WHERE tenant_id = $1 AND code = $2 FOR UPDATE', [tenantId, code]);
      if (locked.rowCount === 0) throw new TallyError('TALLY_ERR_COUPON_NOT_FOUND', `no coupon ${JSON.stringify(code)}`, { field: 'coupon' });
      const coupon = toCoupon((await tx.query<Row>(`${SELECT} WHERE c.tenant_id = $1 AND c.code = $2`, [tenantId, code])).rows[0]!);
      const again = await tx.query('SELECT 1 FROM coupon_redemptions WHERE tenant_id = $1 AND subscription_id = $2 AND coupon_code = $3', [tenantId, subscriptionId, code]);
      if (again.rowCount !== 0) throw new TallyError('TALLY_ERR_ALREADY_EXISTS', `subscription ${subscriptionId} has already redeemed ${code}`, { field: 'coupon' });
      if (coupon.redeem_by !== null && Date.parse(coupon.redeem_by) <= now.getTime()) throw new TallyError('TALLY_ERR_COUPON_EXPIRED', `coupon ${code} could be redeemed until ${coupon.redeem_by}`, { field: 'coupon' });
      if (coupon.max_redemptions !== null && coupon.times_redeemed >= coupon.max_redemptions) throw new TallyError('TALLY_ERR_COUPON_EXHAUSTED', `coupon ${code} has been redeemed ${coupon.max_redemptions} times, its maximum`, { field: 'coupon' });
      if (coupon.currency !== null && coupon.currency !== sub.currency) throw new TallyError('TALLY_ERR_CURRENCY_MISMATCH', `coupon ${code} is in ${coupon.currency}; the subscription bills in ${sub.currency}`, { field: 'coupon' });
      if (coupon.plans !== null) {
        const plan = (await tx.query<{ plan_code: string }>('SELECT plan_code FROM subscription_plans WHERE tenant_id = $1 AND subscription_id = $2 AND effective_from <= $3 ORDER BY effective_from DESC LIMIT 1', [tenantId, subscriptionId, now])).rows[0];
        if (plan === undefined || !coupon.plans.includes(plan.plan_code)) throw new TallyError('TALLY_ERR_COUPON_NOT_APPLICABLE', `coupon ${code} applies only to plans ${coupon.plans.join(', ')}`, { field: 'coupon' });
      }
      await tx.query('INSERT INTO coupon_redemptions (tenant_id, subscription_id, coupon_code, redeemed_at, actor) VALUES ($1, $2, $3, $4, $5)', [tenantId, subscriptionId, code, now, actor]);
      return { subscription: subscriptionId, coupon: { ...coupon, times_redeemed: coupon.times_redeemed + 1 }, redeemed_at: now.toISOString() };
    });
  }
}

/** What discount closing a period applies: the coupons in force for it, in redemption order. */
export interface CouponTarget {
  tenantId: string;
  subscriptionId: string;
  startDate: Date;
  interval: Interval;
  period: Period;
  /** The plan in force at the end of the period. */
  planCode: string;
}

export async function couponsFor(q: Queryable, targets: readonly CouponTarget[]): Promise<Map<CouponTarget, { code: string; name: string; percent_off: string | null; amount_off: string | null }[]>> {
  const out = new Map<CouponTarget, { code: string; name: string; percent_off: string | null; amount_off: string | null }[]>(targets.map((t) => [t, []]));
  if (targets.length === 0) return out;
  const { rows } = await q.query<{ tenant_id: string; subscription_id: string; redeemed_at: Date } & Row>(
    `SELECT r.tenant_id, r.subscription_id, r.redeemed_at, c.code, c.name, c.percent_off::text AS percent_off, c.amount_off::text AS amount_off, c.duration, c.duration_periods, c.plans
       FROM coupon_redemptions r JOIN coupons c ON c.tenant_id = r.tenant_id AND c.code = r.coupon_code
      WHERE r.tenant_id = ANY($1) AND r.subscription_id = ANY($2) ORDER BY r.redeemed_at, c.code`,
    [[...new Set(targets.map((t) => t.tenantId))], targets.map((t) => t.subscriptionId)],
  );
  for (const t of targets) {
    for (const r of rows) {
      if (r.tenant_id !== t.tenantId || r.subscription_id !== t.subscriptionId) continue;
      const first = periodAt(t.startDate, t.interval, r.redeemed_at.getTime() < t.startDate.getTime() ? t.startDate : r.redeemed_at).index;
      const k = t.period.index;
      const inForce = k >= first && (r.duration === 'forever' || (r.duration === 'once' ? k === first : k < first + (r.duration_periods ?? 1)));
      if (!inForce || (r.plans !== null && !r.plans.includes(t.planCode))) continue;
      out.get(t)!.push({ code: r.code, name: r.name, percent_off: dec(r.percent_off), amount_off: dec(r.amount_off) });
    }
  }
  return out;
}
