import { Dec } from '../core/money.js';
import { z } from 'zod';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import type { Period } from './periods.js';

/**
 * A tenant's volume discount (see the 0015 migration): tiers of a percentage off every invoice
 * of a customer who holds at least `min_subscriptions` subscriptions in the invoice's period.
 * A subscription counts for a period when it overlaps it: started before the period ends and
 * not canceled before it starts (so the invoiced subscription always counts itself). The
 * highest tier reached applies; setting the schedule replaces it, and an empty list removes it.
 */
const PERCENT = /^\d{1,3}(\.\d{1,4})?$/;

export const SetVolumeDiscount = z.strictObject({
  tiers: z
    .array(
      z.strictObject({
        min_subscriptions: z.number().int().min(1).max(1_000_000),
        percent_off: z
          .string()
          // abort: zod runs later checks after a failed one, and the range check needs a decimal.
          .regex(PERCENT, { message: 'must be a decimal string such as "5", with at most 4 decimal places', abort: true })
          .refine((p) => new Dec(p).gt(0) && new Dec(p).lte(100), 'must be above 0 and at most 100'),
      }),
    )
    .max(20)
    .superRefine((tiers, ctx) => {
      tiers.forEach((t, i) => {
        const prev = tiers[i - 1];
        if (prev !== undefined && t.min_subscriptions <= prev.min_subscriptions) {
          ctx.addIssue({ code: 'custom', path: [i, 'min_subscriptions'], message: `must be above the previous tier's (${prev.min_subscriptions})`, params: { code: 'TALLY_ERR_TIERS_NOT_ASCENDING' } });
        }
      });
    }),
});

export interface VolumeDiscount {
  tiers: { min_subscriptions: number; percent_off: string }[];
}

export class VolumeDiscountService {
  constructor(private readonly pg: PostgresStore) {}

  async set(tenantId: string, input: z.output<typeof SetVolumeDiscount>, actor: string): Promise<VolumeDiscount> {
    await this.pg.transaction(async (tx) => {
      await tx.query('DELETE FROM volume_discount_tiers WHERE tenant_id = $1', [tenantId]);
      await tx.query(
        'INSERT INTO volume_discount_tiers (tenant_id, min_subscriptions, percent_off, actor) SELECT $1, m, p, $4 FROM unnest($2::int[], $3::numeric[]) AS x(m, p)',
        [tenantId, input.tiers.map((t) => t.min_subscriptions), input.tiers.map((t) => t.percent_off), actor],
      );
    });
    return this.get(tenantId);
  }

  async get(tenantId: string): Promise<VolumeDiscount> {
    const { rows } = await this.pg.query<{ min_subscriptions: number; percent_off: string }>(
      'SELECT min_subscriptions, percent_off::text AS percent_off FROM volume_discount_tiers WHERE tenant_id = $1 ORDER BY min_subscriptions',
      [tenantId],
    );
    return { tiers: rows.map((r) => ({ min_subscriptions: r.min_subscriptions, percent_off: new Dec(r.percent_off).toFixed() })) };
  }
}

/**
 * The volume discount of each invoice about to be composed: the customer's subscriptions
 * overlapping its period, and the percentage of the highest tier that count reaches.
 */
export async function volumeDiscountsFor(
  q: Queryable,
  targets: readonly { tenantId: string; customer: string; period: Period }[],
): Promise<({ subscriptions: number; percent: string } | undefined)[]> {
  if (targets.length === 0) return [];
  const tenants = [...new Set(targets.map((t) => t.tenantId))];
  const { rows: tiers } = await q.query<{ tenant_id: string; min_subscriptions: number; percent_off: string }>(
    'SELECT tenant_id, min_subscriptions, percent_off::text AS percent_off FROM volume_discount_tiers WHERE tenant_id = ANY($1) ORDER BY tenant_id, min_subscriptions',
    [tenants],
  );
  if (tiers.length === 0) return targets.map(() => undefined);
  const withTiers = targets.map((t, i) => ({ t, i })).filter(({ t }) => tiers.some((x) => x.tenant_id === t.tenantId));
  const { rows: counts } = await q.query<{ i: number; n: number }>(
    `SELECT x.i, (SELECT count(*)::int FROM subscriptions s
                   WHERE s.tenant_id = x.t AND s.customer_id = x.c AND s.start_date < x.pe AND (s.canceled_at IS NULL OR s.canceled_at > x.ps)) AS n
       FROM unnest($1::int[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS x(i, t, c, ps, pe)`,
    [withTiers.map((w) => w.i), withTiers.map((w) => w.t.tenantId), withTiers.map((w) => w.t.customer), withTiers.map((w) => w.t.period.start), withTiers.map((w) => w.t.period.end)],
  );
  const out: ({ subscriptions: number; percent: string } | undefined)[] = targets.map(() => undefined);
  for (const { i, n } of counts) {
    const t = targets[i]!;
    let percent: string | undefined;
    for (const tier of tiers) if (tier.tenant_id === t.tenantId && tier.min_subscriptions <= n) percent = new Dec(tier.percent_off).toFixed();
    if (percent !== undefined) out[i] = { subscriptions: n, percent };
  }
  return out;
}
