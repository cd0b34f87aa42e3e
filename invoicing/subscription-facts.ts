import { seatFee, type SeatPricing } from '../rating/seats.js';
import type { Queryable } from '../core/postgres.js';
import type { Charge } from '../catalog/plans.js';
import type { CollectionMethod } from '../catalog/customers.js';
import type { Interval } from '../catalog/periods.js';
import type { FeePlan } from '../rating/base-fee.js';
import { plain } from '../core/money.js';
import type { PlanChange } from '../rating/segments.js';

/**
 * What the rater reads from Postgres: subscriptions with their whole plan history, each
 * history entry carrying the plan version's card. Read in one query per call, so rating ten
 * thousand subscriptions does not make ten thousand round trips.
 */
export interface PlanVersion extends FeePlan {
  currency: string;
  interval: Interval;
  charges: Charge[];
  billing_mode: 'invoice' | 'meter';
  /** Credit granted each period (a plain decimal; "0" for none). */
  credit_allowance: string;
}

export interface SubscriptionFacts {
  tenantId: string;
  id: string;
  customer: string;
  currency: string;
  interval: Interval;
  startDate: Date;
  trialEnd: Date | null;
  canceledAt: Date | null;
  updatedAt: Date;
  history: PlanChange<PlanVersion>[];
  /** The customer's tax facts. */
  country: string | null;
  region: string | null;
  taxExempt: boolean;
  /** The customer's collection terms and purchase order (what an invoice closed now would carry). */
  collection: { method: CollectionMethod; daysUntilDue: number | null; purchaseOrder: string | null };
}

interface Row {
  tenant_id: string;
  id: string;
  customer_id: string;
  currency: string;
  interval: Interval;
  start_date: Date;
  trial_end: Date | null;
  canceled_at: Date | null;
  updated_at: Date;
  country: string | null;
  region: string | null;
  tax_exempt: boolean;
  collection_method: CollectionMethod;
  days_until_due: number | null;
  purchase_order: string | null;
  history: { effective_from: string; prorate: boolean; code: string; version: number; name: string; base_fee: string; seat_pricing: SeatPricing | null; quantity: number; currency: string; interval: Interval; charges: Charge[]; billing_mode: 'invoice' | 'meter'; credit_allowance: string }[];
}

export interface SubscriptionFilter {
  tenantId?: string | undefined;
  ids?: readonly string[] | undefined;
  customers?: readonly string[] | undefined;
  /** Only subscriptions changed after this instant. */
  updatedAfter?: Date | undefined;
}

export async function loadSubscriptions(q: Queryable, f: SubscriptionFilter = {}): Promise<SubscriptionFacts[]> {
  const { rows } = await q.query<Row>(
    `SELECT s.tenant_id, s.id, s.customer_id, c.currency, s.interval, s.start_date, s.trial_end, s.canceled_at, s.updated_at, c.country, c.region, c.tax_exempt, c.collection_method, c.days_until_due, c.purchase_order,
       (SELECT json_agg(json_build_object(
                 'effective_from', to_char(sp.effective_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'prorate', sp.prorate,
                 'code', p.code, 'version', p.version, 'name', p.name, 'base_fee', p.base_fee::text, 'seat_pricing', p.seat_pricing, 'quantity', sp.quantity,
                 'currency', p.currency, 'interval', p.interval, 'charges', p.charges, 'billing_mode', p.billing_mode, 'credit_allowance', p.credit_allowance::text) ORDER BY sp.effective_from)
          FROM subscription_plans sp JOIN plans p ON p.tenant_id = sp.tenant_id AND p.code = sp.plan_code AND p.version = sp.plan_version
         WHERE sp.tenant_id = s.tenant_id AND sp.subscription_id = s.id) AS history
     FROM subscriptions s JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id
     WHERE ($1::text IS NULL OR s.tenant_id = $1)
       AND ($2::text[] IS NULL OR s.id = ANY($2))
       AND ($3::text[] IS NULL OR s.customer_id = ANY($3))
       AND ($4::timestamptz IS NULL OR s.updated_at > $4)
     ORDER BY s.tenant_id, s.id`,
    [f.tenantId ?? null, f.ids ?? null, f.customers ?? null, f.updatedAfter ?? null],
  );
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    id: r.id,
    customer: r.customer_id,
    currency: r.currency,
    interval: r.interval,
    startDate: r.start_date,
    trialEnd: r.trial_end,
    canceledAt: r.canceled_at,
    updatedAt: r.updated_at,
    country: r.country,
    region: r.region,
    taxExempt: r.tax_exempt,
    collection: { method: r.collection_method, daysUntilDue: r.days_until_due, purchaseOrder: r.purchase_order },
    history: r.history.map((h) => ({
      effective_from: new Date(h.effective_from),
      prorate: h.prorate,
      plan: { code: h.code, version: h.version, name: h.quantity === 1 ? h.name : `${h.name} × ${h.quantity} seats`, base_fee: seatFee(h.base_fee, h.seat_pricing, h.quantity), currency: h.currency, interval: h.interval, charges: h.charges, billing_mode: h.billing_mode, credit_allowance: plain(h.credit_allowance) },
    })),
  }));
}

