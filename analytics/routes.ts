import { TallyError } from '../core/errors.js';
import type { PostgresStore } from '../core/postgres.js';
import { tenantOf, type Route } from '../http/types.js';
import { periodStart } from '../catalog/periods.js';
import { queryInstant } from '../http/body.js';
import { Dec, movementRow, movements, mrrRow, revenueAt, roundMoney } from './mrr.js';
import { loadRevenueByPlan, loadSubscriptionHistories } from './queries.js';
import { Mrr, MrrMovements, RevenueByPlan } from './openapi.js';
import { json, type Parameter } from '../http/openapi-doc.js';
import { instant as dateTime } from '../http/openapi-shapes.js';

const MAX_RANGE_YEARS = 10;

/** The query of the routes over a range. */
const RANGE: readonly Parameter[] = [
  { name: 'from', required: true, description: 'Start of the range `[from, to)`, RFC 3339 with a zone.', schema: dateTime },
  { name: 'to', required: true, description: 'End of the range, at most 10 years after `from`.', schema: dateTime },
];

/**
 * `GET /v1/analytics/mrr?at=`, `GET /v1/analytics/mrr_movements?from=&to=` and
 * `GET /v1/analytics/revenue_by_plan?from=&to=`: the tenant's recurring revenue and revenue by
 * plan, per currency, as decimal strings (definitions in analytics/mrr.ts and README.md).
 */
export function analyticsRoutes(pg: PostgresStore, clock: () => number = Date.now): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v1/analytics/mrr',
      access: 'tenant',
      doc: {
        operationId: 'getMrr',
        tag: 'Analytics',
        summary: 'MRR per currency at an instant',
        query: [{ name: 'at', description: 'The instant, RFC 3339 with a zone; default now.', schema: dateTime }],
        responses: { 200: json('MRR, ARR, customers and ARPU per currency.', Mrr) },
      },
      handler: async (req) => {
        const at = queryInstant(req, 'at') ?? new Date(clock());
        const subs = await loadSubscriptionHistories(pg, tenantOf(req), [at]);
        return { status: 200, body: { at: at.toISOString(), data: revenueAt(subs, at).map(mrrRow) } };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/analytics/mrr_movements',
      access: 'tenant',
      doc: {
        operationId: 'getMrrMovements',
        tag: 'Analytics',
        summary: 'How MRR moved over a range',
        query: RANGE,
        responses: { 200: json('New, expansion, contraction and churn per currency.', MrrMovements) },
      },
      handler: async (req) => {
        const { from, to } = range(req.query);
        const subs = await loadSubscriptionHistories(pg, tenantOf(req), [from, to]);
        return { status: 200, body: { from: from.toISOString(), to: to.toISOString(), data: movements(subs, from, to).map(movementRow) } };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/analytics/revenue_by_plan',
      access: 'tenant',
      doc: {
        operationId: 'getRevenueByPlan',
        tag: 'Analytics',
        summary: 'Invoiced revenue by plan over a range',
        query: RANGE,
        responses: { 200: json('Revenue per plan and currency.', RevenueByPlan) },
      },
      handler: async (req) => {
        const { from, to } = range(req.query);
        const rows = await loadRevenueByPlan(pg, tenantOf(req), from, to);
        const data = rows.map((r) => ({ plan: r.plan, currency: r.currency, invoices: r.invoices, revenue: roundMoney(new Dec(r.revenue), r.currency) }));
        return { status: 200, body: { from: from.toISOString(), to: to.toISOString(), data } };
      },
    },
  ];
}

function bad(field: string, message: string): TallyError {
  return new TallyError('TALLY_ERR_INVALID_VALUE', `${field} ${message}`, { field });
}

/** A required RFC 3339 timestamp (an empty one is missing). */
function instant(q: URLSearchParams, field: string): Date {
  const text = q.get(field);
  if (text === null || text === '') throw new TallyError('TALLY_ERR_MISSING_FIELD', `${field} is required`, { field });
  return queryInstant({ query: q }, field)!;
}

/** [from, to): from before to, at most ten years apart (calendar years, as billing counts them). */
function range(q: URLSearchParams): { from: Date; to: Date } {
  const from = instant(q, 'from');
  const to = instant(q, 'to');
  if (to.getTime() <= from.getTime()) throw bad('to', 'must be after from');
  if (to.getTime() > periodStart(from, 'year', MAX_RANGE_YEARS).getTime()) throw bad('to', `must be at most ${MAX_RANGE_YEARS} years after from`);
  return { from, to };
}
