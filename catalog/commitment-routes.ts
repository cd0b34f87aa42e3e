import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import { SetCommitment, type CommitmentService } from './commitments.js';
import { Commitment, SUBSCRIPTION_ID } from './openapi.js';

/** `PUT/GET /v1/subscriptions/:id/commitment`. */
export function commitmentRoutes(commitments: CommitmentService, clock: () => number = Date.now): Route[] {
  return [
    {
      method: 'PUT',
      pattern: '/v1/subscriptions/:id/commitment',
      access: 'tenant',
      doc: {
        operationId: 'setCommitment',
        tag: 'Discounts',
        summary: "Set a subscription's commitment",
        description: 'A minimum spend per period and/or a committed-use discount, from the current period until `until`; replaces the last one.',
        body: { name: 'SetCommitment', schema: SetCommitment },
        path: SUBSCRIPTION_ID,
        responses: { 200: json('The commitment.', Commitment) },
        errors: ['TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => ({ status: 200, body: await commitments.set(tenantOf(req), req.params.id!, jsonBody(req, SetCommitment), actorOf(req), new Date(clock())) }),
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/commitment',
      access: 'tenant',
      doc: { operationId: 'getCommitment', tag: 'Discounts', summary: "A subscription's commitment", path: SUBSCRIPTION_ID, responses: { 200: json('The commitment.', Commitment) } },
      handler: async (req) => {
        const c = await commitments.get(tenantOf(req), req.params.id!);
        if (c === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `subscription ${JSON.stringify(req.params.id)} has no commitment`, { field: 'id' });
        return { status: 200, body: c };
      },
    },
  ];
}
