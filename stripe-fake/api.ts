import type { FaultKind, Faults } from './faults.js';
import type { RenderedCreditNote } from './credit-notes.js';
import type { RenderedInvoice } from './invoices.js';
import type { BillingPortalSession, Customer, InvoiceItem, Meter, MeterEvent, PaymentMethod, Refund } from './objects.js';
import type { Delivery, StripeEvent, WebhookConfig, Webhooks } from './webhooks.js';

/** The public face of the local Stripe server. */
export interface StripeFakeOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where events are POSTed, signed with `secret`. Can also be set later (`webhooks.configure`). */
  webhook?: WebhookConfig;
  /** Writes (POST, DELETE) a second before 429, with a burst of as many; default 25 as in test mode. */
  writesPerSecond?: number;
  /** Seeds fault decisions and object ids; default 1. */
  seed?: number;
  /** Milliseconds since the epoch; default Date.now. For tests that move time. */
  clock?: () => number;
  /** Search results leave out objects created less than this long ago (Stripe's index lags up to a minute); default 0. */
  searchLagMs?: number;
  /**
   * Seconds from finalization to the first automatic charge of a `charge_automatically`
   * invoice with `auto_advance`; default 0 (charged inside finalize). Above 0 the attempt waits
   * for `advance`/`tick` (Stripe waits up to about an hour).
   */
  collectionDelaySeconds?: number;
  /** Days after each failed automatic attempt until the next; default [3, 5, 7] (four attempts in all). */
  retryScheduleDays?: readonly number[];
  /** After the last retry fails: 'leave_open' (default, Stripe's "leave past due") or 'mark_uncollectible'. */
  afterRetries?: 'leave_open' | 'mark_uncollectible';
}

export interface RequestRecord {
  seq: number;
  /** Milliseconds (the server's clock). */
  at: number;
  method: string;
  path: string;
  query: string;
  idempotencyKey: string | null;
  requestId: string;
  /** The status answered, or null while unanswered (and for ever after a drop or an unanswered timeout). */
  status: number | null;
  fault: FaultKind | null;
  rateLimited: boolean;
  /** Whether the endpoint ran (a replay did not run it again). */
  executed: boolean;
  replayed: boolean;
  errorType: string | null;
  errorCode: string | null;
}

export interface MeterEventRecord extends MeterEvent {
  meter: string;
  customer: string;
}

export type InvoiceWithItems = RenderedInvoice & { items: InvoiceItem[] };

export interface StateSnapshot {
  customers: Customer[];
  invoices: InvoiceWithItems[];
  invoiceItems: InvoiceItem[];
  meters: Meter[];
  meterEvents: MeterEventRecord[];
  events: StripeEvent[];
  deliveries: Delivery[];
  paymentMethods: PaymentMethod[];
  portalSessions: BillingPortalSession[];
  creditNotes: RenderedCreditNote[];
  refunds: Refund[];
}

/**
 * Copies of what the server holds, oldest first, made on each call (invoices carry all their
 * lines and their items); changing them changes nothing on the server.
 */
export interface StripeFakeState {
  customers(): Customer[];
  invoices(): InvoiceWithItems[];
  invoiceItems(): InvoiceItem[];
  meters(): Meter[];
  meterEvents(): MeterEventRecord[];
  events(): StripeEvent[];
  deliveries(): Delivery[];
  paymentMethods(): PaymentMethod[];
  portalSessions(): BillingPortalSession[];
  /** With all their lines. */
  creditNotes(): RenderedCreditNote[];
  refunds(): Refund[];
  customer(id: string): Customer | undefined;
  paymentMethod(id: string): PaymentMethod | undefined;
  invoice(id: string): InvoiceWithItems | undefined;
  creditNote(id: string): RenderedCreditNote | undefined;
  /** What a `sum` meter would aggregate: the values of the accepted events for this event name and customer. */
  meterTotal(eventName: string, customer: string): bigint;
  snapshot(): StateSnapshot;
}

export type FaultControl = Pick<Faults, 'set' | 'add' | 'clear' | 'list'>;

export type WebhookControl = Pick<Webhooks, 'configure' | 'endpoint' | 'pause' | 'resume' | 'deliver' | 'deliverInOrder' | 'idle' | 'events' | 'event' | 'deliveries'>;

export interface StripeFake {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Spread into the `stripe` client's options: `new Stripe(key, { ...fake.clientOptions })`. */
  readonly clientOptions: { host: string; port: number; protocol: 'http' };
  readonly state: StripeFakeState;
  readonly faults: FaultControl;
  /** Every Stripe API request received, in order. */
  readonly requests: readonly RequestRecord[];
  clearRequests(): void;
  readonly webhooks: WebhookControl;
  setRateLimit(writesPerSecond: number): void;
  /** `invoice.paid` for an open invoice (now paid). */
  pay(invoiceId: string): StripeEvent;
  /** `invoice.payment_failed` for an open invoice (it stays open). */
  failPayment(invoiceId: string): StripeEvent;
  /** `invoice.voided` for an open invoice. */
  voidInvoice(invoiceId: string): StripeEvent;
  /** `invoice.marked_uncollectible` for an open invoice. */
  markUncollectible(invoiceId: string): StripeEvent;
  /** `customer.subscription.updated` carrying this subscription (the server keeps no subscriptions). */
  updateSubscription(subscription: Record<string, unknown>, previousAttributes?: Record<string, unknown>): StripeEvent;
  /** `customer.subscription.deleted` carrying this subscription (status `canceled` unless given). */
  deleteSubscription(subscription: Record<string, unknown>): StripeEvent;
  /** The server's clock (milliseconds): the `clock` option plus everything `advance` added. */
  now(): number;
  /**
   * Moves the server's clock forward and runs what fell due, earliest first: automatic payment
   * attempts (retries whose `next_payment_attempt` has come, first attempts delayed by
   * `collectionDelaySeconds`) and `invoice.overdue` for open `send_invoice` invoices past their
   * due date. Each runs as of the moment it fell due (its events' `created`, `paid_at`, the next
   * retry counted from it). Returns the events emitted.
   */
  advance(seconds: number): StripeEvent[];
  /** Runs what is due without moving the clock (for tests that move the `clock` option themselves). */
  tick(): StripeEvent[];
  /**
   * What a customer adding a card in the billing portal does: attaches a new card of this test
   * token to the session's customer, makes it `invoice_settings.default_payment_method`, and emits
   * `payment_method.attached` and `customer.updated`.
   */
  portalAddPaymentMethod(sessionId: string, token: string): { paymentMethod: PaymentMethod; events: StripeEvent[] };
  /** Forgets every object, event, saved idempotent response, logged request and fault rule, and what `advance` added to the clock. */
  reset(): void;
  close(): Promise<void>;
}
