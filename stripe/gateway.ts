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
  createInvoice(
    p: {
      tenantId: string;
      invoiceId: string;
      subscriptionId: string;
      stripeCustomer: string;
      currency: string;
      description: string;
      collection: InvoiceCollection;
      /** Tally's legal invoice number, which Stripe then shows instead of its own. */
      number: string | null;
      footer: string | null;
      /** Shown on Stripe's invoice (at most 4: Stripe's limit), e.g. the purchase order. */
      customFields: { name: string; value: string }[];
    },
    key: IdempotencyKey,
  ): Promise<StripeInvoice>;
  getInvoice(id: string): Promise<StripeInvoice>;
  /** The Tally line numbers (metadata) of the items already on a Stripe invoice. */
  itemLines(stripeInvoice: string): Promise<Set<string>>;
  createInvoiceItem(
    p: { stripeCustomer: string; stripeInvoice: string; currency: string; amount: number; description: string; tenantId: string; invoiceId: string; lines: string; exact: string },
    key: IdempotencyKey,
  ): Promise<void>;
  /**
   * Finalizes; with `collect`, `auto_advance` is on and Stripe then charges the payment method
   * or emails the invoice, and retries by its own schedule.
   */
  finalizeInvoice(id: string, collect: boolean, key: IdempotencyKey): Promise<StripeInvoice>;
  voidInvoice(id: string, key: IdempotencyKey): Promise<StripeInvoice>;
  /** Paid outside Stripe (a wire, a cheque): Stripe stops collecting and records it paid. */
  payOutOfBand(id: string, key: IdempotencyKey): Promise<StripeInvoice>;
  markUncollectible(id: string, key: IdempotencyKey): Promise<StripeInvoice>;
  /**
   * A credit note of `amount` minor units on a finalized invoice: on an open one it lowers what
   * is due; on a paid one the whole amount is refunded (`refund`) or recorded as given back
   * outside Stripe (`out_of_band`).
   */
  /** The Stripe credit note made for this Tally credit note (metadata), if any. */
  findCreditNote(stripeInvoice: string, creditNoteId: string): Promise<string | undefined>;
  createCreditNote(
    p: { stripeInvoice: string; amount: number; settle: 'reduce_due' | 'refund' | 'out_of_band'; reason: string; memo: string | null; tenantId: string; creditNoteId: string; number: string },
    key: IdempotencyKey,
  ): Promise<string>;
  /** A Stripe-hosted page (a billing-portal session, short-lived) where the customer adds or changes a payment method. */
  createPortalSession(p: { stripeCustomer: string; returnUrl: string }): Promise<{ id: string; url: string }>;
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
  /** Seconds since the epoch; send_invoice invoices once finalized. */
  dueDate: number | null;
  /** Stripe's page where the customer pays it (`hosted_invoice_url`), once finalized. */
  hostedUrl: string | null;
}

/** How Stripe collects an invoice: by charging the default payment method, or by emailing it with net terms. */
export type InvoiceCollection = { method: 'charge_automatically' } | { method: 'send_invoice'; daysUntilDue: number };

export interface GatewayOptions {
  secretKey: string;
  /** A Stripe-compatible server (the local one in tests), else api.stripe.com. */
  apiBase: string | undefined;
  timeoutMs: number;
  /** Called with the endpoint and outcome of every request (metrics). */
  observe?: (endpoint: string, result: string) => void;
}

const toInvoice = (i: Stripe.Invoice): StripeInvoice => ({ id: i.id, status: i.status ?? null, total: i.total, dueDate: i.due_date ?? null, hostedUrl: i.hosted_invoice_url ?? null });

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
              // A draft until billing sync has added every item and finalizes it.
              auto_advance: false,
              collection_method: p.collection.method,
              ...(p.collection.method === 'send_invoice' ? { days_until_due: p.collection.daysUntilDue } : {}),
              pending_invoice_items_behavior: 'exclude',
              description: p.description,
              ...(p.number === null ? {} : { number: p.number }),
              ...(p.footer === null ? {} : { footer: p.footer }),
              ...(p.customFields.length === 0 ? {} : { custom_fields: p.customFields.slice(0, 4) }),
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
    finalizeInvoice: (id, collect, key) => call('invoices.finalize', async () => toInvoice(await stripe.invoices.finalizeInvoice(id, { auto_advance: collect }, { idempotencyKey: key }))),
    voidInvoice: (id, key) => call('invoices.void', async () => toInvoice(await stripe.invoices.voidInvoice(id, {}, { idempotencyKey: key }))),
    payOutOfBand: (id, key) => call('invoices.pay', async () => toInvoice(await stripe.invoices.pay(id, { paid_out_of_band: true }, { idempotencyKey: key }))),
    findCreditNote: (stripeInvoice, creditNoteId) =>
      call('credit_notes.list', async () => {
        for await (const note of stripe.creditNotes.list({ invoice: stripeInvoice, limit: 100 })) if (note.metadata?.tally_credit_note === creditNoteId) return note.id;
        return undefined;
      }),
    createCreditNote: (p, key) =>
      call('credit_notes.create', async () => {
        const note = await stripe.creditNotes.create(
          {
            invoice: p.stripeInvoice,
            amount: p.amount,
            reason: p.reason,
            ...(p.memo === null ? {} : { memo: p.memo }),
            ...(p.settle === 'refund' ? { refund_amount: p.amount } : p.settle === 'out_of_band' ? { out_of_band_amount: p.amount } : {}),
            metadata: { tally_tenant: p.tenantId, tally_credit_note: p.creditNoteId, tally_number: p.number },
          },
          { idempotencyKey: key },
        );
        return note.id;
      }),
    markUncollectible: (id, key) => call('invoices.mark_uncollectible', async () => toInvoice(await stripe.invoices.markUncollectible(id, {}, { idempotencyKey: key }))),
    createPortalSession: (p) =>
      call('billing_portal.sessions.create', async () => {
        // Not idempotent by key: each call is a new short-lived session, and a retry makes another.
        const session = await stripe.billingPortal.sessions.create({ customer: p.stripeCustomer, return_url: p.returnUrl });
        return { id: session.id, url: session.url };
      }),
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
