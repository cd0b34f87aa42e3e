import type { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { ApproveInvoice, MarkPaid, MarkUncollectible, VoidInvoice, type InvoiceAction, type InvoiceActions } from './invoice-actions.js';
import type { InvoiceRepository } from './invoice-reads.js';
import { AuditTrail, CreditNote, CreditNoteList, Invoice } from './openapi.js';
import { CreateCreditNote, type CreditNotes } from './credit-notes.js';

/**
 * `POST /v1/invoices/:id/{void,mark_paid,mark_uncollectible}`, `POST/GET /v1/invoices/:id/credit_notes`
 * and `GET /v1/invoices/:id/audit`.
 */
export function invoiceActionRoutes(actions: InvoiceActions, creditNotes: CreditNotes, invoices: InvoiceRepository, clock: () => number = Date.now): Route[] {
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
      const tenant = tenantOf(req);
      const invoice = await actions.apply(tenant, id, name, input, actorOf(req), new Date(clock()), (tx) => invoices.get(tenant, id, tx));
      if (invoice === undefined) throw notFound(id);
      return { status: 200, body: invoice };
    },
  });
  return [
    action('approve', ApproveInvoice, 'Approve a draft invoice', 'With TALLY_INVOICE_REVIEW, closed invoices wait as drafts: approving one gives it its invoice number and sends it to Stripe, which then collects it.'),
    action('void', VoidInvoice, 'Void an invoice', 'An open or uncollectible invoice is canceled: nothing is owed any more, and its number stays used.'),
    action('mark_paid', MarkPaid, 'Mark an invoice paid outside Stripe', 'For a wire or a cheque: the invoice is paid, Stripe stops collecting it and records it as paid out of band.'),
    action('mark_uncollectible', MarkUncollectible, 'Write an invoice off as uncollectible', 'An open invoice stops being collected; it can still be paid or voided later.'),
    {
      method: 'POST',
      pattern: '/v1/invoices/:id/credit_notes',
      access: 'tenant',
      doc: {
        operationId: 'createCreditNote',
        tag: 'Invoices',
        summary: 'Credit all or part of an issued invoice',
        description:
          'Give `amount` (at the currency\'s minor unit; more places are refused, never rounded) or `lines` (invoice line numbers, each in full at the minor unit half-even, or up to an `amount`; the note that credits the last line in full takes exactly what is left of the total). On an open invoice the credit lowers what is due (credited in full, the invoice is paid); on a paid one `settle` says where the money goes: `credit_balance` (a credit grant the next invoices use), `refund` (Stripe refunds it) or `out_of_band`. Mirrored to Stripe as a credit note, announced as `credit_note.created`, audited with the calling key.',
        path: { id: 'The invoice id (`in_...`).' },
        body: { name: 'CreateCreditNote', schema: CreateCreditNote },
        responses: { 201: json('The credit note.', CreditNote) },
        errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => {
        const input = jsonBody(req, CreateCreditNote);
        const note = await creditNotes.create(tenantOf(req), req.params.id!, input, actorOf(req), new Date(clock()));
        if (note === undefined) throw notFound(req.params.id!);
        return { status: 201, body: note };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/invoices/:id/credit_notes',
      access: 'tenant',
      doc: { operationId: 'listCreditNotes', tag: 'Invoices', summary: 'The credit notes of an invoice', path: { id: 'The invoice id (`in_...`).' }, responses: { 200: json('Oldest first.', CreditNoteList) }, errors: ['TALLY_ERR_NOT_FOUND'] },
      handler: async (req) => {
        const id = req.params.id!;
        if ((await invoices.get(tenantOf(req), id)) === undefined) throw notFound(id);
        return { status: 200, body: { data: await creditNotes.list(tenantOf(req), id) } };
      },
    },
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
