import { TallyError } from '../core/errors.js';
import { json } from '../http/openapi-doc.js';
import { tenantOf, type Route } from '../http/types.js';
import { CUSTOMER_ID } from '../catalog/openapi.js';
import { customerBalance, type BalanceDeps } from './balance.js';
import { CustomerBalance } from './openapi.js';

/** `GET /v1/customers/:id/balance`: the prepaid balance now (balance.ts). */
export function balanceRoutes(deps: BalanceDeps & { clock: () => number }): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v1/customers/:id/balance',
      access: 'tenant',
      doc: {
        operationId: 'getCustomerBalance',
        tag: 'Credits',
        summary: "A customer's prepaid balance now: credit minus the open periods' spend so far",
        description:
          "`credit` is the remaining purchased credit plus the open period's credit allowance of each live subscription (it expires with the period); `spend` is what the upcoming invoices charge so far before credits and tax (subtotal − discount: credits are applied before tax); `balance` is `credit − spend`. Without a live subscription the spend is 0. Usage counts as the upcoming invoice rates it.",
        path: CUSTOMER_ID,
        responses: { 200: json('The balance, with each live subscription’s part.', CustomerBalance) },
      },
      handler: async (req) => {
        const body = await customerBalance(deps, tenantOf(req), req.params.id!, new Date(deps.clock()));
        if (body === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no customer ${JSON.stringify(req.params.id)}`, { field: 'id' });
        return { status: 200, body };
      },
    },
  ];
}
