import { TallyError } from '../core/errors.js';
import { listLimit } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import type { Billing } from './billing.js';
import type { InvoiceRepository } from './invoice-reads.js';
import { Invoice, InvoiceList } from './openapi.js';
import { SUBSCRIPTION_ID } from '../catalog/openapi.js';
import { customerFilter, json, limitParameter, startingAfter } from '../http/openapi-doc.js';

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
        errors: ['TALLY_ERR_NO_UPCOMING_INVOICE'],
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
        query: [customerFilter, { name: 'subscription', description: 'Only this subscription.', schema: { type: 'string' } }, limitParameter(100, 1000), startingAfter],
        responses: { 200: json('A page of invoices with their lines.', InvoiceList) },
      },
      handler: async (req) => {
        const body = await invoices.list(tenantOf(req), {
          customer: req.query.get('customer') ?? undefined,
          subscription: req.query.get('subscription') ?? undefined,
          limit: listLimit(req, 100, 1000),
          startingAfter: req.query.get('starting_after') ?? undefined,
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
