import { errors } from './errors.js';
import type { BillingPortalSession, CreditNote, CreditNoteLineItem, Customer, Invoice, InvoiceItem, Meter, MeterEvent, PaymentMethod, Refund } from './objects.js';
import { type Clock, Ids, unixSeconds } from './random.js';

/**
 * Everything the server has been told, in memory. `seq` orders objects created in the same
 * second (lists are newest first, invoice lines oldest first); `createdMs` lets search lag
 * behind writes the way Stripe's search index does.
 */
export interface Entry<T> {
  obj: T;
  seq: number;
  createdMs: number;
}

export interface InvoiceEntry extends Entry<Invoice> {
  /** Invoice item ids in the order they were added. */
  items: string[];
  /** `days_until_due` as given: the due date is counted from finalization (null: an explicit due_date, or none). */
  daysUntilDue: number | null;
  /** Whether `invoice.overdue` was sent (once per invoice). */
  overdueNotified: boolean;
}

/** How charges to a card behave: set by the test token the card was made from. */
export type CardBehaviour = 'succeeds' | 'declines' | 'requires_authentication';

export interface PaymentMethodEntry extends Entry<PaymentMethod> {
  behaviour: CardBehaviour;
  /** Detached from its customer: Stripe refuses to use it again. */
  detached: boolean;
}

export interface ItemEntry extends Entry<InvoiceItem> {
  /** The id of the invoice line this item shows as (`il_…`), stable for the item's life. */
  lineId: string;
}

/** What one credit note line took from one invoice line, and how (Stripe does not let later credit notes switch between amount and quantity on a line). */
export interface LineCredit {
  invoiceLineItem: string;
  amount: number;
  quantity: number;
  by: 'amount' | 'quantity';
}

export interface CreditNoteEntry extends Entry<CreditNote> {
  lines: CreditNoteLineItem[];
  credits: LineCredit[];
  /** The part of `post_payment_amount` credited to the customer's balance (restored by a void). */
  creditAmount: number;
}

export interface MeterEventEntry extends Entry<MeterEvent> {
  meter: string;
  customer: string;
}

export class Store {
  readonly customers = new Map<string, Entry<Customer>>();
  readonly invoices = new Map<string, InvoiceEntry>();
  readonly items = new Map<string, ItemEntry>();
  readonly meters = new Map<string, Entry<Meter>>();
  readonly meterEvents: MeterEventEntry[] = [];
  readonly paymentMethods = new Map<string, PaymentMethodEntry>();
  readonly portalSessions = new Map<string, Entry<BillingPortalSession>>();
  readonly creditNotes = new Map<string, CreditNoteEntry>();
  readonly refunds = new Map<string, Entry<Refund>>();
  /** Meter event identifiers and when they were accepted (ms). */
  readonly identifiers = new Map<string, number>();
  private seq = 0;

  constructor(
    readonly ids: Ids,
    readonly clock: Clock,
  ) {}

  now(): number {
    return unixSeconds(this.clock());
  }

  entry<T>(obj: T): Entry<T> {
    return { obj, seq: ++this.seq, createdMs: this.clock() };
  }

  customer(id: string, param: string, status = 400): Entry<Customer> {
    const e = this.customers.get(id);
    if (e === undefined) throw errors.resourceMissing('customer', id, param, status);
    return e;
  }

  invoice(id: string, param: string, status = 400): InvoiceEntry {
    const e = this.invoices.get(id);
    if (e === undefined) throw errors.resourceMissing('invoice', id, param, status);
    return e;
  }

  item(id: string, param: string, status = 400): ItemEntry {
    const e = this.items.get(id);
    if (e === undefined) throw errors.resourceMissing('invoiceitem', id, param, status);
    return e;
  }

  paymentMethod(id: string, param: string, status = 400): PaymentMethodEntry {
    const e = this.paymentMethods.get(id);
    if (e === undefined) throw errors.resourceMissing('PaymentMethod', id, param, status);
    return e;
  }

  creditNote(id: string, param: string, status = 400): CreditNoteEntry {
    const e = this.creditNotes.get(id);
    if (e === undefined) throw errors.resourceMissing('credit_note', id, param, status);
    return e;
  }

  meter(id: string, param: string, status = 400): Entry<Meter> {
    const e = this.meters.get(id);
    if (e === undefined) throw errors.resourceMissing('billing.meter', id, param, status);
    return e;
  }

  activeMeterFor(eventName: string): Entry<Meter> | undefined {
    for (const m of this.meters.values()) if (m.obj.status === 'active' && m.obj.event_name === eventName) return m;
    return undefined;
  }

  clear(): void {
    this.customers.clear();
    this.invoices.clear();
    this.items.clear();
    this.meters.clear();
    this.meterEvents.length = 0;
    this.paymentMethods.clear();
    this.portalSessions.clear();
    this.creditNotes.clear();
    this.refunds.clear();
    this.identifiers.clear();
  }
}

/** Newest first, as Stripe lists objects. */
export const newestFirst = <E extends { seq: number }>(entries: Iterable<E>): E[] => [...entries].sort((a, b) => b.seq - a.seq);
