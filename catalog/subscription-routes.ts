import { TallyError } from '../core/errors.js';
import { jsonBody, listLimit, queryText } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { customerFilter, json, limitParameter, startingAfter } from '../http/openapi-doc.js';
import { CancelSubscription, ChangeSubscription, CreateSubscription, type SubscriptionService } from './subscriptions.js';
import { AuditTrail, Subscription, SUBSCRIPTION_ID, SubscriptionList } from './openapi.js';

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
      doc: {
        operationId: 'createSubscription',
        tag: 'Subscriptions',
        summary: 'Put a customer on a plan',
        body: { name: 'CreateSubscription', schema: CreateSubscription },
        responses: { 201: json('The subscription.', Subscription) },
        errors: ['TALLY_ERR_CUSTOMER_NOT_FOUND', 'TALLY_ERR_PLAN_NOT_FOUND', 'TALLY_ERR_CURRENCY_MISMATCH'],
      },
      handler: async (req) => ({ status: 201, body: await subs.create(tenantOf(req), jsonBody(req, CreateSubscription), actorOf(req), new Date(clock())) }),
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions',
      access: 'tenant',
      doc: {
        operationId: 'listSubscriptions',
        tag: 'Subscriptions',
        summary: 'List subscriptions',
        query: [customerFilter, limitParameter(100, 1000), startingAfter],
        responses: { 200: json('A page of subscriptions.', SubscriptionList) },
      },
      handler: async (req) => {
        const limit = listLimit(req, 100, 1000);
        const body = await subs.list(tenantOf(req), queryText(req, 'customer'), limit, queryText(req, 'starting_after'), new Date(clock()));
        return { status: 200, body };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id',
      access: 'tenant',
      doc: { operationId: 'getSubscription', tag: 'Subscriptions', summary: 'Get a subscription', path: SUBSCRIPTION_ID, responses: { 200: json('The subscription.', Subscription) } },
      handler: async (req) => ({ status: 200, body: found(await subs.get(tenantOf(req), req.params.id!, new Date(clock())), req.params.id!) }),
    },
    {
      method: 'POST',
      pattern: '/v1/subscriptions/:id/change',
      access: 'tenant',
      doc: {
        operationId: 'changeSubscription',
        tag: 'Subscriptions',
        summary: 'Change the plan or the number of seats, now or at the period end',
        body: { name: 'ChangeSubscription', schema: ChangeSubscription },
        path: SUBSCRIPTION_ID,
        responses: { 200: json('The subscription.', Subscription) },
        errors: ['TALLY_ERR_PLAN_NOT_FOUND', 'TALLY_ERR_CURRENCY_MISMATCH', 'TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => {
        const input = jsonBody(req, ChangeSubscription);
        return { status: 200, body: found(await subs.change(tenantOf(req), req.params.id!, input, actorOf(req), new Date(clock())), req.params.id!) };
      },
    },
    {
      method: 'POST',
      pattern: '/v1/subscriptions/:id/cancel',
      access: 'tenant',
      doc: {
        operationId: 'cancelSubscription',
        tag: 'Subscriptions',
        summary: 'Cancel, now or at the period end',
        body: { name: 'CancelSubscription', schema: CancelSubscription },
        path: SUBSCRIPTION_ID,
        responses: { 200: json('The subscription.', Subscription) },
        errors: ['TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => {
        const input = jsonBody(req, CancelSubscription);
        return { status: 200, body: found(await subs.cancel(tenantOf(req), req.params.id!, input.at_period_end ?? false, actorOf(req), new Date(clock())), req.params.id!) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/audit',
      access: 'tenant',
      doc: {
        operationId: 'getSubscriptionAudit',
        tag: 'Subscriptions',
        summary: 'Every change: when, by which key, what',
        path: SUBSCRIPTION_ID,
        responses: { 200: json('The audit trail, oldest first.', AuditTrail) },
      },
      handler: async (req) => {
        found(await subs.get(tenantOf(req), req.params.id!, new Date(clock())), req.params.id!);
        return { status: 200, body: { data: await subs.auditTrail(tenantOf(req), req.params.id!) } };
      },
    },
  ];
}
