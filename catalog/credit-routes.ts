import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import { GrantCredit, type CreditService } from './credits.js';
import { CreditBalance, CreditGrant, CreditLedger, CUSTOMER_ID } from './openapi.js';

/** `POST/GET /v1/customers/:id/credits` (grant; balance and grants) and `GET /v1/customers/:id/credits/ledger`. */
export function creditRoutes(credits: CreditService): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no customer ${JSON.stringify(id)}`, { field: 'id' });
  return [
    {
      method: 'POST',
      pattern: '/v1/customers/:id/credits',
      access: 'tenant',
      doc: {
        operationId: 'grantCredit',
        tag: 'Credits',
        summary: 'Grant purchased credit',
        body: { name: 'GrantCredit', schema: GrantCredit },
        path: CUSTOMER_ID,
        responses: { 201: json('The grant.', CreditGrant) },
      },
      handler: async (req) => ({ status: 201, body: await credits.grant(tenantOf(req), req.params.id!, jsonBody(req, GrantCredit), actorOf(req)) }),
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id/credits',
      access: 'tenant',
      doc: { operationId: 'getCreditBalance', tag: 'Credits', summary: "A customer's credit balance and grants", path: CUSTOMER_ID, responses: { 200: json('Balance and grants.', CreditBalance) } },
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
      doc: {
        operationId: 'getCreditLedger',
        tag: 'Credits',
        summary: 'Every grant, use and expiry, oldest first',
        path: CUSTOMER_ID,
        responses: { 200: json('The ledger, with the balance after each entry.', CreditLedger) },
      },
      handler: async (req) => {
        const data = await credits.ledger(tenantOf(req), req.params.id!);
        if (data === undefined) throw notFound(req.params.id!);
        return { status: 200, body: { data } };
      },
    },
  ];
}
