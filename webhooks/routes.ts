import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { jsonBody, listLimit, queryText } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { json, limitParameter, startingAfter } from '../http/openapi-doc.js';
import { Deleted } from '../http/openapi-shapes.js';
import { CreateEndpoint, UpdateEndpoint, type EndpointService } from './endpoints.js';
import { EVENT_TYPES } from './events.js';
import type { EventLog } from './log.js';
import { NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointList, WebhookEvent, WebhookEventList } from './openapi.js';

export const Redeliver = z.strictObject({ endpoint: z.string().min(1).max(100).optional() });

const ENDPOINT_ID = { id: 'The endpoint id (`we_...`).' };
const EVENT_ID = { id: 'The event id (`evt_...`).' };

/** `/v1/webhook_endpoints` and `/v1/webhook_events` (the delivery log and manual redelivery). */
export function webhookRoutes(endpoints: EndpointService, log: EventLog): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/webhook_endpoints',
      access: 'tenant',
      doc: {
        operationId: 'createWebhookEndpoint',
        tag: 'Webhooks',
        summary: 'Register a webhook endpoint',
        body: { name: 'CreateEndpoint', schema: CreateEndpoint },
        responses: { 201: json('The endpoint, with its signing secret (shown only here).', NewWebhookEndpoint) },
      },
      handler: async (req) => ({ status: 201, body: await endpoints.create(tenantOf(req), jsonBody(req, CreateEndpoint)) }),
    },
    {
      method: 'GET',
      pattern: '/v1/webhook_endpoints',
      access: 'tenant',
      doc: { operationId: 'listWebhookEndpoints', tag: 'Webhooks', summary: 'List webhook endpoints', responses: { 200: json('Every endpoint.', WebhookEndpointList) } },
      handler: async (req) => ({ status: 200, body: { data: await endpoints.list(tenantOf(req)) } }),
    },
    {
      method: 'GET',
      pattern: '/v1/webhook_endpoints/:id',
      access: 'tenant',
      doc: { operationId: 'getWebhookEndpoint', tag: 'Webhooks', summary: 'Get a webhook endpoint', path: ENDPOINT_ID, responses: { 200: json('The endpoint.', WebhookEndpoint) } },
      handler: async (req) => ({ status: 200, body: await endpoints.get(tenantOf(req), req.params.id!) }),
    },
    {
      method: 'PATCH',
      pattern: '/v1/webhook_endpoints/:id',
      access: 'tenant',
      doc: {
        operationId: 'updateWebhookEndpoint',
        tag: 'Webhooks',
        summary: 'Change a webhook endpoint',
        body: { name: 'UpdateEndpoint', schema: UpdateEndpoint },
        path: ENDPOINT_ID,
        responses: { 200: json('The endpoint.', WebhookEndpoint) },
      },
      handler: async (req) => ({ status: 200, body: await endpoints.update(tenantOf(req), req.params.id!, jsonBody(req, UpdateEndpoint)) }),
    },
    {
      method: 'DELETE',
      pattern: '/v1/webhook_endpoints/:id',
      access: 'tenant',
      doc: { operationId: 'deleteWebhookEndpoint', tag: 'Webhooks', summary: 'Remove a webhook endpoint', path: ENDPOINT_ID, responses: { 200: json('Deleted.', Deleted) } },
      handler: async (req) => {
        await endpoints.remove(tenantOf(req), req.params.id!);
        return { status: 200, body: { id: req.params.id, deleted: true } };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/webhook_events',
      access: 'tenant',
      doc: {
        operationId: 'listWebhookEvents',
        tag: 'Webhooks',
        summary: 'Outbound events, newest first, with their deliveries',
        query: [{ name: 'type', description: 'Only events of this type.', schema: { type: 'string', enum: [...EVENT_TYPES] } }, limitParameter(50, 500), startingAfter],
        responses: { 200: json('A page of events.', WebhookEventList) },
      },
      handler: async (req) => {
        const type = queryText(req, 'type');
        if (type !== undefined && !(EVENT_TYPES as readonly string[]).includes(type)) throw new TallyError('TALLY_ERR_INVALID_VALUE', `type must be one of ${EVENT_TYPES.join(', ')}`, { field: 'type' });
        return { status: 200, body: await log.list(tenantOf(req), { type, limit: listLimit(req, 50, 500), after: queryText(req, 'starting_after') }) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/webhook_events/:id',
      access: 'tenant',
      doc: {
        operationId: 'getWebhookEvent',
        tag: 'Webhooks',
        summary: 'One event with every delivery attempt',
        path: EVENT_ID,
        responses: { 200: json('The event and its delivery log.', WebhookEvent) },
      },
      handler: async (req) => ({ status: 200, body: await log.get(tenantOf(req), req.params.id!) }),
    },
    {
      method: 'POST',
      pattern: '/v1/webhook_events/:id/redeliver',
      access: 'tenant',
      doc: {
        operationId: 'redeliverWebhookEvent',
        tag: 'Webhooks',
        summary: 'Queue an event for delivery again',
        description: 'To every endpoint it went to, or to the one named (even one added later); the retry schedule starts afresh.',
        path: EVENT_ID,
        body: { name: 'Redeliver', schema: Redeliver },
        responses: { 202: json('The event, its deliveries queued.', WebhookEvent) },
      },
      handler: async (req) => {
        const body = req.body.length === 0 ? {} : jsonBody(req, Redeliver);
        return { status: 202, body: await log.redeliver(tenantOf(req), req.params.id!, body.endpoint) };
      },
    },
  ];
}
