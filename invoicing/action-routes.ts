import type { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { MarkPaid, MarkUncollectible, VoidInvoice, type InvoiceAction, type InvoiceActions } from './invoice-actions.js';
import type { InvoiceRepository } from './invoice-reads.js';
import { AuditTrail, Invoice } from './openapi.js';

/** `POST /v1/invoices/:id/{void,mark_paid,mark_uncollectible}` and `GET /v1/invoices/:id/audit`. */
export function invoiceActionRoutes(actions: InvoiceActions, invoices: InvoiceRepository, clock: () => number = Date.now): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no invoice ${JSON.stringify(id)}`, { field: 'id' });
  const action = (name: InvoiceAction, schema: z.ZodType, summary: string, description: string): Route => ({
    method: 'POST',
    pattern: `/v1/invoices/:id/${name}`,
    access: 'tenant',
    doc: {
      operationId: `${name.replace(/_(.)/g, (_, c: string) => c.toUpperCase())}Invoice`,
      tag: 'Invoices',
      summary,
      description: `${description} Mirrored to Stripe by billing sync and announced as an outbound event; audited with the calling key. Asking again for the state the invoice is in changes nothing.`,
      path: { id: 'The invoice id (`in_...`).' },
      body: { name: `${name.replace(/(^|_)(.)/g, (_, _u: string, c: string) => c.toUpperCase())}Request`, schema },
      responses: { 200: json('The invoice.', Invoice) },
      errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_INVALID_TRANSITION'],
    },
    handler: async (req) => {
      const input = jsonBody(req, schema) as Parameters<InvoiceActions['apply']>[3];
      const id = req.params.id!;
      const done = await actions.apply(tenantOf(req), id, name, input, actorOf(req), new Date(clock()));
      if (done === undefined) throw notFound(id);
      return { status: 200, body: await invoices.get(tenantOf(req), id) };
    },
  });
  return [
    action('void', VoidInvoice, 'Void an invoice', 'An open or uncollectible invoice is canceled: nothing is owed any more, and its number stays used.'),
    action('mark_paid', MarkPaid, 'Mark an invoice paid outside Stripe', 'For a wire or a cheque: the invoice is paid, Stripe stops collecting it and records it as paid out of band.'),
    action('mark_uncollectible', MarkUncollectible, 'Write an invoice off as uncollectible', 'An open invoice stops being collected; it can still be paid or voided later.'),
    {
      method: 'GET',
      pattern: '/v1/invoices/:id/audit',
      access: 'tenant',
      doc: { operationId: 'getInvoiceAudit', tag: 'Invoices', summary: 'What finance did to an invoice, by whom', path: { id: 'The invoice id (`in_...`).' }, responses: { 200: json('The changes, oldest first.', AuditTrail) }, errors: ['TALLY_ERR_NOT_FOUND'] },
      handler: async (req) => {
        const id = req.params.id!;
        if ((await invoices.get(tenantOf(req), id)) === undefined) throw notFound(id);
        return { status: 200, body: { data: await actions.auditTrail(tenantOf(req), id) } };
      },
    },
  ];
}
