import { z } from 'zod';
import { arr, bool, decimal, instant, int, list, nullable, obj, oneOfStrings, period, schemaRef, shape, str, strings, type JsonSchema } from '../http/openapi-shapes.js';
import { CreatePlan, MODELS } from './plans.js';

/** What the catalogue's routes answer, for the OpenAPI document; each mirrors the type named above it. */

// address.ts Address
export const address = nullable(obj({ line1: str(), line2: str(), city: str(), postal_code: str(), state: str(), country: str('ISO 3166-1 alpha-2') }, ['line2', 'state']));

// customers.ts Customer
export const Customer = shape(
  'Customer',
  obj({
    id: str(),
    name: str(),
    email: nullable(str()),
    currency: str('ISO 4217'),
    country: nullable(str('ISO 3166-1 alpha-2')),
    region: nullable(str()),
    address: { ...address, description: 'The billing address printed on invoices.' },
    locale: nullable(str('BCP 47 (de-DE, pt-BR, ja-JP): the language of amounts and dates on invoice documents and emails; en-US when null.')),
    timezone: nullable(str('IANA time zone (Europe/Berlin): where the daily, weekly and monthly entitlement windows begin; UTC when null.')),
    tax_exempt: bool,
    collection_method: { ...oneOfStrings(['charge_automatically', 'send_invoice']), description: 'How Stripe collects: charges the default payment method when an invoice is finalized, or emails the invoice with net terms.' },
    days_until_due: nullable(int('Net terms of send_invoice (days from finalization to the due date); null with charge_automatically.')),
    purchase_order: nullable(str('Printed on each invoice closed while it is set.')),
    stripe_customer_id: nullable(str()),
    metadata: { type: 'object', additionalProperties: str() },
    created_at: instant,
    updated_at: instant,
  }),
);
export const CustomerList = list(Customer, true);

/** The `:id` of the routes under `/v1/customers/:id`. */
export const CUSTOMER_ID = { id: "The customer's id (the tenant's own)." };

// credits.ts GrantView, LedgerEntry and the balance
export const CreditGrant = shape(
  'CreditGrant',
  obj({
    id: str(),
    customer: str(),
    currency: str(),
    amount: decimal(),
    remaining: decimal(),
    source: oneOfStrings(['purchase', 'invoice_credit', 'allowance', 'credit_note']),
    reason: nullable(str()),
    invoice: nullable(str()),
    subscription: nullable(str()),
    period_start: nullable(instant),
    expires_at: nullable(instant),
    created_at: instant,
  }),
);
export const CreditBalance = shape('CreditBalance', obj({ customer: str(), currency: str(), balance: decimal(), grants: arr(schemaRef(CreditGrant)) }), [CreditGrant]);
export const CreditLedger = shape(
  'CreditLedger',
  obj({
    data: arr(obj({ at: instant, kind: oneOfStrings(['grant', 'consume', 'expire', 'release']), grant: str(), amount: decimal(), invoice: nullable(str()), balance: decimal('The balance after this entry.') })),
  }),
);

// coupons.ts Coupon
export const Coupon = shape(
  'Coupon',
  obj({
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
);
export const CouponList = list(Coupon, false);
export const Redemption = shape('Redemption', obj({ subscription: str(), coupon: schemaRef(Coupon), redeemed_at: instant }), [Coupon]);

// tax-rates.ts TaxRate
export const TaxRate = shape('TaxRate', obj({ id: str(), country: str(), region: nullable(str()), percent: decimal(), name: str(), created_at: instant }));
export const TaxRateList = list(TaxRate, false);

// volume-discounts.ts VolumeDiscount
export const VolumeDiscount = shape('VolumeDiscount', obj({ tiers: arr(obj({ min_subscriptions: int(), percent_off: decimal() })) }));
// commitments.ts Commitment
export const Commitment = shape('Commitment', obj({ subscription: str(), minimum_spend: nullable(decimal()), discount_percent: nullable(decimal()), starts_at: instant, ends_at: instant }));

// plans.ts Plan; a charge is stored as the request's charge schema produced it.
const charge = z.toJSONSchema(CreatePlan.shape.charges.unwrap().element, { io: 'output' }) as JsonSchema;
delete charge.$schema;

const feature = z.toJSONSchema(CreatePlan.shape.features.unwrap().element, { io: 'output' }) as JsonSchema;
delete feature.$schema;

const seatPricing = z.toJSONSchema(CreatePlan.shape.seat_pricing.unwrap(), { io: 'output' }) as JsonSchema;
delete seatPricing.$schema;

export const Plan = shape(
  'Plan',
  obj({
    code: str(),
    version: int(),
    name: str(),
    currency: str(),
    interval: oneOfStrings(['month', 'year']),
    base_fee: decimal(),
    seat_pricing: nullable({ ...seatPricing, description: "Tiered seat prices: the base fee of a subscription's seats, instead of base_fee per seat." }),
    trial_days: int(),
    charges: arr({ ...charge, description: `A charge: ${MODELS.join(', ')}.` }),
    billing_mode: oneOfStrings(['invoice', 'meter']),
    credit_allowance: decimal(),
    features: arr({ ...feature, description: 'A feature: boolean, static or metered (a limit on a sum or count meter per reset window).' }),
    created_at: instant,
  }),
);
export const PlanList = list(Plan, true);

/** A plan version as subscriptions and invoice lines name it. */
export const planRef: JsonSchema = obj({ code: str(), version: int() });

// subscriptions.ts SubscriptionView
export const Subscription = shape(
  'Subscription',
  obj({
    id: str('`sub_...`'),
    customer: str(),
    plan: planRef,
    quantity: int('Seats: the base fee is charged per seat (1 unless set).'),
    status: oneOfStrings(['trialing', 'active', 'past_due', 'suspended', 'canceled']),
    start_date: instant,
    trial_end: nullable(instant),
    current_period: period,
    cancel_at: nullable(instant),
    canceled_at: nullable(instant),
    pending_change: nullable(obj({ plan: planRef, quantity: int(), at: instant, prorate: bool })),
    created_at: instant,
    updated_at: instant,
  }),
);
export const SubscriptionList = list(Subscription, true);
export const AuditTrail = shape('AuditTrail', obj({ data: arr(obj({ at: instant, actor: str('`api_key:<key id>`, or the system part that made the change.'), action: str(), details: {} })) }));

/** The `:id` of the routes under `/v1/subscriptions/:id` (here and in alerts/ and invoicing/). */
export const SUBSCRIPTION_ID = { id: 'The subscription id (`sub_...`).' };

// one-off-charges.ts ChargeView
export const OneOffCharge = shape(
  'OneOffCharge',
  obj({
    id: str('`chg_...`'),
    subscription: str(),
    customer: str(),
    currency: str(),
    amount: decimal(),
    description: str(),
    invoice: nullable(str('The invoice that billed it; null until the next one is closed.')),
    created_at: instant,
  }),
);
export const OneOffChargeList = shape('OneOffChargeList', obj({ data: arr(schemaRef(OneOffCharge)) }), [OneOffCharge]);
