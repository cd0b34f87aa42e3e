import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { AddCharge, type OneOffCharges } from './one-off-charges.js';
import { OneOffCharge, OneOffChargeList, SUBSCRIPTION_ID } from './openapi.js';

/** `POST/GET /v1/subscriptions/:id/charges`: one-off charges billed on the next invoice. */
export function chargeRoutes(charges: OneOffCharges, clock: () => number = Date.now): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no subscription ${JSON.stringify(id)}`, { field: 'id' });
  return [
    {
      method: 'POST',
      pattern: '/v1/subscriptions/:id/charges',
      access: 'tenant',
      doc: {
        operationId: 'addCharge',
        tag: 'Subscriptions',
        summary: 'Add a one-off charge to the next invoice',
        description: 'A setup fee or an add-on: a `charge` line on the next invoice closed for the subscription (and on its upcoming invoice until then), discounted and taxed like its other charges.',
        path: SUBSCRIPTION_ID,
        body: { name: 'AddCharge', schema: AddCharge },
        responses: { 201: json('The charge.', OneOffCharge) },
        errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => {
        const charge = await charges.add(tenantOf(req), req.params.id!, jsonBody(req, AddCharge), actorOf(req), new Date(clock()));
        if (charge === undefined) throw notFound(req.params.id!);
        return { status: 201, body: charge };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/charges',
      access: 'tenant',
      doc: { operationId: 'listCharges', tag: 'Subscriptions', summary: 'The one-off charges of a subscription, billed or waiting', path: SUBSCRIPTION_ID, responses: { 200: json('Oldest first.', OneOffChargeList) } },
      handler: async (req) => ({ status: 200, body: { data: await charges.list(tenantOf(req), req.params.id!) } }),
    },
  ];
}
