import type { Queryable } from '../core/postgres.js';
import { invoiceSummaries } from '../rater/invoices.js';
import type { EventType, NewEvent } from './events.js';

/**
 * Invoice events: the invoice without its lines as `data` (a receiver reads those from
 * `GET /v1/invoices/{id}`), read in the transaction that emits them so it is what committed.
 * One event of `type` per invoice, keyed `<type>:<invoice id>` unless `key` says otherwise.
 */
export async function invoiceEvents(q: Queryable, refs: readonly { tenantId: string; id: string }[], type: EventType, key: (invoiceId: string) => string = (id) => `${type}:${id}`): Promise<NewEvent[]> {
  return (await invoiceSummaries(q, refs)).map(({ tenantId, invoice }) => ({ tenantId, type, key: key(invoice.id), data: invoice }));
}
