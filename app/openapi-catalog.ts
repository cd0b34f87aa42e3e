import { CreateMeter, UpdateMeter } from '../metering/meters.js';
import { SetAlerts } from '../alerts/settings.js';
import { SetCommitment } from '../catalog/commitments.js';
import { CreateCoupon, RedeemCoupon } from '../catalog/coupons.js';
import { GrantCredit } from '../catalog/credits.js';
import { CreateCustomer, UpdateCustomer } from '../catalog/customers.js';
import { CreatePlan } from '../catalog/plans.js';
import { CancelSubscription, ChangeSubscription, CreateSubscription } from '../catalog/subscriptions.js';
import { CreateTaxRate } from '../catalog/tax-rates.js';
import { SetVolumeDiscount } from '../catalog/volume-discounts.js';
import { EVENT_TYPES } from '../webhooks/events.js';
import { CreateEndpoint, UpdateEndpoint } from '../webhooks/endpoints.js';
import { Redeliver } from '../webhooks/routes.js';
import { CreateTenant } from '../tenants/routes.js';
import { RESPONSE_SCHEMAS } from './openapi-schemas.js';
import { schemaRef as ref, type Catalogue, type OperationFacts, type Parameter } from '../http/openapi.js';

/**
 * What the route table does not say about each route, keyed by `METHOD pattern`. Request
 * bodies are named, never described here: they are the zod schemas the handlers validate with.
 */
const BODIES = {
  CreateTenant,
  Redeliver,
  CreateMeter,
  UpdateMeter,
  CreateCustomer,
  UpdateCustomer,
  GrantCredit,
  CreateCoupon,
  RedeemCoupon,
  CreateTaxRate,
  SetVolumeDiscount,
  SetCommitment,
  SetAlerts,
  CreatePlan,
  CreateSubscription,
  ChangeSubscription,
  CancelSubscription,
  CreateEndpoint,
  UpdateEndpoint,
};
type Body = keyof typeof BODIES;

const TAGS = [
  { name: 'System', description: 'Liveness, readiness, metrics and this document; no key needed.' },
  { name: 'Tenants', description: 'Tenants and their API keys.' },
  { name: 'Events', description: 'Usage events in.' },
  { name: 'Meters', description: 'How events become usage.' },
  { name: 'Usage', description: 'Aggregated usage over a range.' },
  { name: 'Customers', description: "The tenant's customers." },
  { name: 'Credits', description: "A customer's credit grants and ledger." },
  { name: 'Plans', description: 'Versioned plans and their rate cards.' },
  { name: 'Subscriptions', description: 'Customers on plans, and their lifecycle.' },
  { name: 'Discounts', description: 'Coupons, commitments, volume discounts and tax rates.' },
  { name: 'Alerts', description: 'Usage-alert thresholds.' },
  { name: 'Invoices', description: 'Upcoming and closed invoices.' },
  { name: 'Webhooks', description: 'Outbound webhook endpoints, the event log and redelivery.' },
  { name: 'Analytics', description: 'Recurring revenue and revenue by plan.' },
  { name: 'Stripe', description: 'Events from Stripe.' },
];

const json = (description: string, schema: string) => ({ description, schema: ref(schema) });
const instant = { type: 'string', format: 'date-time' };

const limit = (dflt: number, max: number): Parameter => ({
  name: 'limit',
  description: `How many to return, from 1 to ${max}.`,
  schema: { type: 'integer', minimum: 1, maximum: max, default: dflt },
});
const startingAfter: Parameter = { name: 'starting_after', description: 'The last id of the previous page.', schema: { type: 'string' } };
const from: Parameter = { name: 'from', required: true, description: 'Start of the range `[from, to)`, RFC 3339 with a zone.', schema: instant };
const to: Parameter = { name: 'to', required: true, description: 'End of the range, at most 10 years after `from`.', schema: instant };

const CUSTOMER_ID = { id: "The customer's id (the tenant's own)." };
const SUBSCRIPTION_ID = { id: 'The subscription id (`sub_...`).' };
const PLAN_RULES = [
  'TALLY_ERR_CURRENCY_INVALID',
  'TALLY_ERR_PRICE_INVALID',
  'TALLY_ERR_PRICE_NEGATIVE',
  'TALLY_ERR_PRICE_TOO_PRECISE',
  'TALLY_ERR_QUANTITY_INVALID',
  'TALLY_ERR_QUANTITY_TOO_PRECISE',
  'TALLY_ERR_TIERS_NOT_ASCENDING',
  'TALLY_ERR_TIER_OPEN_ENDED',
  'TALLY_ERR_CHARGE_MODEL_FIELDS',
  'TALLY_ERR_MINIMUM_ABOVE_MAXIMUM',
  'TALLY_ERR_DUPLICATE_CHARGE',
  'TALLY_ERR_METER_NOT_FOUND',
] as const;

/** The body formats of `POST /v1/events` (ingest/parse.ts). */
const EVENT_FORMATS = {
  'application/json': { schema: { anyOf: [ref('Event'), { type: 'array', items: ref('Event') }] } },
  'application/x-ndjson': { schema: { type: 'string', description: 'One `Event` as JSON per line.' } },
  'application/msgpack': { schema: { description: 'One `Event` as a msgpack map, or an array of them.' } },
  'application/cloudevents+json': { schema: ref('CloudEvent') },
  'application/cloudevents-batch+json': { schema: { type: 'array', items: ref('CloudEvent') } },
};

const OPERATIONS: Record<string, OperationFacts<Body>> = {
  'GET /healthz': { operationId: 'getHealth', tag: 'System', summary: 'Liveness: the process answers', responses: { 200: json('Alive.', 'Health') } },
  'GET /readyz': {
    operationId: 'getReadiness',
    tag: 'System',
    summary: 'Readiness: the stores answer and ingest can commit',
    responses: { 200: json('Ready.', 'Readiness'), 503: json('Not ready; `checks` names what is down.', 'Readiness') },
  },
  'GET /metrics': {
    operationId: 'getMetrics',
    tag: 'System',
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'The Prometheus text exposition.', contentType: 'text/plain', schema: { type: 'string' } } },
  },
  'GET /openapi.json': {
    operationId: 'getOpenApiDocument',
    tag: 'System',
    summary: 'This OpenAPI document',
    description: 'Generated from the route table and the schemas that validate request bodies.',
    responses: { 200: json('The OpenAPI 3.1 document.', 'OpenApiDocument') },
  },

  'POST /v1/tenants': {
    operationId: 'createTenant',
    tag: 'Tenants',
    summary: 'Create a tenant and its first API key',
    body: 'CreateTenant',
    responses: { 201: json('The tenant, with its API key (shown only here).', 'NewTenant') },
  },
  'GET /v1/tenant': { operationId: 'getTenant', tag: 'Tenants', summary: 'The tenant the key belongs to', responses: { 200: json('The tenant.', 'Tenant') }, errors: ['TALLY_ERR_NOT_FOUND'] },
  'POST /v1/tenant/api_keys': { operationId: 'createApiKey', tag: 'Tenants', summary: 'Create another API key, for rotation', responses: { 201: json('The key, with its secret (shown only here).', 'NewApiKey') } },
  'GET /v1/tenant/api_keys': { operationId: 'listApiKeys', tag: 'Tenants', summary: "The tenant's API keys", responses: { 200: json('Every key, with when it was made and revoked.', 'ApiKeyList') } },
  'DELETE /v1/tenant/api_keys/:id': {
    operationId: 'revokeApiKey',
    tag: 'Tenants',
    summary: 'Revoke an API key',
    description: 'Never the last active key: create another one first.',
    path: { id: 'The key id.' },
    responses: { 200: json('The revoked key.', 'ApiKey') },
    errors: ['TALLY_ERR_INVALID_TRANSITION'],
  },

  'POST /v1/events': {
    operationId: 'ingestEvents',
    tag: 'Events',
    summary: 'Send usage events',
    description:
      'One event or many, in any of the body formats. The answer comes after every accepted event is committed; one bad event never sinks its batch. ' +
      'NDJSON is also accepted as `application/ndjson` and `application/jsonl`, msgpack as `application/x-msgpack` and `application/vnd.msgpack`. ' +
      'After a 429 or 503 nothing of the request was accepted: send it again, whole.',
    requestBody: { description: 'The events.', required: true, content: EVENT_FORMATS },
    responses: { 202: json('What happened to each event.', 'IngestResult') },
    errors: ['TALLY_ERR_INVALID_JSON', 'TALLY_ERR_INVALID_BODY', 'TALLY_ERR_BATCH_TOO_LARGE', 'TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', 'TALLY_ERR_INGEST_OVERLOADED', 'TALLY_ERR_STORE_UNAVAILABLE'],
  },

  'POST /v1/meters': { operationId: 'createMeter', tag: 'Meters', summary: 'Define a meter', body: 'CreateMeter', responses: { 201: json('The meter.', 'Meter') }, errors: ['TALLY_ERR_ALREADY_EXISTS'] },
  'GET /v1/meters': { operationId: 'listMeters', tag: 'Meters', summary: 'List meters', responses: { 200: json('Every meter.', 'MeterList') } },
  'GET /v1/meters/:key': { operationId: 'getMeter', tag: 'Meters', summary: 'Get a meter', path: { key: 'The meter key.' }, responses: { 200: json('The meter.', 'Meter') } },
  'PATCH /v1/meters/:key': {
    operationId: 'updateMeter',
    tag: 'Meters',
    summary: "Change a meter's name or unit",
    description: 'The rule of a meter (`aggregation`, `value_property`, `group_by`) never changes: `TALLY_ERR_IMMUTABLE_FIELD`.',
    body: 'UpdateMeter',
    path: { key: 'The meter key.' },
    responses: { 200: json('The meter.', 'Meter') },
    errors: ['TALLY_ERR_IMMUTABLE_FIELD'],
  },
  'GET /v1/usage': {
    operationId: 'getUsage',
    tag: 'Usage',
    summary: "A meter's usage over a range, in windows",
    query: [
      { name: 'meter', required: true, description: 'The meter key.', schema: { type: 'string' } },
      { name: 'from', required: true, description: 'Start of `[from, to)`, RFC 3339 on a whole hour, from 1970-01-01T00:00:00Z.', schema: instant },
      { name: 'to', required: true, description: 'End of the range, on a whole hour, until 2106-01-01T00:00:00Z; at most 93 days after `from` with `window=hour`, 1,097 with `day`, 1,828 with `month` or `none`.', schema: instant },
      { name: 'customer', description: 'Only this customer.', schema: { type: 'string' } },
      { name: 'window', description: 'Window size.', schema: { type: 'string', enum: ['hour', 'day', 'month', 'none'], default: 'none' } },
      { name: 'tz', description: 'IANA time zone of day and month windows (whole-hour offsets), any spelling; answered under its canonical name.', schema: { type: 'string', default: 'UTC' } },
      { name: 'group_by', description: "Comma-separated properties from the meter's `group_by`.", schema: { type: 'string' } },
      limit(1000, 10_000),
      { name: 'page_token', description: '`next_page_token` of the previous page.', schema: { type: 'string' } },
    ],
    responses: { 200: json('Usage rows, ordered by window and customer.', 'Usage') },
    errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_RANGE_TOO_LONG'],
  },

  'POST /v1/customers': { operationId: 'createCustomer', tag: 'Customers', summary: 'Create a customer', body: 'CreateCustomer', responses: { 201: json('The customer.', 'Customer') }, errors: ['TALLY_ERR_ALREADY_EXISTS'] },
  'GET /v1/customers': { operationId: 'listCustomers', tag: 'Customers', summary: 'List customers, by id', query: [limit(100, 1000), startingAfter], responses: { 200: json('A page of customers.', 'CustomerList') } },
  'GET /v1/customers/:id': { operationId: 'getCustomer', tag: 'Customers', summary: 'Get a customer', path: CUSTOMER_ID, responses: { 200: json('The customer.', 'Customer') } },
  'PATCH /v1/customers/:id': {
    operationId: 'updateCustomer',
    tag: 'Customers',
    summary: 'Change a customer',
    description: '`metadata` is merged; a key set to `""` is removed. `id` and `currency` never change: `TALLY_ERR_IMMUTABLE_FIELD`.',
    body: 'UpdateCustomer',
    path: CUSTOMER_ID,
    responses: { 200: json('The customer.', 'Customer') },
    errors: ['TALLY_ERR_IMMUTABLE_FIELD'],
  },
  'DELETE /v1/customers/:id': {
    operationId: 'deleteCustomer',
    tag: 'Customers',
    summary: 'Delete a customer',
    description: 'Refused while the customer has a live subscription. The id stays taken.',
    path: CUSTOMER_ID,
    responses: { 200: json('Deleted.', 'Deleted') },
    errors: ['TALLY_ERR_INVALID_TRANSITION'],
  },
  'POST /v1/customers/:id/credits': { operationId: 'grantCredit', tag: 'Credits', summary: 'Grant purchased credit', body: 'GrantCredit', path: CUSTOMER_ID, responses: { 201: json('The grant.', 'CreditGrant') } },
  'GET /v1/customers/:id/credits': { operationId: 'getCreditBalance', tag: 'Credits', summary: "A customer's credit balance and grants", path: CUSTOMER_ID, responses: { 200: json('Balance and grants.', 'CreditBalance') } },
  'GET /v1/customers/:id/credits/ledger': {
    operationId: 'getCreditLedger',
    tag: 'Credits',
    summary: 'Every grant, use and expiry, oldest first',
    path: CUSTOMER_ID,
    responses: { 200: json('The ledger, with the balance after each entry.', 'CreditLedger') },
  },

  'POST /v1/coupons': { operationId: 'createCoupon', tag: 'Discounts', summary: 'Create a coupon', body: 'CreateCoupon', responses: { 201: json('The coupon.', 'Coupon') }, errors: ['TALLY_ERR_ALREADY_EXISTS', 'TALLY_ERR_CURRENCY_INVALID'] },
  'GET /v1/coupons': { operationId: 'listCoupons', tag: 'Discounts', summary: 'List coupons', responses: { 200: json('Every coupon.', 'CouponList') } },
  'GET /v1/coupons/:code': { operationId: 'getCoupon', tag: 'Discounts', summary: 'Get a coupon', path: { code: 'The coupon code.' }, responses: { 200: json('The coupon.', 'Coupon') } },
  'POST /v1/subscriptions/:id/coupons': {
    operationId: 'redeemCoupon',
    tag: 'Discounts',
    summary: 'Redeem a coupon on a subscription',
    body: 'RedeemCoupon',
    path: SUBSCRIPTION_ID,
    responses: { 201: json('The redemption.', 'Redemption') },
    errors: ['TALLY_ERR_COUPON_NOT_FOUND', 'TALLY_ERR_COUPON_EXPIRED', 'TALLY_ERR_COUPON_EXHAUSTED', 'TALLY_ERR_COUPON_NOT_APPLICABLE', 'TALLY_ERR_CURRENCY_MISMATCH', 'TALLY_ERR_ALREADY_EXISTS', 'TALLY_ERR_INVALID_TRANSITION'],
  },
  'POST /v1/tax_rates': { operationId: 'createTaxRate', tag: 'Discounts', summary: 'Create a tax rate', body: 'CreateTaxRate', responses: { 201: json('The tax rate.', 'TaxRate') }, errors: ['TALLY_ERR_ALREADY_EXISTS'] },
  'GET /v1/tax_rates': { operationId: 'listTaxRates', tag: 'Discounts', summary: 'List tax rates', responses: { 200: json('Every tax rate.', 'TaxRateList') } },
  'PUT /v1/volume_discount': {
    operationId: 'setVolumeDiscount',
    tag: 'Discounts',
    summary: "Replace the tenant's volume discount",
    description: '`{"tiers": []}` removes it.',
    body: 'SetVolumeDiscount',
    responses: { 200: json('The schedule.', 'VolumeDiscount') },
    errors: ['TALLY_ERR_TIERS_NOT_ASCENDING'],
  },
  'GET /v1/volume_discount': { operationId: 'getVolumeDiscount', tag: 'Discounts', summary: "The tenant's volume discount", responses: { 200: json('The schedule.', 'VolumeDiscount') } },
  'PUT /v1/subscriptions/:id/commitment': {
    operationId: 'setCommitment',
    tag: 'Discounts',
    summary: "Set a subscription's commitment",
    description: 'A minimum spend per period and/or a committed-use discount, from the current period until `until`; replaces the last one.',
    body: 'SetCommitment',
    path: SUBSCRIPTION_ID,
    responses: { 200: json('The commitment.', 'Commitment') },
    errors: ['TALLY_ERR_INVALID_TRANSITION'],
  },
  'GET /v1/subscriptions/:id/commitment': { operationId: 'getCommitment', tag: 'Discounts', summary: "A subscription's commitment", path: SUBSCRIPTION_ID, responses: { 200: json('The commitment.', 'Commitment') } },

  'GET /v1/analytics/mrr': {
    operationId: 'getMrr',
    tag: 'Analytics',
    summary: 'MRR per currency at an instant',
    query: [{ name: 'at', description: 'The instant, RFC 3339 with a zone; default now.', schema: instant }],
    responses: { 200: json('MRR, ARR, customers and ARPU per currency.', 'Mrr') },
  },
  'GET /v1/analytics/mrr_movements': {
    operationId: 'getMrrMovements',
    tag: 'Analytics',
    summary: 'How MRR moved over a range',
    query: [from, to],
    responses: { 200: json('New, expansion, contraction and churn per currency.', 'MrrMovements') },
  },
  'GET /v1/analytics/revenue_by_plan': {
    operationId: 'getRevenueByPlan',
    tag: 'Analytics',
    summary: 'Invoiced revenue by plan over a range',
    query: [from, to],
    responses: { 200: json('Revenue per plan and currency.', 'RevenueByPlan') },
  },

  'POST /v1/webhook_endpoints': {
    operationId: 'createWebhookEndpoint',
    tag: 'Webhooks',
    summary: 'Register a webhook endpoint',
    body: 'CreateEndpoint',
    responses: { 201: json('The endpoint, with its signing secret (shown only here).', 'NewWebhookEndpoint') },
  },
  'GET /v1/webhook_endpoints': { operationId: 'listWebhookEndpoints', tag: 'Webhooks', summary: 'List webhook endpoints', responses: { 200: json('Every endpoint.', 'WebhookEndpointList') } },
  'GET /v1/webhook_endpoints/:id': { operationId: 'getWebhookEndpoint', tag: 'Webhooks', summary: 'Get a webhook endpoint', path: { id: 'The endpoint id (`we_...`).' }, responses: { 200: json('The endpoint.', 'WebhookEndpoint') } },
  'PATCH /v1/webhook_endpoints/:id': {
    operationId: 'updateWebhookEndpoint',
    tag: 'Webhooks',
    summary: 'Change a webhook endpoint',
    body: 'UpdateEndpoint',
    path: { id: 'The endpoint id (`we_...`).' },
    responses: { 200: json('The endpoint.', 'WebhookEndpoint') },
  },
  'DELETE /v1/webhook_endpoints/:id': { operationId: 'deleteWebhookEndpoint', tag: 'Webhooks', summary: 'Remove a webhook endpoint', path: { id: 'The endpoint id (`we_...`).' }, responses: { 200: json('Deleted.', 'Deleted') } },
  'GET /v1/webhook_events': {
    operationId: 'listWebhookEvents',
    tag: 'Webhooks',
    summary: 'Outbound events, newest first, with their deliveries',
    query: [{ name: 'type', description: 'Only events of this type.', schema: { type: 'string', enum: [...EVENT_TYPES] } }, limit(50, 500), startingAfter],
    responses: { 200: json('A page of events.', 'WebhookEventList') },
  },
  'GET /v1/webhook_events/:id': {
    operationId: 'getWebhookEvent',
    tag: 'Webhooks',
    summary: 'One event with every delivery attempt',
    path: { id: 'The event id (`evt_...`).' },
    responses: { 200: json('The event and its delivery log.', 'WebhookEvent') },
  },
  'POST /v1/webhook_events/:id/redeliver': {
    operationId: 'redeliverWebhookEvent',
    tag: 'Webhooks',
    summary: 'Queue an event for delivery again',
    description: 'To every endpoint it went to, or to the one named (even one added later); the retry schedule starts afresh.',
    path: { id: 'The event id (`evt_...`).' },
    body: 'Redeliver',
    responses: { 202: json('The event, its deliveries queued.', 'WebhookEvent') },
  },

  'PUT /v1/subscriptions/:id/alerts': {
    operationId: 'setAlerts',
    tag: 'Alerts',
    summary: "Replace a subscription's usage-alert thresholds",
    description: 'Fields left out keep their thresholds; `[]` turns them off. A spend threshold without `meter` is over all charges.',
    body: 'SetAlerts',
    path: SUBSCRIPTION_ID,
    responses: { 200: json('The thresholds and what fired this period.', 'Alerts') },
  },
  'GET /v1/subscriptions/:id/alerts': { operationId: 'getAlerts', tag: 'Alerts', summary: "A subscription's thresholds and what fired this period", path: SUBSCRIPTION_ID, responses: { 200: json('The thresholds.', 'Alerts') } },

  'POST /v1/plans': {
    operationId: 'createPlan',
    tag: 'Plans',
    summary: 'Create a plan, or its next version',
    description: 'A changed plan under an existing `code` is its next version (201); an identical one changes nothing (200).',
    body: 'CreatePlan',
    responses: { 200: json('Nothing changed: the latest version.', 'Plan'), 201: json('The new plan or version.', 'Plan') },
    errors: PLAN_RULES,
  },
  'GET /v1/plans': { operationId: 'listPlans', tag: 'Plans', summary: 'The latest version of every plan', responses: { 200: json('Every plan.', 'PlanList') } },
  'GET /v1/plans/:code': {
    operationId: 'getPlan',
    tag: 'Plans',
    summary: 'Get a plan',
    path: { code: 'The plan code.' },
    query: [{ name: 'version', description: 'An older version; default the latest.', schema: { type: 'integer', minimum: 1 } }],
    responses: { 200: json('The plan version.', 'Plan') },
  },

  'POST /v1/subscriptions': {
    operationId: 'createSubscription',
    tag: 'Subscriptions',
    summary: 'Put a customer on a plan',
    body: 'CreateSubscription',
    responses: { 201: json('The subscription.', 'Subscription') },
    errors: ['TALLY_ERR_CUSTOMER_NOT_FOUND', 'TALLY_ERR_PLAN_NOT_FOUND', 'TALLY_ERR_CURRENCY_MISMATCH'],
  },
  'GET /v1/subscriptions': {
    operationId: 'listSubscriptions',
    tag: 'Subscriptions',
    summary: 'List subscriptions',
    query: [{ name: 'customer', description: 'Only this customer.', schema: { type: 'string' } }, limit(100, 1000), startingAfter],
    responses: { 200: json('A page of subscriptions.', 'SubscriptionList') },
  },
  'GET /v1/subscriptions/:id': { operationId: 'getSubscription', tag: 'Subscriptions', summary: 'Get a subscription', path: SUBSCRIPTION_ID, responses: { 200: json('The subscription.', 'Subscription') } },
  'POST /v1/subscriptions/:id/change': {
    operationId: 'changeSubscription',
    tag: 'Subscriptions',
    summary: 'Change the plan, now or at the period end',
    body: 'ChangeSubscription',
    path: SUBSCRIPTION_ID,
    responses: { 200: json('The subscription.', 'Subscription') },
    errors: ['TALLY_ERR_PLAN_NOT_FOUND', 'TALLY_ERR_CURRENCY_MISMATCH', 'TALLY_ERR_INVALID_TRANSITION'],
  },
  'POST /v1/subscriptions/:id/cancel': {
    operationId: 'cancelSubscription',
    tag: 'Subscriptions',
    summary: 'Cancel, now or at the period end',
    body: 'CancelSubscription',
    path: SUBSCRIPTION_ID,
    responses: { 200: json('The subscription.', 'Subscription') },
    errors: ['TALLY_ERR_INVALID_TRANSITION'],
  },
  'GET /v1/subscriptions/:id/audit': {
    operationId: 'getSubscriptionAudit',
    tag: 'Subscriptions',
    summary: 'Every change: when, by which key, what',
    path: SUBSCRIPTION_ID,
    responses: { 200: json('The audit trail, oldest first.', 'AuditTrail') },
  },

  'GET /v1/subscriptions/:id/upcoming': {
    operationId: 'getUpcomingInvoice',
    tag: 'Invoices',
    summary: 'The open period rated up to now',
    path: SUBSCRIPTION_ID,
    responses: { 200: json('The draft invoice (`status: draft`, `id: null`).', 'Invoice') },
    errors: ['TALLY_ERR_NO_UPCOMING_INVOICE'],
  },
  'GET /v1/invoices': {
    operationId: 'listInvoices',
    tag: 'Invoices',
    summary: 'List invoices, by id',
    query: [
      { name: 'customer', description: 'Only this customer.', schema: { type: 'string' } },
      { name: 'subscription', description: 'Only this subscription.', schema: { type: 'string' } },
      limit(100, 1000),
      startingAfter,
    ],
    responses: { 200: json('A page of invoices with their lines.', 'InvoiceList') },
  },
  'GET /v1/invoices/:id': { operationId: 'getInvoice', tag: 'Invoices', summary: 'Get an invoice', path: { id: 'The invoice id (`in_...`).' }, responses: { 200: json('The invoice.', 'Invoice') } },

  'POST /v1/stripe/webhooks': {
    operationId: 'receiveStripeWebhook',
    tag: 'Stripe',
    summary: 'Receive a Stripe event',
    description: "Point a Stripe webhook endpoint here. The raw body is verified with the `Stripe-Signature` header and `STRIPE_WEBHOOK_SECRET`; each event is handled once.",
    headers: [{ name: 'Stripe-Signature', required: true, description: "Stripe's signature of the raw body.", schema: { type: 'string' } }],
    requestBody: { description: 'A Stripe event, as Stripe sends it.', required: true, content: { 'application/json': { schema: { type: 'object' } } } },
    responses: { 200: json('Received; what it changed.', 'StripeWebhookResult') },
    errors: ['TALLY_ERR_WEBHOOK_SIGNATURE', 'TALLY_ERR_WEBHOOK_EVENT_INVALID', 'TALLY_ERR_STRIPE_NOT_CONFIGURED'],
  },
};

export const CATALOGUE: Catalogue<Body> = { tags: TAGS, bodies: BODIES, schemas: RESPONSE_SCHEMAS, operations: OPERATIONS };
