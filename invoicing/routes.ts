import { TallyError } from '../core/errors.js';
import { listLimit } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import type { Billing } from './billing.js';
import type { InvoiceRepository } from './invoices.js';

/** `GET /v1/subscriptions/:id/upcoming`, `GET /v1/invoices` (by customer or subscription), `GET /v1/invoices/:id`. */
export function billingRoutes(billing: Billing, invoices: InvoiceRepository, clock: () => number = Date.now): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/upcoming',
      access: 'tenant',
      handler: async (req) => ({ status: 200, body: await billing.upcoming(tenantOf(req), req.params.id!, new Date(clock())) }),
    },
    {
      method: 'GET',
      pattern: '/v1/invoices',
      access: 'tenant',
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
      handler: async (req) => {
        const invoice = await invoices.get(tenantOf(req), req.params.id!);
        if (invoice === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no invoice ${JSON.stringify(req.params.id)}`, { field: 'id' });
        return { status: 200, body: invoice };
      },
    },
  ];
}
