import type { Queryable } from '../core/postgres.js';
import { invoiceSummaries, type InvoiceSummary } from '../rater/invoices.js';
import type { EventType, NewEvent } from './events.js';

/**
 * Invoice events: the invoice without its lines as `data` (a receiver reads those from
 * `GET /v1/invoices/{id}`), read in the transaction that emits them so it is what committed.
 * One event of `type` per invoice, keyed `<type>:<invoice id>` unless `key` says otherwise.
 */
export async function invoiceEvents(q: Queryable, refs: readonly { tenantId: string; id: string }[], type: EventType, key?: (invoiceId: string) => string): Promise<NewEvent[]> {
  return eventsOf(await invoiceSummaries(q, refs), type, key);
}

/** The events of `type` for invoices already read. */
export function eventsOf(invoices: readonly { tenantId: string; invoice: InvoiceSummary }[], type: EventType, key: (invoiceId: string) => string = (id) => `${type}:${id}`): NewEvent[] {
  return invoices.map(({ tenantId, invoice }) => ({ tenantId, type, key: key(invoice.id), data: invoice }));
}
