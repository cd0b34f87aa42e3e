import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { GrantCredit, type CreditService } from './credits.js';

/** `POST/GET /v1/customers/:id/credits` (grant; balance and grants) and `GET /v1/customers/:id/credits/ledger`. */
export function creditRoutes(credits: CreditService): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no customer ${JSON.stringify(id)}`, { field: 'id' });
  return [
    {
      method: 'POST',
      pattern: '/v1/customers/:id/credits',
      access: 'tenant',
      handler: async (req) => ({ status: 201, body: await credits.grant(tenantOf(req), req.params.id!, jsonBody(req, GrantCredit), actorOf(req)) }),
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id/credits',
      access: 'tenant',
      handler: async (req) => {
        const body = await credits.balance(tenantOf(req), req.params.id!);
        if (body === undefined) throw notFound(req.params.id!);
        return { status: 200, body };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id/credits/ledger',
      access: 'tenant',
      handler: async (req) => {
        const data = await credits.ledger(tenantOf(req), req.params.id!);
        if (data === undefined) throw notFound(req.params.id!);
        return { status: 200, body: { data } };
      },
    },
  ];
}
