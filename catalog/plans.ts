import { Dec } from '../core/money.js';
import { z } from 'zod';
import type { ErrorCode } from '../core/errors.js';
import { isCurrency, minorUnits } from '../core/currency.js';
import type { PostgresStore } from '../core/postgres.js';
import { METER_KEY, METER_KEY_RULE } from '../core/meter-key.js';
import { LINE_TEXT, LINE_TEXT_RULE } from '../core/display-text.js';

/**
 * Plans and their rate cards. Prices carry up to 12 decimal places and quantities up to 6;
 * both are decimal strings and never pass through a binary float. Every rule has its own
 * error code. A plan is versioned: posting a changed plan under the same code makes the next
 * version; posting an identical one changes nothing.
 */
export const MODELS = ['per_unit', 'graduated', 'volume', 'package'] as const;

const DECIMAL = /^-?\d{1,26}(\.\d+)?$/;

/**
 * Integer digits a price and a quantity may have. Rated amounts are kept as Decimal(38, 6),
 * below 10^32; quantities are below 10^20 (as events' values are), so a price below 10^12
 * keeps every quantity times it within what the stores hold: a plan that could never be rated
 * is refused when it is made rather than failing every rating run.
 */
const MAX_INTEGER_DIGITS = { price: 12, quantity: 20 } as const;

function decimalField(kind: 'price' | 'quantity') {
  const maxDp = kind === 'price' ? 12 : 6;
  const maxIntegerDigits = MAX_INTEGER_DIGITS[kind];
  const invalid: ErrorCode = kind === 'price' ? 'TALLY_ERR_PRICE_INVALID' : 'TALLY_ERR_QUANTITY_INVALID';
  const precise: ErrorCode = kind === 'price' ? 'TALLY_ERR_PRICE_TOO_PRECISE' : 'TALLY_ERR_QUANTITY_TOO_PRECISE';
  const negative: ErrorCode = kind === 'price' ? 'TALLY_ERR_PRICE_NEGATIVE' : 'TALLY_ERR_QUANTITY_INVALID';
  return z.string().superRefine((v, ctx) => {
    if (!DECIMAL.test(v)) {
      ctx.addIssue({ code: 'custom', message: `must be a decimal string such as "12.5"`, params: { code: invalid } });
      return;
    }
    const d = new Dec(v);
    if (d.abs().gte(new Dec(10).pow(maxIntegerDigits))) {
      ctx.addIssue({ code: 'custom', message: `must be below 10^${maxIntegerDigits} (${kind === 'price' ? 'so that any quantity times it fits the rated amounts' : 'as event values are'})`, params: { code: invalid } });
      return;
    }
    if (d.isNegative() && !d.isZero()) ctx.addIssue({ code: 'custom', message: 'must not be negative', params: { code: negative } });
    else if (d.decimalPlaces() > maxDp) ctx.addIssue({ code: 'custom', message: `has more than ${maxDp} decimal places`, params: { code: precise } });
  });
}

/** A charge or a metered feature names its meter by the one meter-key rule: any other text could never match an event. */
const meterKey = z.string().regex(METER_KEY, METER_KEY_RULE);

const price = decimalField('price');
const quantity = decimalField('quantity');

const Tier = z.strictObject({
  up_to: quantity.nullable(),
  unit_price: price,
  flat_fee: price.optional(),
});

const Charge = z
  .strictObject({
    meter: meterKey,
    model: z.enum(MODELS),
    unit_price: price.optional(),
    tiers: z.array(Tier).min(1).max(100).optional(),
    package_size: quantity.optional(),
    round: z.enum(['up', 'down']).optional(),
    included: quantity.optional(),
    minimum: price.optional(),
    maximum: price.optional(),
  })
  .superRefine((c, ctx) => {
    const fields = (code: ErrorCode, path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message, params: { code } });
    const tiered = c.model === 'graduated' || c.model === 'volume';
    if (tiered && c.tiers === undefined) fields('TALLY_ERR_CHARGE_MODEL_FIELDS', 'tiers', `${c.model} charges need tiers`);
    if (!tiered && c.tiers !== undefined) fields('TALLY_ERR_CHARGE_MODEL_FIELDS', 'tiers', `${c.model} charges have no tiers`);
    if (!tiered && c.unit_price === undefined) fields('TALLY_ERR_CHARGE_MODEL_FIELDS', 'unit_price', `${c.model} charges need a unit_price`);
    if (tiered && c.unit_price !== undefined) fields('TALLY_ERR_CHARGE_MODEL_FIELDS', 'unit_price', `${c.model} charges are priced by their tiers`);
    if (c.model === 'package') {
      // zod runs this even when a field failed its own check: package_size may not be a decimal.
      if (c.package_size === undefined || (DECIMAL.test(c.package_size) && new Dec(c.package_size).lte(0))) fields('TALLY_ERR_CHARGE_MODEL_FIELDS', 'package_size', 'package charges need a package_size above 0');
    } else {
      if (c.package_size !== undefined) fields('TALLY_ERR_CHARGE_MODEL_FIELDS', 'package_size', 'only package charges have a package_size');
      if (c.round !== undefined) fields('TALLY_ERR_CHARGE_MODEL_FIELDS', 'round', 'only package charges round');
    }
    if (c.minimum !== undefined && c.maximum !== undefined && DECIMAL.test(c.minimum) && DECIMAL.test(c.maximum) && new Dec(c.minimum).gt(c.maximum)) {
      fields('TALLY_ERR_MINIMUM_ABOVE_MAXIMUM', 'minimum', 'must not be above maximum');
    }
    checkTiers(c.tiers ?? [], ctx);
  });

/** Tiers ascend by `up_to`, and only the last is open-ended (null). */
function checkTiers(tiers: readonly z.output<typeof Tier>[], ctx: z.RefinementCtx): void {
  tiers.forEach((t, i) => {
    const last = i === tiers.length - 1;
    if (t.up_to === null && !last) ctx.addIssue({ code: 'custom', path: ['tiers', i, 'up_to'], message: 'only the last tier is open-ended (null)', params: { code: 'TALLY_ERR_TIER_OPEN_ENDED' } });
    if (t.up_to !== null && last) ctx.addIssue({ code: 'custom', path: ['tiers', i, 'up_to'], message: 'the last tier must be open-ended (null)', params: { code: 'TALLY_ERR_TIER_OPEN_ENDED' } });
    const prev = i > 0 ? tiers[i - 1]!.up_to : '0';
    if (t.up_to !== null && prev !== null && DECIMAL.test(t.up_to) && DECIMAL.test(prev) && !new Dec(t.up_to).gt(prev)) {
      ctx.addIssue({ code: 'custom', path: ['tiers', i, 'up_to'], message: `must be above the previous tier's up_to (${prev})`, params: { code: 'TALLY_ERR_TIERS_NOT_ASCENDING' } });
    }
  });
}

/** Tiered seat prices (rating/seats.ts): the base fee of a subscription's seats, instead of `base_fee` per seat. */
const SeatPricing = z
  .strictObject({
    model: z.enum(['graduated', 'volume']),
    tiers: z.array(Tier).min(1).max(100),
  })
  .superRefine((p, ctx) => checkTiers(p.tiers, ctx));

/** A feature's key: what a check names (`GET /v1/customers/:id/entitlements/:feature`). */
export const FEATURE_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const RESETS = ['period', 'day', 'week', 'month'] as const;

const featureKey = z.string().regex(FEATURE_KEY, 'must be letters, digits and _ . : - (at most 64)');
const featureName = z.string().trim().min(1, 'must not be empty').max(200).regex(LINE_TEXT, LINE_TEXT_RULE).optional();

/**
 * What a plan lets its customers use, versioned with the plan: a feature they have
 * (`boolean`: SSO), a value (`static`: max projects 10) or a limit on a meter's usage in a
 * reset window (`metered`: the billing period, or a calendar day, week or month in the customer's time zone). A
 * hard limit refuses access once the usage reaches it; a soft one only reports it.
 */
const Feature = z.discriminatedUnion('type', [
  z.strictObject({ key: featureKey, name: featureName, type: z.literal('boolean') }),
  z.strictObject({ key: featureKey, name: featureName, type: z.literal('static'), value: z.union([z.string().max(200), z.number().finite()]) }),
  z.strictObject({
    key: featureKey,
    name: featureName,
    type: z.literal('metered'),
    meter: meterKey,
    limit: quantity,
    hard: z.boolean().default(true),
    reset: z.enum(RESETS).default('period'),
  }),
]);
export type Feature = z.output<typeof Feature>;

export const CreatePlan = z
  .strictObject({
    code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'must be letters, digits and _ . : - (at most 64)'),
    name: z.string().trim().min(1, 'must not be empty').max(200).regex(LINE_TEXT, LINE_TEXT_RULE),
    currency: z
      .string()
      .transform((c) => c.toUpperCase())
      .refine(isCurrency, { message: 'must be an ISO 4217 currency code', params: { code: 'TALLY_ERR_CURRENCY_INVALID' } }),
    interval: z.enum(['month', 'year']),
    base_fee: price.optional(),
    /** Seat tiers: the base fee of a subscription's seats priced by tiers (then no base_fee). */
    seat_pricing: SeatPricing.optional(),
    trial_days: z.number().int().min(0).max(730).optional(),
    charges: z.array(Charge).max(50).optional(),
    billing_mode: z.enum(['invoice', 'meter']).optional(),
    /** Credit granted to each subscription every period, used by that period's invoice only and expiring with it. */
    credit_allowance: price.optional(),
    /** What a subscription to this version may use (entitlements/). */
    features: z.array(Feature).max(100).optional(),
  })
  .superRefine((p, ctx) => {
    const keys = new Set<string>();
    (p.features ?? []).forEach((f, i) => {
      if (keys.has(f.key)) ctx.addIssue({ code: 'custom', path: ['features', i, 'key'], message: `feature ${f.key} is already in this plan`, params: { code: 'TALLY_ERR_DUPLICATE_FEATURE' } });
      keys.add(f.key);
    });
    if (p.credit_allowance !== undefined && DECIMAL.test(p.credit_allowance) && isCurrency(p.currency) && new Dec(p.credit_allowance).decimalPlaces() > minorUnits(p.currency)) {
      ctx.addIssue({ code: 'custom', path: ['credit_allowance'], message: `${p.currency} has ${minorUnits(p.currency)} decimal places; credit_allowance has more`, params: { code: 'TALLY_ERR_PRICE_TOO_PRECISE' } });
    }
    if (p.seat_pricing !== undefined && p.base_fee !== undefined && DECIMAL.test(p.base_fee) && !new Dec(p.base_fee).isZero()) {
      ctx.addIssue({ code: 'custom', path: ['base_fee'], message: 'a plan with seat_pricing has its seats priced by their tiers: leave base_fee out', params: { code: 'TALLY_ERR_CHARGE_MODEL_FIELDS' } });
    }
    const seen = new Set<string>();
    (p.charges ?? []).forEach((c, i) => {
      if (seen.has(c.meter)) ctx.addIssue({ code: 'custom', path: ['charges', i, 'meter'], message: `meter ${c.meter} already has a charge in this plan`, params: { code: 'TALLY_ERR_DUPLICATE_CHARGE' } });
      seen.add(c.meter);
    });
  });
export type CreatePlanInput = z.output<typeof CreatePlan>;
export type Charge = z.output<typeof Charge>;
export type SeatPricingInput = z.output<typeof SeatPricing>;

export interface Plan {
  code: string;
  version: number;
  name: string;
  currency: string;
  interval: 'month' | 'year';
  base_fee: string;
  /** Tiered seat prices, when the base fee is not `base_fee` per seat. */
  seat_pricing: SeatPricingInput | null;
  trial_days: number;
  charges: Charge[];
  /** How Stripe bills it: Tally's invoices (`invoice`) or Stripe Billing Meters fed by Tally (`meter`). */
  billing_mode: 'invoice' | 'meter';
  /** Credit granted every period (0: none). */
  credit_allowance: string;
  /** What a subscription to this version may use (empty: nothing to check). */
  features: Feature[];
  created_at: string;
}

export interface PlanRepository {
  /** A new version when the content differs from the latest (or the first), else the latest as it is. */
  save(tenantId: string, p: CreatePlanInput): Promise<{ plan: Plan; created: boolean }>;
  get(tenantId: string, code: string, version?: number): Promise<Plan | undefined>;
  /** The latest version of every plan. */
  list(tenantId: string): Promise<Plan[]>;
}

/** A plans row: the API shape with its timestamp as a Date. */
type Row = Omit<Plan, 'created_at'> & { created_at: Date };

const COLUMNS = 'code, version, name, currency, interval, base_fee::text AS base_fee, seat_pricing, trial_days, charges, billing_mode, credit_allowance::text AS credit_allowance, features, created_at';

function toPlan(r: Row): Plan {
  return { ...r, base_fee: new Dec(r.base_fee).toFixed(), credit_allowance: new Dec(r.credit_allowance).toFixed(), created_at: r.created_at.toISOString() };
}

/**
 * What decides whether a post is a change: everything but the version and creation time, as
 * canonical JSON (jsonb stores object keys in its own order).
 */
function content(p: Omit<Plan, 'version' | 'created_at'>): string {
  // A plan without seat tiers reads as before they existed, so posting it again changes nothing.
  const seats = p.seat_pricing === null ? [] : [p.seat_pricing];
  return canonical([p.name, p.currency, p.interval, new Dec(p.base_fee).toFixed(), p.trial_days, p.charges, p.billing_mode, new Dec(p.credit_allowance).toFixed(), p.features, ...seats]);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function pgPlanRepository(pg: PostgresStore): PlanRepository {
  return {
    save: (tenantId, p) =>
      pg.transaction(async (tx) => {
        // Serialises versioning of one plan code.
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${tenantId}/${p.code}`]);
        const { rows } = await tx.query<Row>(`SELECT ${COLUMNS} FROM plans WHERE tenant_id = $1 AND code = $2 ORDER BY version DESC LIMIT 1`, [tenantId, p.code]);
        const latest = rows[0] === undefined ? undefined : toPlan(rows[0]);
        const next = { code: p.code, name: p.name, currency: p.currency, interval: p.interval, base_fee: new Dec(p.base_fee ?? '0').toFixed(), seat_pricing: p.seat_pricing ?? null, trial_days: p.trial_days ?? 0, charges: p.charges ?? [], billing_mode: p.billing_mode ?? 'invoice', credit_allowance: new Dec(p.credit_allowance ?? '0').toFixed(), features: p.features ?? [] };
        if (latest !== undefined && content(latest) === content(next)) return { plan: latest, created: false };
        const inserted = await tx.query<Row>(
          `INSERT INTO plans (tenant_id, code, version, name, currency, interval, base_fee, trial_days, charges, billing_mode, credit_allowance, features, seat_pricing)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
          [tenantId, p.code, (latest?.version ?? 0) + 1, next.name, next.currency, next.interval, next.base_fee, next.trial_days, JSON.stringify(next.charges), next.billing_mode, next.credit_allowance, JSON.stringify(next.features), next.seat_pricing === null ? null : JSON.stringify(next.seat_pricing)],
        );
        return { plan: toPlan(inserted.rows[0]!), created: true };
      }),
    async get(tenantId, code, version) {
      const { rows } = await pg.query<Row>(
        `SELECT ${COLUMNS} FROM plans WHERE tenant_id = $1 AND code = $2 AND ($3::int IS NULL OR version = $3) ORDER BY version DESC LIMIT 1`,
        [tenantId, code, version ?? null],
      );
      return rows[0] === undefined ? undefined : toPlan(rows[0]);
    },
    async list(tenantId) {
      const { rows } = await pg.query<Row>(
        `SELECT DISTINCT ON (code) ${COLUMNS} FROM plans WHERE tenant_id = $1 ORDER BY code, version DESC`,
        [tenantId],
      );
      return rows.map(toPlan);
    },
  };
}
