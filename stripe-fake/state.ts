import type { InvoiceWithItems, MeterEventRecord, StateSnapshot, StripeFakeState } from './api.js';
import { renderCreditNote } from './credit-notes.js';
import { renderInvoice } from './invoices.js';
import type { BillingPortalSession, Customer, InvoiceItem, Meter, PaymentMethod, Refund } from './objects.js';
import type { InvoiceEntry, Store } from './store.js';
import type { Webhooks } from './webhooks.js';

/** Copies of the store for assertions. */
export function stateView(store: Store, webhooks: Webhooks): StripeFakeState {
  const oldestFirst = <E extends { seq: number }>(entries: Iterable<E>): E[] => [...entries].sort((a, b) => a.seq - b.seq);
  const invoice = (e: InvoiceEntry): InvoiceWithItems => ({
    ...renderInvoice(store, e, { allLines: true }),
    items: e.items.flatMap((id) => {
      const item = store.items.get(id);
      return item === undefined ? [] : [structuredClone(item.obj)];
    }),
  });
  const view: StripeFakeState = {
    customers(): Customer[] {
      return oldestFirst(store.customers.values()).map((e) => structuredClone(e.obj));
    },
    invoices(): InvoiceWithItems[] {
      return oldestFirst(store.invoices.values()).map(invoice);
    },
    invoiceItems(): InvoiceItem[] {
      return oldestFirst(store.items.values()).map((e) => structuredClone(e.obj));
    },
    meters(): Meter[] {
      return oldestFirst(store.meters.values()).map((e) => structuredClone(e.obj));
    },
    meterEvents(): MeterEventRecord[] {
      return store.meterEvents.map((e) => ({ ...structuredClone(e.obj), meter: e.meter, customer: e.customer }));
    },
    events() {
      return webhooks.events();
    },
    deliveries() {
      return webhooks.deliveries();
    },
    paymentMethods(): PaymentMethod[] {
      return oldestFirst(store.paymentMethods.values()).map((e) => structuredClone(e.obj));
    },
    portalSessions(): BillingPortalSession[] {
      return oldestFirst(store.portalSessions.values()).map((e) => structuredClone(e.obj));
    },
    creditNotes() {
      return oldestFirst(store.creditNotes.values()).map((e) => renderCreditNote(store, e, { allLines: true }));
    },
    refunds(): Refund[] {
      return oldestFirst(store.refunds.values()).map((e) => structuredClone(e.obj));
    },
    creditNote(id: string) {
      const e = store.creditNotes.get(id);
      return e === undefined ? undefined : renderCreditNote(store, e, { allLines: true });
    },
    paymentMethod(id: string) {
      const e = store.paymentMethods.get(id);
      return e === undefined ? undefined : structuredClone(e.obj);
    },
    customer(id: string) {
      const e = store.customers.get(id);
      return e === undefined ? undefined : structuredClone(e.obj);
    },
    invoice(id: string) {
      const e = store.invoices.get(id);
      return e === undefined ? undefined : invoice(e);
    },
    meterTotal(eventName: string, customer: string): bigint {
      let total = 0n;
      for (const e of store.meterEvents) {
        if (e.obj.event_name !== eventName || e.customer !== customer) continue;
        const meter = store.meters.get(e.meter)?.obj;
        const v = e.obj.payload[meter?.value_settings.event_payload_key ?? 'value'];
        if (v !== undefined) total += BigInt(v);
      }
      return total;
    },
    snapshot(): StateSnapshot {
      return {
        customers: view.customers(),
        invoices: view.invoices(),
        invoiceItems: view.invoiceItems(),
        meters: view.meters(),
        meterEvents: view.meterEvents(),
        events: view.events(),
        deliveries: view.deliveries(),
        paymentMethods: view.paymentMethods(),
        portalSessions: view.portalSessions(),
        creditNotes: view.creditNotes(),
        refunds: view.refunds(),
      };
    },
  };
  return view;
}
