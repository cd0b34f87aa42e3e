/**
 * The shapes of the public API's answers the console reads, as the OpenAPI document
 * (GET /openapi.json) describes them, trimmed to the fields shown. Every quantity and money
 * amount is a decimal string: it is displayed through format.ts and never becomes a number.
 */

export type Decimal = string;
export type Instant = string;

export interface ListPage<T> {
  data: T[];
  has_more: boolean;
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; request_id?: string };
}

export interface Tenant {
  id: string;
  name: string;
  created_at: Instant;
}

export type EventResult = 'accepted' | 'duplicate' | 'rejected';

export interface LiveEvents {
  node: string;
  window_seconds: number;
  per_second: { at: Instant; accepted: number; duplicates: number; rejected: number }[];
  totals: { accepted: number; duplicates: number; rejected: number };
  rejected_by_code: Record<string, number>;
  recent: {
    received_at: Instant;
    id: string | null;
    meter: string | null;
    customer: string | null;
    timestamp: string | null;
    result: EventResult;
    code: string | null;
    message: string | null;
  }[];
}

export type Aggregation = 'sum' | 'count' | 'max' | 'min' | 'unique_count' | 'latest' | 'weighted_sum';

export interface Meter {
  key: string;
  name: string;
  aggregation: Aggregation;
  value_property: string | null;
  unit: string | null;
  group_by: string[];
}

export type UsageWindow = 'hour' | 'day' | 'month' | 'none';

export interface UsageRow {
  window_start: Instant;
  window_end: Instant;
  customer: string;
  value: Decimal;
  groups?: Record<string, string>;
}

export interface Usage {
  meter: string;
  aggregation: Aggregation;
  from: Instant;
  to: Instant;
  window: UsageWindow;
  tz: string;
  complete: boolean;
  aggregated_through: Instant;
  data: UsageRow[];
  next_page_token: string | null;
}

export interface Address {
  line1: string;
  line2?: string;
  city: string;
  postal_code: string;
  state?: string;
  country: string;
}

export interface Customer {
  id: string;
  name: string;
  email: string | null;
  currency: string;
  country: string | null;
  region: string | null;
  address: Address | null;
  locale: string | null;
  timezone: string | null;
  tax_exempt: boolean;
  collection_method: 'charge_automatically' | 'send_invoice';
  days_until_due: number | null;
  purchase_order: string | null;
  stripe_customer_id: string | null;
  metadata: Record<string, string>;
  created_at: Instant;
}

export interface PlanRef {
  code: string;
  version: number;
}

export type SubscriptionStatus = 'trialing' | 'active' | 'past_due' | 'suspended' | 'canceled';

export interface Subscription {
  id: string;
  customer: string;
  plan: PlanRef;
  quantity: number;
  status: SubscriptionStatus;
  start_date: Instant;
  trial_end: Instant | null;
  current_period: { start: Instant; end: Instant };
  cancel_at: Instant | null;
  canceled_at: Instant | null;
  pending_change: { plan: PlanRef; quantity: number; at: Instant; prorate: boolean } | null;
}

export interface Entitlement {
  feature: string;
  type: 'boolean' | 'static' | 'metered';
  has_access: boolean;
  value?: string | number;
  limit?: Decimal;
  hard?: boolean;
  usage?: Decimal;
  remaining?: Decimal;
  resets_at?: Instant;
  usage_as_of: Instant;
}

export interface EntitlementList {
  customer: string;
  data: Entitlement[];
}

export interface CustomerBalance {
  customer: string;
  currency: string;
  credit: Decimal;
  spend: Decimal;
  balance: Decimal;
  as_of: Instant;
  subscriptions: { subscription: string; period_start: Instant; period_end: Instant; allowance: Decimal; spend: Decimal }[];
}

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';

export interface InvoiceLine {
  type: 'base_fee' | 'usage' | 'minimum' | 'proration' | 'adjustment' | 'charge' | 'discount' | 'credit' | 'tax';
  meter: string | null;
  quantity: Decimal | null;
  amount: Decimal;
  description: string;
  plan: PlanRef | null;
  period: { start: Instant; end: Instant } | null;
}

export interface Invoice {
  /** Null for the upcoming invoice. */
  id: string | null;
  subscription: string;
  customer: string;
  currency: string;
  period_start: Instant;
  period_end: Instant;
  status: InvoiceStatus;
  kind: 'period' | 'one_off';
  number: string | null;
  issued_at: Instant | null;
  payment_terms: string;
  purchase_order: string | null;
  lines: InvoiceLine[];
  subtotal: Decimal;
  discount: Decimal;
  credit: Decimal;
  tax: Decimal;
  total: Decimal;
  due_at: Instant | null;
  paid_at: Instant | null;
  credited: Decimal;
  amount_due: Decimal;
  paid_out_of_band: { method: string; reference: string | null; at: Instant } | null;
  status_reason: string | null;
  days_overdue: number | null;
  stripe_invoice_id: string | null;
}

export interface CreditNote {
  id: string;
  number: string;
  amount: Decimal;
  currency: string;
  settlement: 'reduce_due' | 'credit_balance' | 'refund' | 'out_of_band';
  reason: string;
  memo: string | null;
  created_at: Instant;
}

export interface Tier {
  up_to: Decimal | null;
  unit_price: Decimal;
  flat_fee?: Decimal;
}

export interface Charge {
  meter: string;
  model: 'per_unit' | 'graduated' | 'volume' | 'package';
  unit_price?: Decimal;
  tiers?: Tier[];
  package_size?: Decimal;
  round?: 'up' | 'down';
  included?: Decimal;
  minimum?: Decimal;
  maximum?: Decimal;
}

export type Feature =
  | { key: string; name?: string; type: 'boolean' }
  | { key: string; name?: string; type: 'static'; value: string | number }
  | { key: string; name?: string; type: 'metered'; meter: string; limit: Decimal; hard: boolean; reset: 'period' | 'day' | 'week' | 'month' };

export interface Plan {
  code: string;
  version: number;
  name: string;
  currency: string;
  interval: 'month' | 'year';
  base_fee: Decimal;
  seat_pricing: { model: 'graduated' | 'volume'; tiers: Tier[] } | null;
  trial_days: number;
  charges: Charge[];
  billing_mode: 'invoice' | 'meter';
  credit_allowance: Decimal;
  features: Feature[];
  created_at: Instant;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface WebhookEndpoint {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  disabled: boolean;
  secret_hint: string;
  created_at: Instant;
}

export interface WebhookDelivery {
  id: string;
  endpoint: string;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: Instant | null;
  delivered_at: Instant | null;
  log?: { attempt: number; at: Instant; status: number | null; error: string | null; duration_ms: number }[];
}

export interface WebhookEvent {
  id: string;
  type: string;
  created_at: Instant;
  data: unknown;
  deliveries: WebhookDelivery[];
}

export interface Pipeline {
  aggregator: { watermark: Instant | null; lag_seconds: number | null; set_aside: { meter: string; since: Instant; lag_seconds: number }[] };
  event_log: { node: string; pending_bytes: number; pending_segments: number; oldest_unshipped_age_seconds: number | null } | null;
  stripe_outbox: { pending: number; failed: number; oldest_pending_age_seconds: number | null };
  webhooks: { pending: number; failed: number };
}
