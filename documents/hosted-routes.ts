import { Dec } from '../core/money.js';
import type { Queryable } from '../core/postgres.js';
import type { ResponseDoc } from '../http/openapi-doc.js';
import type { Reply, Route } from '../http/types.js';
import { CONTENT_SECURITY_POLICY, invoicePage, linkErrorPage } from './html.js';
import { stripeHostedUrl, type InvoiceLinks } from './links.js';
import type { InvoiceDocuments } from './render.js';

/**
 * The hosted invoice page, opened without a key: `GET /i/:token` (the invoice as HTML),
 * `/i/:token/pdf` and `/i/:token/logo`. The token alone says which invoice of which tenant;
 * nothing in the path or query can point elsewhere. A token that opens nothing gets a small
 * page saying so (404, or 410 once expired or revoked) and never names a tenant or an invoice.
 * Nothing is cached, indexed, framed or sent on as a referrer, and the page runs no script.
 */
const HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': CONTENT_SECURITY_POLICY,
};

const HTML = 'text/html; charset=utf-8';
const TOKEN = 'The token of a link made by `POST /v1/invoices/{id}/links`.';
const page = (description: string): ResponseDoc => ({ description, contentType: 'text/html', schema: { type: 'string' } });
const REFUSED = { 404: page('No such link: a small page saying so.'), 410: page('The link expired or was revoked: a small page saying so.') };

export interface HostedDeps {
  links: InvoiceLinks;
  documents: InvoiceDocuments;
  pg: Queryable;
  /** The base URL customers reach Tally at (TALLY_PUBLIC_URL): its path prefixes the page's own links. */
  publicUrl: string;
}

export function hostedInvoiceRoutes(deps: HostedDeps): Route[] {
  const prefix = new URL(deps.publicUrl).pathname.replace(/\/+$/, '');

  /** The tenant and invoice the token opens now, or the page refusing it. */
  const open = async (token: string): Promise<{ tenantId: string; invoiceId: string } | Reply> => {
    const found = await deps.links.lookup(token);
    if (found.state === 'valid') return { tenantId: found.tenantId, invoiceId: found.invoiceId };
    return refused(found.state === 'gone' ? 410 : 404);
  };

  return [
    {
      method: 'GET',
      pattern: '/i/:token',
      access: 'public',
      doc: {
        operationId: 'getHostedInvoice',
        tag: 'Hosted pages',
        summary: 'The hosted invoice page',
        description:
          "The invoice as a web page in the customer's language (the same words and figures as its PDF), with its PDF to download and, while it is open and Stripe collects it, a link to Stripe's page to pay it. No script, nothing from elsewhere; not cached, not indexed, no referrer sent on.",
        path: { token: TOKEN },
        responses: { 200: page('The page.'), ...REFUSED },
      },
      handler: async (req) => {
        const token = req.params.token!;
        const opened = await open(token);
        if ('status' in opened) return opened;
        const found = await deps.documents.invoice(opened.tenantId, opened.invoiceId);
        if (found === undefined || found.invoice.status === 'draft') return refused(404);
        const [logo, stripePage] = await Promise.all([deps.documents.logo(opened.tenantId), stripeHostedUrl(deps.pg, opened.tenantId, opened.invoiceId)]);
        const payable = found.invoice.status === 'open' && new Dec(found.invoice.amount_due).gt(0);
        const own = `${prefix}/i/${encodeURIComponent(token)}`;
        const html = invoicePage(found.document, { pdf: `${own}/pdf`, logo: logo === null ? null : `${own}/logo`, pay: payable ? stripePage : null });
        return { status: 200, body: html, contentType: HTML, headers: { ...HEADERS } };
      },
    },
    {
      method: 'GET',
      pattern: '/i/:token/pdf',
      access: 'public',
      doc: {
        operationId: 'getHostedInvoicePdf',
        tag: 'Hosted pages',
        summary: 'The PDF of the hosted invoice',
        description: 'Downloaded (an attachment), named for the invoice number.',
        path: { token: TOKEN },
        responses: { 200: { description: 'The document, A4.', contentType: 'application/pdf', schema: { type: 'string', format: 'binary' } }, ...REFUSED },
        errors: ['TALLY_ERR_DOCUMENTS_BUSY'],
      },
      handler: async (req) => {
        const opened = await open(req.params.token!);
        if ('status' in opened) return opened;
        const found = await deps.documents.invoicePdf(opened.tenantId, opened.invoiceId);
        if (found === undefined || found.invoice.status === 'draft') return refused(404);
        const name = (found.invoice.number ?? 'invoice').replace(/[^A-Za-z0-9._-]/g, '_');
        return { status: 200, body: found.pdf, contentType: 'application/pdf', headers: { ...HEADERS, 'content-disposition': `attachment; filename="${name}.pdf"` } };
      },
    },
    {
      method: 'GET',
      pattern: '/i/:token/logo',
      access: 'public',
      doc: {
        operationId: 'getHostedInvoiceLogo',
        tag: 'Hosted pages',
        summary: "The issuer's logo on the hosted invoice page",
        path: { token: TOKEN },
        responses: {
          200: { description: 'The image.', contentType: 'image/png', schema: { type: 'string', format: 'binary' } },
          404: page('No such link, or the tenant has no logo.'),
          410: REFUSED[410],
        },
      },
      handler: async (req) => {
        const opened = await open(req.params.token!);
        if ('status' in opened) return opened;
        const logo = await deps.documents.logo(opened.tenantId);
        if (logo === null) return refused(404);
        return { status: 200, body: logo.data, contentType: logo.type, headers: { ...HEADERS } };
      },
    },
  ];
}

function refused(status: 404 | 410): Reply {
  return { status, body: linkErrorPage(status), contentType: HTML, headers: { ...HEADERS } };
}
