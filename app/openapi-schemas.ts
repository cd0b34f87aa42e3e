import { z } from 'zod';
import { AGGREGATIONS, METER_KEY } from '../metering/meters.js';
import { CreatePlan, MODELS } from '../catalog/plans.js';
import { ERRORS } from '../core/errors.js';
import { EVENT_TYPES } from '../webhooks/events.js';
import { schemaRef as ref, type JsonSchema } from '../http/openapi.js';

/**
 * The shapes of what the API answers, for `components.schemas`. Each mirrors the TypeScript
 * interface its handler returns (named beside it); answers carry no zod schema, so these are
 * descriptions, open to new properties. The ingest event is described here too: it is checked
 * by a hand-written validator (ingest/event.ts) for speed, not by a schema.
 */

const str = (description?: string): JsonSchema => ({ type: 'string', ...(description === undefined ? {} : { description }) });
const int = (description?: string): JsonSchema => ({ type: 'integer', ...(description === undefined ? {} : { description }) });
const bool: JsonSchema = { type: 'boolean' };
const instant: JsonSchema = { type: 'string', format: 'date-time' };
const decimal = (description = 'A decimal string, exact (never a binary float).'): JsonSchema => ({ type: 'string', description });
const oneOfStrings = (values: readonly string[]): JsonSchema => ({ type: 'string', enum: [...values] });
const arr = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
const nullable = (s: JsonSchema): JsonSchema => ({ anyOf: [s, { type: 'null' }] });
const strings: JsonSchema = arr(str());

/** An object whose properties are all present unless named in `optional`. */
function obj(properties: Record<string, JsonSchema>, optional: readonly string[] = [], description?: string): JsonSchema {
  return {
    type: 'object',
    ...(description === undefined ? {} : { description }),
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
  };
}
const list = (item: string, paged: boolean): JsonSchema => obj(paged ? { data: arr(ref(item)), has_more: bool } : { data: arr(ref(item)) });

const period = obj({ start: instant, end: instant });
const planRef = obj({ code: str(), version: int() });

// core/tenants.ts Tenant
const tenantProps = { id: str('`ten_...`'), name: str(), created_at: instant };
const apiKeyProps = { id: str('The key id, the middle part of `tly_<key id>_<secret>`.'), created_at: instant, revoked_at: nullable(instant) };

// catalog/plans.ts Plan; a charge is stored as the request's charge schema produced it.
const charge = z.toJSONSchema(CreatePlan.shape.charges.unwrap().element, { io: 'output' }) as JsonSchema;
delete charge.$schema;

// catalog/subscriptions.ts SubscriptionView
const subscriptionProps = {
  id: str('`sub_...`'),
  customer: str(),
  plan: planRef,
  status: oneOfStrings(['trialing', 'active', 'past_due', 'suspended', 'canceled']),
  start_date: instant,
  trial_end: nullable(instant),
  current_period: period,
  cancel_at: nullable(instant),
  canceled_at: nullable(instant),
  pending_change: nullable(obj({ plan: planRef, at: instant, prorate: bool })),
  created_at: instant,
  updated_at: instant,
};

// webhooks/endpoints.ts EndpointView
const endpointProps = {
  id: str('`we_...`'),
  url: str(),
  events: arr(oneOfStrings(['*', ...EVENT_TYPES])),
  description: nullable(str()),
  disabled: bool,
  secret_hint: str('The last four characters of the signing secret.'),
  created_at: instant,
  updated_at: instant,
};

// ingest/event.ts, the fields of a native event and of a CloudEvent
const eventId = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]+$' };
const meterKey = { type: 'string', pattern: METER_KEY.source };
const eventTime = { type: 'string', format: 'date-time', description: 'RFC 3339 with a zone; at most 35 days old and 5 minutes ahead (configurable); default: receive time.' };
const eventProperties = { type: 'object', description: 'At most 100 keys and 16 KiB as JSON (configurable).' };
/** The per-event rejections of the catalogue: the status an event alone would have earned, 422. */
const EVENT_REJECTIONS = Object.entries(ERRORS).flatMap(([code, e]) => (e.status === 422 ? [code] : []));

export const RESPONSE_SCHEMAS: Record<string, JsonSchema> = {
  Health: obj({ status: { const: 'ok' } }),
  Readiness: obj({ status: oneOfStrings(['ready', 'unready', 'shutting_down']), checks: { type: 'object', additionalProperties: str('`ok`, or `unreachable: <reason>`') } }),
  OpenApiDocument: { type: 'object', description: 'This document.' },

  Tenant: obj(tenantProps),
  NewTenant: obj({ ...tenantProps, api_key: str('The tenant API key, shown only here.') }),
  // core/tenants.ts ApiKeyView
  ApiKey: obj(apiKeyProps),
  NewApiKey: obj({ ...apiKeyProps, api_key: str('The API key (`tly_...`), shown only here.') }),
  ApiKeyList: list('ApiKey', false),

  Event: {
    type: 'object',
    description: 'A usage event. An event that breaks a rule is rejected on its own (in the 202 answer), never the whole request.',
    properties: {
      id: { ...eventId, description: 'Unique per tenant: a resend with the same id is never counted twice.' },
      customer: { ...eventId, description: "The tenant's id of the customer." },
      meter: meterKey,
      value: { anyOf: [decimal('At most 6 decimal places, magnitude below 10^20; never rounded.'), { type: 'number' }, { type: 'null' }] },
      timestamp: eventTime,
      properties: eventProperties,
    },
    required: ['id', 'customer', 'meter'],
    additionalProperties: false,
  },
  CloudEvent: {
    type: 'object',
    description: 'A CloudEvent 1.0: `type` is the meter, `subject` the customer, `time` the timestamp, `data` the properties. Other attributes are allowed and not stored.',
    properties: {
      specversion: { const: '1.0' },
      id: eventId,
      source: { type: 'string', minLength: 1 },
      type: meterKey,
      subject: eventId,
      time: eventTime,
      datacontenttype: { type: 'string', pattern: '^application/(.+\\+)?json(;|$)' },
      data: eventProperties,
    },
    required: ['specversion', 'id', 'source', 'type', 'subject'],
  },
  // ingest/service.ts IngestResult
  IngestResult: obj({
    accepted: int('Events committed by this request.'),
    duplicates: int('Resends recognised and not written again.'),
    rejected: arr(obj({ index: int('Position of the event in the request.'), id: str(), code: oneOfStrings(EVENT_REJECTIONS), message: str() }, ['id'])),
  }),

  // metering/meters.ts Meter
  Meter: obj({
    key: str(),
    name: str(),
    aggregation: oneOfStrings(AGGREGATIONS),
    value_property: nullable(str()),
    unit: nullable(str()),
    group_by: strings,
    created_at: instant,
    updated_at: instant,
  }),
  MeterList: list('Meter', true),
  // metering/usage-route.ts and usage.ts UsageRow
  Usage: obj({
    meter: str(),
    aggregation: oneOfStrings(AGGREGATIONS),
    from: instant,
    to: instant,
    window: oneOfStrings(['hour', 'day', 'month', 'none']),
    tz: str(),
    complete: { type: 'boolean', description: 'False while the range holds events the aggregator has not counted yet.' },
    aggregated_through: instant,
    data: arr(obj({ window_start: instant, window_end: instant, customer: str(), value: decimal(), groups: { type: 'object', additionalProperties: str() } }, ['groups'])),
    next_page_token: nullable(str()),
  }),

  // catalog/customers.ts Customer
  Customer: obj({
    id: str(),
    name: str(),
    email: nullable(str()),
    currency: str('ISO 4217'),
    country: nullable(str('ISO 3166-1 alpha-2')),
    region: nullable(str()),
    tax_exempt: bool,
    stripe_customer_id: nullable(str()),
    metadata: { type: 'object', additionalProperties: str() },
    created_at: instant,
    updated_at: instant,
  }),
  CustomerList: list('Customer', true),
  Deleted: obj({ id: str(), deleted: { const: true } }),

  // catalog/credits.ts GrantView, LedgerEntry and the balance
  CreditGrant: obj({
    id: str(),
    customer: str(),
    currency: str(),
    amount: decimal(),
    remaining: decimal(),
    source: oneOfStrings(['purchase', 'invoice_credit', 'allowance']),
    reason: nullable(str()),
    invoice: nullable(str()),
    subscription: nullable(str()),
    period_start: nullable(instant),
    expires_at: nullable(instant),
    created_at: instant,
  }),
  CreditBalance: obj({ customer: str(), currency: str(), balance: decimal(), grants: arr(ref('CreditGrant')) }),
  CreditLedger: obj({
    data: arr(obj({ at: instant, kind: oneOfStrings(['grant', 'consume', 'expire']), grant: str(), amount: decimal(), invoice: nullable(str()), balance: decimal('The balance after this entry.') })),
  }),

  // catalog/coupons.ts Coupon
  Coupon: obj({
    code: str(),
    name: str(),
    percent_off: nullable(decimal()),
    amount_off: nullable(decimal()),
    currency: nullable(str()),
    duration: oneOfStrings(['once', 'repeating', 'forever']),
    duration_periods: nullable(int()),
    max_redemptions: nullable(int()),
    redeem_by: nullable(instant),
    plans: nullable(strings),
    times_redeemed: int(),
    created_at: instant,
  }),
  CouponList: list('Coupon', false),
  Redemption: obj({ subscription: str(), coupon: ref('Coupon'), redeemed_at: instant }),

  // catalog/tax-rates.ts TaxRate
  TaxRate: obj({ id: str(), country: str(), region: nullable(str()), percent: decimal(), name: str(), created_at: instant }),
  TaxRateList: list('TaxRate', false),

  // catalog/volume-discounts.ts VolumeDiscount
  VolumeDiscount: obj({ tiers: arr(obj({ min_subscriptions: int(), percent_off: decimal() })) }),
  // catalog/commitments.ts Commitment
  Commitment: obj({ subscription: str(), minimum_spend: nullable(decimal()), discount_percent: nullable(decimal()), starts_at: instant, ends_at: instant }),

  // catalog/plans.ts Plan
  Plan: obj({
    code: str(),
    version: int(),
    name: str(),
    currency: str(),
    interval: oneOfStrings(['month', 'year']),
    base_fee: decimal(),
    trial_days: int(),
    charges: arr({ ...charge, description: `A charge: ${MODELS.join(', ')}.` }),
    billing_mode: oneOfStrings(['invoice', 'meter']),
    credit_allowance: decimal(),
    created_at: instant,
  }),
  PlanList: list('Plan', true),

  Subscription: obj(subscriptionProps),
  SubscriptionList: list('Subscription', true),
  AuditTrail: obj({ data: arr(obj({ at: instant, actor: str('`api_key:<key id>`, or the system part that made the change.'), action: str(), details: {} })) }),
  // alerts/settings.ts AlertsView
  Alerts: obj({
    subscription: str(),
    included_percents: arr(decimal()),
    spend: arr(obj({ meter: nullable(str()), amount: decimal() })),
    fired: arr(obj({ meter: nullable(str()), kind: str(), threshold: decimal(), quantity: decimal(), amount: decimal(), fired_at: instant })),
  }),

  // invoicing/billing.ts InvoiceView and invoicing/invoice.ts InvoiceLine
  Invoice: obj({
    id: nullable(str('`in_...`; null for the upcoming invoice.')),
    subscription: str(),
    customer: str(),
    currency: str(),
    period_start: instant,
    period_end: instant,
    status: oneOfStrings(['draft', 'open', 'paid', 'void', 'uncollectible']),
    lines: arr(
      obj(
        {
          type: oneOfStrings(['base_fee', 'usage', 'minimum', 'proration', 'adjustment', 'discount', 'credit', 'tax']),
          meter: nullable(str()),
          quantity: nullable(decimal()),
          amount: decimal(),
          description: str(),
          plan: nullable(planRef),
          period: nullable(period),
          adjusts_period_start: instant,
        },
        ['adjusts_period_start'],
      ),
    ),
    subtotal: decimal(),
    discount: decimal(),
    credit: decimal(),
    tax: decimal(),
    total: decimal(),
    stripe_invoice_id: nullable(str()),
    created_at: nullable(instant),
  }),
  InvoiceList: list('Invoice', true),

  // webhooks/endpoints.ts and webhooks/log.ts
  WebhookEndpoint: obj(endpointProps),
  NewWebhookEndpoint: obj({ ...endpointProps, secret: str('The signing secret (`whsec_...`), shown only here.') }),
  WebhookEndpointList: list('WebhookEndpoint', false),
  WebhookEvent: obj({
    id: str('`evt_...`'),
    type: oneOfStrings(EVENT_TYPES),
    created_at: instant,
    data: {},
    deliveries: arr(
      obj(
        {
          id: str(),
          endpoint: str(),
          state: oneOfStrings(['pending', 'delivered', 'failed']),
          attempts: int(),
          last_status: nullable(int()),
          last_error: nullable(str()),
          next_attempt_at: nullable(instant),
          delivered_at: nullable(instant),
          log: arr(obj({ attempt: int(), at: instant, status: nullable(int()), error: nullable(str()), duration_ms: int() })),
        },
        ['log'],
      ),
    ),
  }),
  WebhookEventList: list('WebhookEvent', true),

  // analytics/mrr.ts MrrRow and MovementRow, analytics/routes.ts
  Mrr: obj({ at: instant, data: arr(obj({ currency: str(), mrr: decimal(), arr: decimal(), customers: int(), arpu: nullable(decimal()) })) }),
  MrrMovements: obj({
    from: instant,
    to: instant,
    data: arr(
      obj({
        currency: str(),
        starting_mrr: decimal(),
        new: decimal(),
        expansion: decimal(),
        contraction: decimal(),
        churned: decimal(),
        ending_mrr: decimal(),
        customers_at_start: int(),
        churned_customers: int(),
        churn_rate: nullable(decimal()),
      }),
    ),
  }),
  RevenueByPlan: obj({ from: instant, to: instant, data: arr(obj({ plan: str(), currency: str(), invoices: int(), revenue: decimal() })) }),

  // stripe/webhooks.ts
  StripeWebhookResult: obj({ received: { const: true }, outcome: oneOfStrings(['applied', 'stale', 'unknown_object', 'ignored', 'duplicate']) }),
};
