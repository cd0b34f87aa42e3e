import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import type { MeterRepository } from '../metering/meters.js';
import { CreatePlan, type PlanRepository } from './plans.js';
import { Plan, PlanList } from './openapi.js';

const MAX_VERSION = 2_147_483_647;

/** What a plan that breaks a rule of catalog/plans.ts is refused with. */
const PLAN_RULES = [
  'TALLY_ERR_CURRENCY_INVALID',
  'TALLY_ERR_PRICE_INVALID',
  'TALLY_ERR_PRICE_NEGATIVE',
  'TALLY_ERR_PRICE_TOO_PRECISE',
  'TALLY_ERR_QUANTITY_INVALID',
  'TALLY_ERR_QUANTITY_TOO_PRECISE',
  'TALLY_ERR_TIERS_NOT_ASCENDING',
  'TALLY_ERR_TIER_OPEN_ENDED',
  'TALLY_ERR_CHARGE_MODEL_FIELDS',
  'TALLY_ERR_MINIMUM_ABOVE_MAXIMUM',
  'TALLY_ERR_DUPLICATE_CHARGE',
  'TALLY_ERR_METER_NOT_FOUND',
  'TALLY_ERR_DUPLICATE_FEATURE',
  'TALLY_ERR_FEATURE_METER_AGGREGATION',
] as const;

/** Meters a metered feature may limit: their usage in a window is the sum of its hours'. */
const LIMITABLE = ['sum', 'count'] as const;

/**
 * `POST /v1/plans` (201 for a new plan or version, 200 when nothing changed), `GET /v1/plans`
 * (the latest version of each), `GET /v1/plans/:code[?version=n]`.
 */
export function planRoutes(plans: PlanRepository, meters: MeterRepository): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/plans',
      access: 'tenant',
      doc: {
        operationId: 'createPlan',
        tag: 'Plans',
        summary: 'Create a plan, or its next version',
        description: 'A changed plan under an existing `code` is its next version (201); an identical one changes nothing (200).',
        body: { name: 'CreatePlan', schema: CreatePlan },
        responses: { 200: json('Nothing changed: the latest version.', Plan), 201: json('The new plan or version.', Plan) },
        errors: PLAN_RULES,
      },
      handler: async (req) => {
        const tenantId = tenantOf(req);
        const input = jsonBody(req, CreatePlan);
        for (const [i, c] of (input.charges ?? []).entries()) {
          if ((await meters.get(tenantId, c.meter)) === undefined) {
            throw new TallyError('TALLY_ERR_METER_NOT_FOUND', `charges[${i}].meter: no meter with key ${JSON.stringify(c.meter)}; define it first`, { field: `charges[${i}].meter` });
          }
        }
        for (const [i, f] of (input.features ?? []).entries()) {
          if (f.type !== 'metered') continue;
          const meter = await meters.get(tenantId, f.meter);
          if (meter === undefined) {
            throw new TallyError('TALLY_ERR_METER_NOT_FOUND', `features[${i}].meter: no meter with key ${JSON.stringify(f.meter)}; define it first`, { field: `features[${i}].meter` });
          }
          if (!(LIMITABLE as readonly string[]).includes(meter.aggregation)) {
            throw new TallyError('TALLY_ERR_FEATURE_METER_AGGREGATION', `features[${i}].meter: a limit counts a ${LIMITABLE.join(' or ')} meter; ${meter.key} is ${meter.aggregation}`, { field: `features[${i}].meter` });
          }
        }
        const { plan, created } = await plans.save(tenantId, input);
        return { status: created ? 201 : 200, body: plan };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/plans',
      access: 'tenant',
      doc: { operationId: 'listPlans', tag: 'Plans', summary: 'The latest version of every plan', responses: { 200: json('Every plan.', PlanList) } },
      handler: async (req) => ({ status: 200, body: { data: await plans.list(tenantOf(req)), has_more: false } }),
    },
    {
      method: 'GET',
      pattern: '/v1/plans/:code',
      access: 'tenant',
      doc: {
        operationId: 'getPlan',
        tag: 'Plans',
        summary: 'Get a plan',
        path: { code: 'The plan code.' },
        query: [{ name: 'version', description: 'An older version; default the latest.', schema: { type: 'integer', minimum: 1 } }],
        responses: { 200: json('The plan version.', Plan) },
      },
      handler: async (req) => {
        const raw = req.query.get('version');
        // Versions are a Postgres int: a larger number could name no version and fails the query.
        const version = raw === null ? undefined : /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : Number.NaN;
        if (version !== undefined && !(version >= 1 && version <= MAX_VERSION)) {
          throw new TallyError('TALLY_ERR_INVALID_VALUE', `version must be a whole number from 1 to ${MAX_VERSION}`, { field: 'version' });
        }
        const plan = await plans.get(tenantOf(req), req.params.code!, version);
        if (plan === undefined) {
          throw new TallyError('TALLY_ERR_NOT_FOUND', `no plan ${JSON.stringify(req.params.code)}${version === undefined ? '' : ` version ${version}`}`, { field: 'code' });
        }
        return { status: 200, body: plan };
      },
    },
  ];
}
