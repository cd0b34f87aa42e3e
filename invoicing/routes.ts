import { TallyError } from '../core/errors.js';
import { listLimit, queryInstant, queryText } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import type { Billing } from './billing.js';
import type { InvoiceRepository } from './invoice-reads.js';
import { Invoice, InvoiceList } from './openapi.js';
import { SUBSCRIPTION_ID } from '../catalog/openapi.js';
import { customerFilter, json, limitParameter, startingAfter } from '../http/openapi-doc.js';

const STATUSES = ['draft', 'open', 'paid', 'void', 'uncollectible'] as const;

/** `GET /v1/subscriptions/:id/upcoming`, `GET /v1/invoices` (by customer or subscription), `GET /v1/invoices/:id`. */
export function billingRoutes(billing: Billing, invoices: InvoiceRepository, clock: () => number = Date.now): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/upcoming',
      access: 'tenant',
      doc: {
        operationId: 'getUpcomingInvoice',
        tag: 'Invoices',
        summary: 'The open period rated up to now',
        path: SUBSCRIPTION_ID,
        responses: { 200: json('The draft invoice (`status: draft`, `id: null`).', Invoice) },
        errors: ['TALLY_ERR_NO_UPCOMING_INVOICE', 'TALLY_ERR_AMOUNT_OUT_OF_RANGE'],
      },
      handler: async (req) => ({ status: 200, body: await billing.upcoming(tenantOf(req), req.params.id!, new Date(clock())) }),
    },
    {
      method: 'GET',
      pattern: '/v1/invoices',
      access: 'tenant',
      doc: {
        operationId: 'listInvoices',
        tag: 'Invoices',
        summary: 'List invoices, by id',
        description: 'Filters combine. `overdue=true` lists the open invoices past due now, each with `overdue_since` and `days_overdue`; `overdue=false` the others.',
        query: [
          customerFilter,
          { name: 'subscription', description: 'Only this subscription.', schema: { type: 'string', minLength: 1 } },
          { name: 'status', description: 'Only invoices in this status.', schema: { type: 'string', enum: [...STATUSES] } },
          { name: 'issued_from', description: 'Issued at or after this instant (RFC 3339).', schema: { type: 'string', format: 'date-time' } },
          { name: 'issued_before', description: 'Issued before this instant (RFC 3339).', schema: { type: 'string', format: 'date-time' } },
          { name: 'overdue', description: '`true`: only open invoices past due; `false`: only the others.', schema: { type: 'string', enum: ['true', 'false'] } },
          limitParameter(100, 1000),
          startingAfter,
        ],
        responses: { 200: json('A page of invoices with their lines.', InvoiceList) },
      },
      handler: async (req) => {
        const status = req.query.get('status') ?? undefined;
        if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) throw new TallyError('TALLY_ERR_INVALID_VALUE', `status must be one of ${STATUSES.join(', ')}`, { field: 'status' });
        const overdue = req.query.get('overdue') ?? undefined;
        if (overdue !== undefined && overdue !== 'true' && overdue !== 'false') throw new TallyError('TALLY_ERR_INVALID_VALUE', 'overdue must be true or false', { field: 'overdue' });
        const body = await invoices.list(tenantOf(req), {
          customer: queryText(req, 'customer'),
          subscription: queryText(req, 'subscription'),
          status: status as (typeof STATUSES)[number] | undefined,
          issuedFrom: queryInstant(req, 'issued_from'),
          issuedBefore: queryInstant(req, 'issued_before'),
          overdue: overdue === undefined ? undefined : overdue === 'true',
          limit: listLimit(req, 100, 1000),
          startingAfter: queryText(req, 'starting_after'),
        });
        return { status: 200, body };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/invoices/:id',
      access: 'tenant',
      doc: { operationId: 'getInvoice', tag: 'Invoices', summary: 'Get an invoice', path: { id: 'The invoice id (`in_...`).' }, responses: { 200: json('The invoice.', Invoice) } },
      handler: async (req) => {
        const invoice = await invoices.get(tenantOf(req), req.params.id!);
        if (invoice === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no invoice ${JSON.stringify(req.params.id)}`, { field: 'id' });
        return { status: 200, body: invoice };
      },
    },
  ];
}
