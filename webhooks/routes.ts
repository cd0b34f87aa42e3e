import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { jsonBody, listLimit } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { CreateEndpoint, UpdateEndpoint, type EndpointService } from './endpoints.js';
import { EVENT_TYPES } from './events.js';
import type { EventLog } from './log.js';

export const Redeliver = z.strictObject({ endpoint: z.string().min(1).max(100).optional() });

/** `/v1/webhook_endpoints` and `/v1/webhook_events` (the delivery log and manual redelivery). */
export function notifyRoutes(endpoints: EndpointService, log: EventLog): Route[] {
  return [
    { method: 'POST', pattern: '/v1/webhook_endpoints', access: 'tenant', handler: async (req) => ({ status: 201, body: await endpoints.create(tenantOf(req), jsonBody(req, CreateEndpoint)) }) },
    { method: 'GET', pattern: '/v1/webhook_endpoints', access: 'tenant', handler: async (req) => ({ status: 200, body: { data: await endpoints.list(tenantOf(req)) } }) },
    { method: 'GET', pattern: '/v1/webhook_endpoints/:id', access: 'tenant', handler: async (req) => ({ status: 200, body: await endpoints.get(tenantOf(req), req.params.id!) }) },
    { method: 'PATCH', pattern: '/v1/webhook_endpoints/:id', access: 'tenant', handler: async (req) => ({ status: 200, body: await endpoints.update(tenantOf(req), req.params.id!, jsonBody(req, UpdateEndpoint)) }) },
    {
      method: 'DELETE',
      pattern: '/v1/webhook_endpoints/:id',
      access: 'tenant',
      handler: async (req) => {
        await endpoints.remove(tenantOf(req), req.params.id!);
        return { status: 200, body: { id: req.params.id, deleted: true } };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/webhook_events',
      access: 'tenant',
      handler: async (req) => {
        const type = req.query.get('type') ?? undefined;
        if (type !== undefined && !(EVENT_TYPES as readonly string[]).includes(type)) throw new TallyError('TALLY_ERR_INVALID_VALUE', `type must be one of ${EVENT_TYPES.join(', ')}`, { field: 'type' });
        return { status: 200, body: await log.list(tenantOf(req), { type, limit: listLimit(req, 50, 500), after: req.query.get('starting_after') ?? undefined }) };
      },
    },
    { method: 'GET', pattern: '/v1/webhook_events/:id', access: 'tenant', handler: async (req) => ({ status: 200, body: await log.get(tenantOf(req), req.params.id!) }) },
    {
      method: 'POST',
      pattern: '/v1/webhook_events/:id/redeliver',
      access: 'tenant',
      handler: async (req) => {
        const body = req.body.length === 0 ? {} : jsonBody(req, Redeliver);
        return { status: 202, body: await log.redeliver(tenantOf(req), req.params.id!, body.endpoint) };
      },
    },
  ];
}
