import { Decimal } from 'decimal.js';
import { minorUnits } from '../core/currency.js';
import type { Queryable } from '../core/postgres.js';
import type { EventType, NewEvent } from './events.js';

/**
 * The `data` of invoice events: the invoice without its lines (a receiver reads those from
 * `GET /v1/invoices/{id}`), read in the transaction that emits them so it is what committed.
 */
export interface InvoiceEventData {
  id: string;
  subscription: string;
  customer: string;
  currency: string;
  period_start: string;
  period_end: string;
  status: string;
  subtotal: string;
  discount: string;
  credit: string;
  tax: string;
  total: string;
  stripe_invoice_id: string | null;
}

interface Row {
  tenant_id: string;
  id: string;
  subscription_id: string;
  customer_id: string;
  currency: string;
  period_start: Date;
  period_end: Date;
  status: string;
  subtotal: string;
  discount: string;
  credit: string;
  tax: string;
  total: string;
  stripe_invoice_id: string | null;
}

/** One event of `type` per invoice, keyed `<type>:<invoice id>` unless `key` says otherwise. */
export async function invoiceEvents(q: Queryable, refs: readonly { tenantId: string; id: string }[], type: EventType, key: (invoiceId: string) => string = (id) => `${type}:${id}`): Promise<NewEvent[]> {
  if (refs.length === 0) return [];
  const { rows } = await q.query<Row>(
    `SELECT tenant_id, id, subscription_id, customer_id, currency, period_start, period_end, status, subtotal::text AS subtotal, discount::text AS discount,
            credit::text AS credit, tax::text AS tax, total::text AS total, stripe_invoice_id
       FROM invoices WHERE tenant_id = ANY($1) AND id = ANY($2) ORDER BY id`,
    [[...new Set(refs.map((r) => r.tenantId))], refs.map((r) => r.id)],
  );
  const wanted = new Set(refs.map((r) => `${r.tenantId}\n${r.id}`));
  return rows
    .filter((r) => wanted.has(`${r.tenant_id}\n${r.id}`))
    .map((r) => {
      const money = (s: string) => new Decimal(s).toFixed(minorUnits(r.currency));
      const data: InvoiceEventData = {
        id: r.id,
        subscription: r.subscription_id,
        customer: r.customer_id,
        currency: r.currency,
        period_start: r.period_start.toISOString(),
        period_end: r.period_end.toISOString(),
        status: r.status,
        subtotal: money(r.subtotal),
        discount: money(r.discount),
        credit: money(r.credit),
        tax: money(r.tax),
        total: money(r.total),
        stripe_invoice_id: r.stripe_invoice_id,
      };
      return { tenantId: r.tenant_id, type, key: key(r.id), data };
    });
}
