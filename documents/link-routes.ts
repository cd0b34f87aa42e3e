import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { instant, list, nullable, obj, oneOfStrings, shape, str } from '../http/openapi-shapes.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { MAX_LINK_DAYS, type InvoiceLinks } from './links.js';

export const CreateInvoiceLink = z.strictObject({
  expires_in_days: z.number().int().min(1).max(MAX_LINK_DAYS).optional(),
});

const NewInvoiceLink = shape(
  'NewInvoiceLink',
  obj({
    id: str('`ilnk_...`'),
    invoice: str(),
    url: str('The hosted page, holding the token: shown this once (only a hash of the token is kept).'),
    created_at: instant,
    expires_at: instant,
  }),
);

const InvoiceLink = shape(
  'InvoiceLink',
  obj({
    id: str('`ilnk_...`'),
    invoice: str(),
    status: oneOfStrings(['active', 'expired', 'revoked']),
    created_at: instant,
    expires_at: instant,
    revoked_at: nullable(instant),
    actor: str('Who made it: `api_key:<key id>`, or `system` for a link made for an email.'),
  }),
);

const INVOICE_ID = 'The invoice id (`in_...`).';

/** `POST/GET /v1/invoices/:id/links` and `DELETE /v1/invoices/:id/links/:link_id`: the links to an invoice's hosted page. */
export function invoiceLinkRoutes(links: InvoiceLinks): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no invoice ${JSON.stringify(id)}`, { field: 'id' });
  return [
    {
      method: 'POST',
      pattern: '/v1/invoices/:id/links',
      access: 'tenant',
      doc: {
        operationId: 'createInvoiceLink',
        tag: 'Invoices',
        summary: "A link to the invoice's hosted page, for the customer",
        description: `An unguessable URL (\`/i/<token>\` under TALLY_PUBLIC_URL) where the invoice can be seen without a key, as HTML in the customer's language, with its PDF and, while it is open and Stripe collects it, a link to pay it. It works for \`expires_in_days\` (1 to ${MAX_LINK_DAYS}; TALLY_INVOICE_LINK_DAYS when left out) or until it is revoked. The URL is shown this once. A draft under review has no hosted page (409).`,
        path: { id: INVOICE_ID },
        body: { name: 'CreateInvoiceLink', schema: CreateInvoiceLink },
        responses: { 201: json('The link.', NewInvoiceLink) },
        errors: ['TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => {
        const input = jsonBody(req, CreateInvoiceLink);
        const id = req.params.id!;
        const link = await links.create(tenantOf(req), id, { actor: actorOf(req), ...(input.expires_in_days === undefined ? {} : { expiresInDays: input.expires_in_days }) });
        if (link === undefined) throw notFound(id);
        return { status: 201, body: link };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/invoices/:id/links',
      access: 'tenant',
      doc: {
        operationId: 'listInvoiceLinks',
        tag: 'Invoices',
        summary: "The links made to the invoice's hosted page",
        description: 'Oldest first, without their URLs: a lost link is revoked and a new one made.',
        path: { id: INVOICE_ID },
        responses: { 200: json('The links.', list(InvoiceLink, false)) },
      },
      handler: async (req) => {
        const id = req.params.id!;
        const found = await links.list(tenantOf(req), id);
        if (found === undefined) throw notFound(id);
        return { status: 200, body: { data: found } };
      },
    },
    {
      method: 'DELETE',
      pattern: '/v1/invoices/:id/links/:link_id',
      access: 'tenant',
      doc: {
        operationId: 'revokeInvoiceLink',
        tag: 'Invoices',
        summary: "Revoke a link to the invoice's hosted page",
        description: 'It stops working at once (its page answers 410). Revoking it again changes nothing.',
        path: { id: INVOICE_ID, link_id: 'The link id (`ilnk_...`).' },
        responses: { 200: json('The link, revoked.', InvoiceLink) },
      },
      handler: async (req) => {
        const id = req.params.id!;
        const linkId = req.params.link_id!;
        const revoked = await links.revoke(tenantOf(req), id, linkId);
        if (revoked === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `invoice ${JSON.stringify(id)} has no link ${JSON.stringify(linkId)}`, { field: 'link_id' });
        return { status: 200, body: revoked };
      },
    },
  ];
}
