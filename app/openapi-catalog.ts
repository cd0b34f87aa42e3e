import type { Catalogue } from '../http/openapi.js';

/**
 * What the OpenAPI document holds beyond its routes: the tags, in the order the document lists
 * them, and the order of its schemas. Each route's own text (summary, parameters, answers) is
 * its `doc`, beside its handler; the shapes of the answers are in each domain's `openapi.ts`.
 */

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
  { name: 'Entitlements', description: "What a customer's plan lets it use now: features, limits, overrides and grants." },
  { name: 'Discounts', description: 'Coupons, commitments, volume discounts and tax rates.' },
  { name: 'Alerts', description: 'Usage-alert thresholds and low-balance levels.' },
  { name: 'Invoices', description: 'Upcoming and closed invoices.' },
  { name: 'Hosted pages', description: "An invoice's page for its customer, opened through a link the tenant made; no key needed." },
  { name: 'Webhooks', description: 'Outbound webhook endpoints, the event log and redelivery.' },
  { name: 'Analytics', description: 'Recurring revenue and revenue by plan.' },
  { name: 'Stripe', description: 'Events from Stripe.' },
  { name: 'Console', description: 'The web console: its page and assets; no key needed to load them.' },
];

/**
 * The order of `components.schemas` as published (test/fixtures/openapi.json): the answers'
 * shapes, then the request bodies. A schema left out of this list comes after these, in the
 * order the routes first use it.
 */
const SCHEMA_ORDER = [
  'Health', 'Readiness', 'OpenApiDocument',
  'Tenant', 'NewTenant', 'ApiKey', 'NewApiKey', 'ApiKeyList',
  'Event', 'CloudEvent', 'IngestResult',
  'Meter', 'MeterList', 'Usage',
  'Customer', 'CustomerList', 'Deleted', 'CreditGrant', 'CreditBalance', 'CreditLedger', 'CustomerBalance',
  'Coupon', 'CouponList', 'Redemption', 'TaxRate', 'TaxRateList', 'VolumeDiscount', 'Commitment',
  'Plan', 'PlanList', 'Subscription', 'SubscriptionList', 'AuditTrail',
  'Entitlement', 'EntitlementList', 'EntitlementOverride', 'EntitlementGrant', 'EntitlementGrantList', 'Alerts', 'BalanceAlerts',
  'Invoice', 'InvoiceList',
  'WebhookEndpoint', 'NewWebhookEndpoint', 'WebhookEndpointList', 'WebhookEvent', 'WebhookEventList',
  'Mrr', 'MrrMovements', 'RevenueByPlan', 'StripeWebhookResult',
  // The request bodies
  'CreateTenant', 'Redeliver', 'CreateMeter', 'UpdateMeter', 'CreateCustomer', 'UpdateCustomer', 'GrantCredit',
  'CreateCoupon', 'RedeemCoupon', 'CreateTaxRate', 'SetVolumeDiscount', 'SetCommitment', 'SetAlerts', 'SetBalanceAlerts',
  'CreatePlan', 'CreateSubscription', 'ChangeSubscription', 'CancelSubscription', 'SetEntitlementOverride', 'CreateEntitlementGrant',
  'CreateEndpoint', 'UpdateEndpoint',
];

export const CATALOGUE: Catalogue = { tags: TAGS, schemaOrder: SCHEMA_ORDER };
