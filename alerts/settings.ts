import { Dec } from '../core/money.js';
import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { METER_KEY, METER_KEY_RULE } from '../core/meter-key.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { periodAt, type Interval } from '../catalog/periods.js';
import { DEFAULT_INCLUDED_PERCENTS, type AlertSettings } from './core.js';
import { plain } from '../core/money.js';

/**
 * A subscription's usage-alert thresholds (see the 0017 migration). Without settings it has
 * the defaults: 75 %, 90 % and 100 % of each charge's included quantity, and no spend
 * thresholds. Putting settings replaces them; `included_percents: []` turns the percentage
 * alerts off.
 */
const PERCENT = /^\d{1,4}(\.\d{1,4})?$/;
const AMOUNT = /^\d{1,20}(\.\d{1,6})?$/;

export const SetAlerts = z.strictObject({
  included_percents: z
    .array(
      z
        .string()
        // abort: zod runs later checks after a failed one, and the range check needs a decimal.
        .regex(PERCENT, { message: 'must be a decimal string such as "80"', abort: true })
        // Stored as numeric(7, 4): 1000 itself does not fit.
        .refine((p) => new Dec(p).gt(0) && new Dec(p).lt(1000), 'must be above 0 and below 1000'),
    )
    .max(10)
    .optional(),
  spend: z
    .array(z.strictObject({ meter: z.string().regex(METER_KEY, METER_KEY_RULE).optional(), amount: z.string().regex(AMOUNT, { message: 'must be a decimal string such as "250.00"', abort: true }).refine((a) => new Dec(a).gt(0), 'must be above 0') }))
    .max(20)
    .optional(),
});

export interface AlertsView {
  subscription: string;
  included_percents: string[];
  spend: { meter: string | null; amount: string }[];
  /** Thresholds reached in the current period. */
  fired: { meter: string | null; kind: string; threshold: string; quantity: string; amount: string; fired_at: string }[];
}


export class AlertService {
  constructor(private readonly pg: PostgresStore) {}

  async set(tenantId: string, subscriptionId: string, input: z.output<typeof SetAlerts>, actor: string, now: Date): Promise<AlertsView> {
    await this.subscription(tenantId, subscriptionId);
    if (input.spend !== undefined) await this.checkCharged(tenantId, subscriptionId, input.spend, now);
    const was = await this.settings(tenantId, subscriptionId);
    const includedPercents = [...new Set((input.included_percents ?? was.includedPercents).map(plain))].sort((a, b) => new Dec(a).cmp(b));
    const spend = input.spend === undefined ? was.spend : input.spend.map((s) => ({ meter: s.meter ?? null, amount: plain(s.amount) }));
    await this.pg.query(
      `INSERT INTO alert_settings (tenant_id, subscription_id, included_percents, spend, actor) VALUES ($1, $2, $3::numeric[], $4, $5)
       ON CONFLICT (tenant_id, subscription_id) DO UPDATE SET included_percents = EXCLUDED.included_percents, spend = EXCLUDED.spend, actor = EXCLUDED.actor, updated_at = now()`,
      [tenantId, subscriptionId, includedPercents, JSON.stringify(spend), actor],
    );
    return this.get(tenantId, subscriptionId, now);
  }

  async get(tenantId: string, subscriptionId: string, now: Date): Promise<AlertsView> {
    const sub = await this.subscription(tenantId, subscriptionId);
    const s = await this.settings(tenantId, subscriptionId);
    const period = periodAt(sub.start_date, sub.interval, now.getTime() < sub.start_date.getTime() ? sub.start_date : now);
    const { rows } = await this.pg.query<{ meter: string; kind: string; threshold: string; quantity: string; amount: string; fired_at: Date }>(
      `SELECT meter, kind, threshold::text AS threshold, quantity::text AS quantity, amount::text AS amount, fired_at FROM alert_firings
        WHERE tenant_id = $1 AND subscription_id = $2 AND period_start = $3 ORDER BY fired_at, meter, kind, threshold`,
      [tenantId, subscriptionId, period.start],
    );
    return {
      subscription: subscriptionId,
      included_percents: [...s.includedPercents],
      spend: s.spend.map((x) => ({ ...x })),
      fired: rows.map((r) => ({ meter: r.meter === '' ? null : r.meter, kind: r.kind, threshold: plain(r.threshold), quantity: plain(r.quantity), amount: plain(r.amount), fired_at: r.fired_at.toISOString() })),
    };
  }

  private async settings(tenantId: string, subscriptionId: string): Promise<AlertSettings> {
    return (await settingsFor(this.pg, [{ tenantId, subscriptionId }])).get(`${tenantId}\n${subscriptionId}`) ?? { includedPercents: [...DEFAULT_INCLUDED_PERCENTS], spend: [] };
  }

  /**
   * A spend threshold on a meter watches that meter's charge, so a meter the subscription's plan
   * does not charge for (or no meter at all) could never fire: refused. The plan in force now and
   * any change already scheduled count, so thresholds can be set ahead of a plan change.
   */
  private async checkCharged(tenantId: string, subscriptionId: string, spend: readonly { meter?: string | undefined }[], now: Date): Promise<void> {
    const { rows } = await this.pg.query<{ meter: string }>(
      `SELECT DISTINCT c->>'meter' AS meter FROM subscription_plans sp
         JOIN plans p ON p.tenant_id = sp.tenant_id AND p.code = sp.plan_code AND p.version = sp.plan_version
         CROSS JOIN jsonb_array_elements(p.charges) AS c
        WHERE sp.tenant_id = $1 AND sp.subscription_id = $2
          AND sp.effective_from >= COALESCE((SELECT max(effective_from) FROM subscription_plans WHERE tenant_id = $1 AND subscription_id = $2 AND effective_from <= $3), '-infinity')`,
      [tenantId, subscriptionId, now],
    );
    const charged = new Set(rows.map((r) => r.meter));
    for (const [i, s] of spend.entries()) {
      if (s.meter === undefined || charged.has(s.meter)) continue;
      throw new TallyError('TALLY_ERR_METER_NOT_FOUND', `spend[${i}].meter: the subscription's plan charges for no meter with key ${JSON.stringify(s.meter)}`, { field: `spend[${i}].meter` });
    }
  }

  private async subscription(tenantId: string, id: string): Promise<{ start_date: Date; interval: Interval }> {
    const { rows } = await this.pg.query<{ start_date: Date; interval: Interval }>('SELECT start_date, interval FROM subscriptions WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    if (rows[0] === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no subscription ${JSON.stringify(id)}`, { field: 'id' });
    return rows[0];
  }
}

/** The settings of these subscriptions that have any (the rest have the defaults), keyed by tenant and id joined by a newline. */
export async function settingsFor(q: Queryable, refs: readonly { tenantId: string; subscriptionId: string }[]): Promise<Map<string, AlertSettings>> {
  if (refs.length === 0) return new Map();
  const { rows } = await q.query<{ tenant_id: string; subscription_id: string; included_percents: string[]; spend: { meter: string | null; amount: string }[] }>(
    'SELECT tenant_id, subscription_id, included_percents::text[] AS included_percents, spend FROM alert_settings WHERE tenant_id = ANY($1) AND subscription_id = ANY($2)',
    [[...new Set(refs.map((r) => r.tenantId))], refs.map((r) => r.subscriptionId)],
  );
  return new Map(rows.map((r) => [`${r.tenant_id}\n${r.subscription_id}`, { includedPercents: r.included_percents.map(plain), spend: r.spend }]));
}
