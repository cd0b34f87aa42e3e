import { z } from 'zod';
import { newId } from '../core/ids.js';
import { Dec } from '../core/money.js';
import type { PostgresStore } from '../core/postgres.js';
import { parseTimestamp } from '../core/time.js';
import { FEATURE_KEY } from '../catalog/plans.js';

/** Per-customer overrides of a feature and grants of extra units (migration 0031). */

const AMOUNT = /^\d{1,20}(\.\d{1,6})?$/;
const amount = z.string().regex(AMOUNT, 'must be a decimal string such as "1000", at most 6 decimal places, below 10^20');
const staticValue = z.union([z.string().max(200), z.number().finite()]);

export const SetOverride = z
  .strictObject({
    /** Replaces the plan's limit of a metered feature. */
    limit: amount.optional(),
    /** Decides access outright, whatever the plan and the usage say. */
    has_access: z.boolean().optional(),
    /** Replaces the plan's value of a static feature. */
    value: staticValue.optional(),
  })
  .refine((o) => o.limit !== undefined || o.has_access !== undefined || o.value !== undefined, { message: 'give limit, has_access or value', path: ['limit'] });
export type SetOverrideInput = z.output<typeof SetOverride>;

export const CreateEntitlementGrant = z.strictObject({
  feature: z.string().regex(FEATURE_KEY, 'must be a feature key: letters, digits and _ . : - (at most 64)'),
  amount: amount.refine((a) => !AMOUNT.test(a) || new Dec(a).gt(0), 'must be above 0'),
  expires_at: z.string().refine((s) => parseTimestamp(s) !== undefined, 'must be an RFC 3339 timestamp with a time zone'),
});
export type CreateEntitlementGrantInput = z.output<typeof CreateEntitlementGrant>;

export interface Override {
  feature: string;
  limit: string | null;
  has_access: boolean | null;
  value: string | number | null;
  updated_at: string;
}

export interface EntitlementGrant {
  id: string;
  customer: string;
  feature: string;
  amount: string;
  granted_at: string;
  expires_at: string;
}

/** Per feature, the units granted and not expired, and when the first of those grants expires (epoch ms). */
export type ActiveGrants = Map<string, { amount: string; changesAt: number }>;

export interface EntitlementStore {
  /** Per customer (every one of the tenant's, or one), per feature, its override. */
  overrides(tenantId: string, customer: string | undefined): Promise<Map<string, Map<string, Override>>>;
  setOverride(tenantId: string, customer: string, feature: string, o: SetOverrideInput, now: Date): Promise<Override>;
  /** Whether there was one. */
  deleteOverride(tenantId: string, customer: string, feature: string): Promise<boolean>;
  grant(tenantId: string, customer: string, g: CreateEntitlementGrantInput, now: Date): Promise<EntitlementGrant>;
  /** Every grant of the customer, newest first. */
  grants(tenantId: string, customer: string): Promise<EntitlementGrant[]>;
  /** The tenants with a live subscription to a plan version that has a metered feature. */
  tenantsWithMeteredFeatures(): Promise<string[]>;
  /** Per customer (every one of the tenant's, or one), its grants active at `now`. */
  activeGrants(tenantId: string, customer: string | undefined, now: Date): Promise<Map<string, ActiveGrants>>;
}

interface OverrideRow {
  feature: string;
  limit: string | null;
  has_access: boolean | null;
  value: string | number | null;
  updated_at: Date;
}
interface GrantRow {
  id: string;
  customer_id: string;
  feature: string;
  amount: string;
  granted_at: Date;
  expires_at: Date;
}

const toOverride = (r: OverrideRow): Override => ({ feature: r.feature, limit: r.limit === null ? null : new Dec(r.limit).toFixed(), has_access: r.has_access, value: r.value, updated_at: r.updated_at.toISOString() });
const toGrant = (r: GrantRow): EntitlementGrant => ({
  id: r.id,
  customer: r.customer_id,
  feature: r.feature,
  amount: new Dec(r.amount).toFixed(),
  granted_at: r.granted_at.toISOString(),
  expires_at: r.expires_at.toISOString(),
});

const OVERRIDE_COLUMNS = 'feature, "limit"::text AS "limit", has_access, value, updated_at';
const GRANT_COLUMNS = 'id, customer_id, feature, amount::text AS amount, granted_at, expires_at';

function mapOf<V>(m: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = m.get(key);
  if (inner === undefined) m.set(key, (inner = new Map<string, V>()));
  return inner;
}

export function pgEntitlementStore(pg: PostgresStore): EntitlementStore {
  return {
    async overrides(tenantId, customer) {
      const { rows } = await pg.query<OverrideRow & { customer_id: string }>(
        `SELECT customer_id, ${OVERRIDE_COLUMNS} FROM entitlement_overrides WHERE tenant_id = $1 AND ($2::text IS NULL OR customer_id = $2)`,
        [tenantId, customer ?? null],
      );
      const out = new Map<string, Map<string, Override>>();
      for (const r of rows) mapOf(out, r.customer_id).set(r.feature, toOverride(r));
      return out;
    },
    async setOverride(tenantId, customer, feature, o, now) {
      const { rows } = await pg.query<OverrideRow>(
        `INSERT INTO entitlement_overrides (tenant_id, customer_id, feature, "limit", has_access, value, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, customer_id, feature) DO UPDATE SET "limit" = EXCLUDED."limit", has_access = EXCLUDED.has_access, value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
         RETURNING ${OVERRIDE_COLUMNS}`,
        [tenantId, customer, feature, o.limit ?? null, o.has_access ?? null, o.value === undefined ? null : JSON.stringify(o.value), now],
      );
      return toOverride(rows[0]!);
    },
    async deleteOverride(tenantId, customer, feature) {
      const { rows } = await pg.query('DELETE FROM entitlement_overrides WHERE tenant_id = $1 AND customer_id = $2 AND feature = $3 RETURNING feature', [tenantId, customer, feature]);
      return rows.length > 0;
    },
    async grant(tenantId, customer, g, now) {
      const { rows } = await pg.query<GrantRow>(
        `INSERT INTO entitlement_grants (tenant_id, id, customer_id, feature, amount, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${GRANT_COLUMNS}`,
        [tenantId, newId('entg', now.getTime()), customer, g.feature, g.amount, now, new Date(parseTimestamp(g.expires_at)!)],
      );
      return toGrant(rows[0]!);
    },
    async grants(tenantId, customer) {
      const { rows } = await pg.query<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM entitlement_grants WHERE tenant_id = $1 AND customer_id = $2 ORDER BY granted_at DESC, id DESC`, [tenantId, customer]);
      return rows.map(toGrant);
    },
    async tenantsWithMeteredFeatures() {
      const { rows } = await pg.query<{ tenant_id: string }>(
        `SELECT DISTINCT p.tenant_id FROM plans p
           JOIN subscription_plans sp ON sp.tenant_id = p.tenant_id AND sp.plan_code = p.code AND sp.plan_version = p.version
           JOIN subscriptions s ON s.tenant_id = sp.tenant_id AND s.id = sp.subscription_id AND (s.canceled_at IS NULL OR s.canceled_at > now())
          WHERE p.features @> '[{"type": "metered"}]'::jsonb`,
      );
      return rows.map((r) => r.tenant_id);
    },
    async activeGrants(tenantId, customer, now) {
      const { rows } = await pg.query<{ customer_id: string; feature: string; amount: string; first_expiry: Date }>(
        `SELECT customer_id, feature, sum(amount)::text AS amount, min(expires_at) AS first_expiry FROM entitlement_grants
          WHERE tenant_id = $1 AND ($2::text IS NULL OR customer_id = $2) AND granted_at <= $3 AND expires_at > $3 GROUP BY customer_id, feature`,
        [tenantId, customer ?? null, now],
      );
      const out = new Map<string, ActiveGrants>();
      for (const r of rows) mapOf(out, r.customer_id).set(r.feature, { amount: new Dec(r.amount).toFixed(), changesAt: r.first_expiry.getTime() });
      return out;
    },
  };
}
