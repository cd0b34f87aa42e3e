import type { FaultKind, Faults } from './faults.js';
import type { RenderedInvoice } from './invoices.js';
import type { Customer, InvoiceItem, Meter, MeterEvent } from './objects.js';
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
  customer(id: string): Customer | undefined;
  invoice(id: string): InvoiceWithItems | undefined;
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
  /** Forgets every object, event, saved idempotent response, logged request and fault rule. */
  reset(): void;
  close(): Promise<void>;
}
