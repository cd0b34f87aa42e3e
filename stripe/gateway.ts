import Stripe from 'stripe';
import type { IdempotencyKey } from './keys.js';

/**
 * What billing sync asks of Stripe, behind one small interface, implemented with the official
 * `stripe` package. Every write takes an idempotency key; lookups by metadata find an earlier
 * write once Stripe has forgotten its key (after 24 hours).
 */
export interface StripeGateway {
  findCustomer(tenantId: string, customerId: string): Promise<string | undefined>;
  createCustomer(p: { tenantId: string; customerId: string; name: string; email: string | null }, key: IdempotencyKey): Promise<string>;
  findInvoice(tenantId: string, invoiceId: string): Promise<StripeInvoice | undefined>;
  createInvoice(p: { tenantId: string; invoiceId: string; subscriptionId: string; stripeCustomer: string; currency: string; description: string }, key: IdempotencyKey): Promise<StripeInvoice>;
  getInvoice(id: string): Promise<StripeInvoice>;
  /** The Tally line numbers (metadata) of the items already on a Stripe invoice. */
  itemLines(stripeInvoice: string): Promise<Set<string>>;
  createInvoiceItem(
    p: { stripeCustomer: string; stripeInvoice: string; currency: string; amount: number; description: string; tenantId: string; invoiceId: string; lines: string; exact: string },
    key: IdempotencyKey,
  ): Promise<void>;
  finalizeInvoice(id: string, key: IdempotencyKey): Promise<StripeInvoice>;
  /** The active Stripe meter with this event name, if any. */
  findMeter(eventName: string): Promise<string | undefined>;
  /** A sum meter keyed by `stripe_customer_id`, reading `value` from the payload. */
  createMeter(p: { eventName: string; displayName: string }, key: IdempotencyKey): Promise<string>;
  /** A meter event; false when Stripe already has an event with this identifier (sent before). */
  createMeterEvent(p: { eventName: string; stripeCustomer: string; value: string; identifier: string; timestamp: number }, key: IdempotencyKey): Promise<boolean>;
}

export interface StripeInvoice {
  id: string;
  status: string | null;
  total: number;
}

export interface GatewayOptions {
  secretKey: string;
  /** A Stripe-compatible server (the local one in tests), else api.stripe.com. */
  apiBase: string | undefined;
  timeoutMs: number;
  /** Called with the endpoint and outcome of every request (metrics). */
  observe?: (endpoint: string, result: string) => void;
}

const toInvoice = (i: Stripe.Invoice): StripeInvoice => ({ id: i.id, status: i.status ?? null, total: i.total });

export function stripeGateway(o: GatewayOptions): StripeGateway {
  const base = o.apiBase === undefined ? undefined : new URL(o.apiBase);
  const stripe = new Stripe(o.secretKey, {
    // Retries are the outbox's: one place decides about backoff, jitter and giving up.
    maxNetworkRetries: 0,
    timeout: o.timeoutMs,
    telemetry: false,
    ...(base === undefined ? {} : { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol === 'https:' ? 'https' : 'http' }),
  });
  const call = async <T>(endpoint: string, fn: () => Promise<T>): Promise<T> => {
    try {
      const r = await fn();
      o.observe?.(endpoint, 'ok');
      return r;
    } catch (e) {
      o.observe?.(endpoint, errorClass(e));
      throw e;
    }
  };
  const quote = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return {
    findCustomer: (tenantId, customerId) =>
      call('customers.search', async () => {
        const r = await stripe.customers.search({ query: `metadata['tally_tenant']:'${quote(tenantId)}' AND metadata['tally_customer']:'${quote(customerId)}'` });
        return r.data[0]?.id;
      }),
    createCustomer: (p, key) =>
      call('customers.create', async () => {
        const c = await stripe.customers.create(
          { name: p.name, ...(p.email === null ? {} : { email: p.email }), metadata: { tally_tenant: p.tenantId, tally_customer: p.customerId } },
          { idempotencyKey: key },
        );
        return c.id;
      }),
    findInvoice: (tenantId, invoiceId) =>
      call('invoices.search', async () => {
        const r = await stripe.invoices.search({ query: `metadata['tally_tenant']:'${quote(tenantId)}' AND metadata['tally_invoice']:'${quote(invoiceId)}'` });
        return r.data[0] === undefined ? undefined : toInvoice(r.data[0]);
      }),
    createInvoice: (p, key) =>
      call('invoices.create', async () =>
        toInvoice(
          await stripe.invoices.create(
            {
              customer: p.stripeCustomer,
              currency: p.currency.toLowerCase(),
              auto_advance: false,
              collection_method: 'charge_automatically',
              pending_invoice_items_behavior: 'exclude',
              description: p.description,
              metadata: { tally_tenant: p.tenantId, tally_invoice: p.invoiceId, tally_subscription: p.subscriptionId },
            },
            { idempotencyKey: key },
          ),
        ),
      ),
    getInvoice: (id) => call('invoices.retrieve', async () => toInvoice(await stripe.invoices.retrieve(id))),
    itemLines: (stripeInvoice) =>
      call('invoiceitems.list', async () => {
        const out = new Set<string>();
        for await (const item of stripe.invoiceItems.list({ invoice: stripeInvoice, limit: 100 })) {
          const lines = item.metadata?.tally_lines;
          if (lines !== undefined) out.add(lines);
        }
        return out;
      }),
    createInvoiceItem: (p, key) =>
      call('invoiceitems.create', async () => {
        await stripe.invoiceItems.create(
          {
            customer: p.stripeCustomer,
            invoice: p.stripeInvoice,
            currency: p.currency.toLowerCase(),
            amount: p.amount,
            description: p.description,
            metadata: { tally_tenant: p.tenantId, tally_invoice: p.invoiceId, tally_lines: p.lines, tally_amount: p.exact },
          },
          { idempotencyKey: key },
        );
      }),
    finalizeInvoice: (id, key) => call('invoices.finalize', async () => toInvoice(await stripe.invoices.finalizeInvoice(id, { auto_advance: false }, { idempotencyKey: key }))),
    findMeter: (eventName) =>
      call('billing.meters.list', async () => {
        for await (const m of stripe.billing.meters.list({ status: 'active', limit: 100 })) if (m.event_name === eventName) return m.id;
        return undefined;
      }),
    createMeter: (p, key) =>
      call('billing.meters.create', async () => {
        const m = await stripe.billing.meters.create(
          {
            display_name: p.displayName,
            event_name: p.eventName,
            default_aggregation: { formula: 'sum' },
            customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
            value_settings: { event_payload_key: 'value' },
          },
          { idempotencyKey: key },
        );
        return m.id;
      }),
    createMeterEvent: (p, key) =>
      call('billing.meter_events.create', async () => {
        try {
          await stripe.billing.meterEvents.create(
            { event_name: p.eventName, payload: { stripe_customer_id: p.stripeCustomer, value: p.value }, identifier: p.identifier, timestamp: p.timestamp },
            { idempotencyKey: key },
          );
          return true;
        } catch (e) {
          // Stripe refuses an identifier it has seen in the last 24 hours: that event was sent.
          if (e instanceof Stripe.errors.StripeInvalidRequestError && (e.code === 'duplicate_meter_event' || /already exists with identifier/i.test(e.message))) return false;
          throw e;
        }
      }),
  };
}

/** How a failed request is counted and whether the outbox retries it. */
export function errorClass(e: unknown): 'rate_limited' | 'server_error' | 'connection' | 'idempotency' | 'invalid' | 'auth' | 'other' {
  if (e instanceof Stripe.errors.StripeRateLimitError) return 'rate_limited';
  if (e instanceof Stripe.errors.StripeConnectionError) return 'connection';
  // Another request with the same key is still running (the answer to one that timed out, say):
  // nothing was saved under the key and Stripe says to retry. A key reused with other
  // parameters is the idempotency error that must not be retried.
  if (e instanceof Stripe.errors.StripeIdempotencyError) return e.code === 'idempotency_key_in_use' ? 'server_error' : 'idempotency';
  if (e instanceof Stripe.errors.StripeAuthenticationError || e instanceof Stripe.errors.StripePermissionError) return 'auth';
  if (e instanceof Stripe.errors.StripeError) {
    const status = e.statusCode ?? 0;
    if (status === 429) return 'rate_limited';
    if (status >= 500 || status === 409) return 'server_error';
    if (e instanceof Stripe.errors.StripeInvalidRequestError) return 'invalid';
  }
  return 'other';
}

export function isRetryable(e: unknown): boolean {
  const c = errorClass(e);
  return c === 'rate_limited' || c === 'server_error' || c === 'connection' || c === 'other';
}
