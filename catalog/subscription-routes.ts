import { TallyError } from '../core/errors.js';
import { jsonBody, listLimit } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { CancelSubscription, ChangeSubscription, CreateSubscription, type SubscriptionService } from './subscriptions.js';

/**
 * `POST/GET /v1/subscriptions`, `GET /v1/subscriptions/:id`, `POST /v1/subscriptions/:id/change`,
 * `POST /v1/subscriptions/:id/cancel`, and `GET /v1/subscriptions/:id/audit` (the trail).
 */
export function subscriptionRoutes(subs: SubscriptionService, clock: () => number = Date.now): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no subscription ${JSON.stringify(id)}`, { field: 'id' });
  const found = <T>(v: T | undefined, id: string): T => {
    if (v === undefined) throw notFound(id);
    return v;
  };
  return [
    {
      method: 'POST',
      pattern: '/v1/subscriptions',
      access: 'tenant',
      handler: async (req) => ({ status: 201, body: await subs.create(tenantOf(req), jsonBody(req, CreateSubscription), actorOf(req), new Date(clock())) }),
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions',
      access: 'tenant',
      handler: async (req) => {
        const limit = listLimit(req, 100, 1000);
        const body = await subs.list(tenantOf(req), req.query.get('customer') ?? undefined, limit, req.query.get('starting_after') ?? undefined, new Date(clock()));
        return { status: 200, body };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id',
      access: 'tenant',
      handler: async (req) => ({ status: 200, body: found(await subs.get(tenantOf(req), req.params.id!, new Date(clock())), req.params.id!) }),
    },
    {
      method: 'POST',
      pattern: '/v1/subscriptions/:id/change',
      access: 'tenant',
      handler: async (req) => {
        const input = jsonBody(req, ChangeSubscription);
        return { status: 200, body: found(await subs.change(tenantOf(req), req.params.id!, input, actorOf(req), new Date(clock())), req.params.id!) };
      },
    },
    {
      method: 'POST',
      pattern: '/v1/subscriptions/:id/cancel',
      access: 'tenant',
      handler: async (req) => {
        const input = jsonBody(req, CancelSubscription);
        return { status: 200, body: found(await subs.cancel(tenantOf(req), req.params.id!, input.at_period_end ?? false, actorOf(req), new Date(clock())), req.params.id!) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/audit',
      access: 'tenant',
      handler: async (req) => {
        found(await subs.get(tenantOf(req), req.params.id!, new Date(clock())), req.params.id!);
        return { status: 200, body: { data: await subs.auditTrail(tenantOf(req), req.params.id!) } };
      },
    },
  ];
}
