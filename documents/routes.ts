import { TallyError } from '../core/errors.js';
import type { PostgresStore } from '../core/postgres.js';
import { tenantOf, type Reply, type Route } from '../http/types.js';
import { checkLogo, MAX_LOGO_BYTES, setLogo } from './logo.js';
import type { InvoiceDocuments } from './render.js';

const LOGO = { type: 'object', required: ['logo'], properties: { logo: { type: ['object', 'null'], required: ['content_type', 'bytes'], properties: { content_type: { type: 'string' }, bytes: { type: 'integer' } } } } } as const;
const PDF = { description: 'The document, A4.', contentType: 'application/pdf', schema: { type: 'string', format: 'binary' } } as const;

/** A PDF answer, named for the document's number, shown in the browser rather than saved. */
export function pdfReply(pdf: Buffer, name: string): Reply {
  return {
    status: 200,
    body: pdf,
    contentType: 'application/pdf',
    headers: { 'content-disposition': `inline; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}.pdf"`, 'cache-control': 'private, no-store' },
  };
}

/**
 * `GET /v1/invoices/:id/pdf`, `GET /v1/credit_notes/:id/pdf`, and the tenant's logo printed on
 * them (`PUT`/`DELETE /v1/billing_profile/logo`).
 */
export function documentRoutes(documents: InvoiceDocuments, pg: PostgresStore): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v1/invoices/:id/pdf',
      access: 'tenant',
      doc: {
        operationId: 'getInvoicePdf',
        tag: 'Invoices',
        summary: 'The invoice as a PDF',
        description:
          "Written for the customer's `locale` (amounts exactly as the invoice holds them, in its currency), with the tenant's billing profile and logo, each line with its quantity and unit or tier prices, discounts, credits, taxes with their rates, total and amount due. A draft under review shows as a draft.",
        path: { id: 'The invoice id (`in_...`).' },
        responses: { 200: PDF },
        errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_DOCUMENTS_BUSY'],
      },
      handler: async (req) => {
        const found = await documents.invoicePdf(tenantOf(req), req.params.id!);
        if (found === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no invoice ${JSON.stringify(req.params.id)}`, { field: 'id' });
        return pdfReply(found.pdf, found.invoice.number ?? found.invoice.id ?? 'invoice');
      },
    },
    {
      method: 'GET',
      pattern: '/v1/credit_notes/:id/pdf',
      access: 'tenant',
      doc: {
        operationId: 'getCreditNotePdf',
        tag: 'Invoices',
        summary: 'A credit note as a PDF',
        path: { id: 'The credit note id (`cn_...`).' },
        responses: { 200: PDF },
        errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_DOCUMENTS_BUSY'],
      },
      handler: async (req) => {
        const found = await documents.creditNotePdf(tenantOf(req), req.params.id!);
        if (found === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no credit note ${JSON.stringify(req.params.id)}`, { field: 'id' });
        return pdfReply(found.pdf, found.number);
      },
    },
    {
      method: 'PUT',
      pattern: '/v1/billing_profile/logo',
      access: 'tenant',
      maxBodyBytes: MAX_LOGO_BYTES,
      doc: {
        operationId: 'putBillingProfileLogo',
        tag: 'Invoices',
        summary: 'Set the logo printed on invoice documents',
        description: `A PNG or JPEG of at most ${MAX_LOGO_BYTES} bytes, sent as the body with its Content-Type. Every document made from now on shows it, those of invoices issued earlier too.`,
        requestBody: { description: 'The image.', required: true, content: { 'image/png': { schema: { type: 'string', format: 'binary' } }, 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } },
        responses: { 200: { description: 'The logo now printed.', schema: LOGO } },
        errors: ['TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', 'TALLY_ERR_INVALID_BODY', 'TALLY_ERR_DOCUMENTS_BUSY'],
      },
      handler: async (req) => {
        const tenantId = tenantOf(req);
        const logo = await checkLogo(req.headers['content-type'], req.body, (l) => documents.readLogo(tenantId, l));
        await setLogo(pg, tenantId, logo);
        return { status: 200, body: { logo: { content_type: logo.type, bytes: logo.data.length } } };
      },
    },
    {
      method: 'DELETE',
      pattern: '/v1/billing_profile/logo',
      access: 'tenant',
      doc: { operationId: 'deleteBillingProfileLogo', tag: 'Invoices', summary: 'Remove the logo from invoice documents', responses: { 200: { description: 'Removed (or there was none).', schema: LOGO } } },
      handler: async (req) => {
        await setLogo(pg, tenantOf(req), null);
        return { status: 200, body: { logo: null } };
      },
    },
  ];
}
