import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { SetCommitment, type CommitmentService } from './commitments.js';

/** `PUT/GET /v1/subscriptions/:id/commitment`. */
export function commitmentRoutes(commitments: CommitmentService, clock: () => number = Date.now): Route[] {
  return [
    {
      method: 'PUT',
      pattern: '/v1/subscriptions/:id/commitment',
      access: 'tenant',
      handler: async (req) => ({ status: 200, body: await commitments.set(tenantOf(req), req.params.id!, jsonBody(req, SetCommitment), actorOf(req), new Date(clock())) }),
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/commitment',
      access: 'tenant',
      handler: async (req) => {
        const c = await commitments.get(tenantOf(req), req.params.id!);
        if (c === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `subscription ${JSON.stringify(req.params.id)} has no commitment`, { field: 'id' });
        return { status: 200, body: c };
      },
    },
  ];
}
