import { TallyError } from '../core/errors.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import type { Address } from '../catalog/address.js';
import { InvoiceRepository } from '../invoicing/invoice-reads.js';
import { creditNoteView } from '../invoicing/credit-notes.js';
import { currentIssuer } from '../invoicing/billing-profile.js';
import type { InvoiceView } from '../invoicing/invoice-view.js';
import { creditNoteDocument, invoiceDocument, type BillTo, type InvoiceDocument } from './invoice-document.js';
import type { Logo } from './pdf.js';
import { inThreadPdfs } from './pdf-pool.js';
import { PdfTurns } from './pdf-turns.js';

/**
 * Invoice and credit-note documents of a tenant, read from the stores: the invoice as the API
 * shows it, its customer as billed (a customer deleted since still has their invoices), the
 * billing profile as it stands for a draft (which has no issuer yet), the tenant's name for an
 * invoice issued without issuer details, and its logo. Undefined when the tenant
 * has no such invoice: another tenant's id is as unknown as a made-up one.
 */
export class InvoiceDocuments {
  private readonly invoices: InvoiceRepository;

  constructor(
    private readonly pg: PostgresStore,
    private readonly pdfs: PdfTurns = new PdfTurns(inThreadPdfs),
  ) {
    this.invoices = new InvoiceRepository(pg);
  }

  async invoice(tenantId: string, invoiceId: string): Promise<{ invoice: InvoiceView; document: InvoiceDocument } | undefined> {
    const invoice = await this.invoices.get(tenantId, invoiceId);
    if (invoice === undefined) return undefined;
    // A draft carries no issuer yet: it shows the one approving it would stamp on it.
    const [customer, tenant, current] = await Promise.all([
      billTo(this.pg, tenantId, invoice.customer),
      tenantName(this.pg, tenantId),
      invoice.status === 'draft' ? currentIssuer(this.pg, tenantId) : undefined,
    ]);
    return { invoice, document: invoiceDocument(invoice, customer, current ?? { legal_name: tenant }) };
  }

  async invoicePdf(tenantId: string, invoiceId: string): Promise<{ invoice: InvoiceView; pdf: Buffer } | undefined> {
    const found = await this.invoice(tenantId, invoiceId);
    if (found === undefined) return undefined;
    const issued = new Date(found.invoice.issued_at ?? found.invoice.created_at ?? 0);
    return { invoice: found.invoice, pdf: await this.draw(tenantId, found.document, issued) };
  }

  async creditNote(tenantId: string, creditNoteId: string): Promise<{ number: string; document: InvoiceDocument; createdAt: Date } | undefined> {
    const note = await creditNoteView(this.pg, tenantId, creditNoteId);
    if (note === undefined) return undefined;
    const invoice = await this.invoices.get(tenantId, note.invoice);
    if (invoice === undefined) return undefined;
    const [customer, tenant] = await Promise.all([billTo(this.pg, tenantId, invoice.customer), tenantName(this.pg, tenantId)]);
    return { number: note.number, document: creditNoteDocument(note, invoice, customer, { legal_name: tenant }), createdAt: new Date(note.created_at) };
  }

  async creditNotePdf(tenantId: string, creditNoteId: string): Promise<{ number: string; pdf: Buffer } | undefined> {
    const found = await this.creditNote(tenantId, creditNoteId);
    if (found === undefined) return undefined;
    return { number: found.number, pdf: await this.draw(tenantId, found.document, found.createdAt) };
  }

  /**
   * The PDF with the tenant's logo; without it if drawing with it fails (a logo stored before
   * uploads were read through whole): the document matters more than the letterhead.
   */
  private async draw(tenantId: string, document: InvoiceDocument, createdAt: Date): Promise<Buffer> {
    const logo = await logoOf(this.pg, tenantId);
    if (logo === null) return this.pdfs.render(tenantId, document, null, createdAt);
    try {
      return await this.pdfs.render(tenantId, document, logo, createdAt);
    } catch (e) {
      if (e instanceof TallyError) throw e;
      return this.pdfs.render(tenantId, document, null, createdAt);
    }
  }

  /** Why an uploaded logo cannot be printed, or undefined: read through on the PDF renderer, in the tenant's turn. */
  readLogo(tenantId: string, logo: Logo): Promise<string | undefined> {
    return this.pdfs.readLogo(tenantId, logo);
  }

  logo(tenantId: string): Promise<Logo | null> {
    return logoOf(this.pg, tenantId);
  }
}

async function billTo(q: Queryable, tenantId: string, customerId: string): Promise<BillTo> {
  const { rows } = await q.query<{ name: string; email: string | null; address: Address | null; locale: string | null }>(
    'SELECT name, email, address, locale FROM customers WHERE tenant_id = $1 AND id = $2',
    [tenantId, customerId],
  );
  return rows[0] ?? { name: customerId, email: null, address: null, locale: null };
}

async function tenantName(q: Queryable, tenantId: string): Promise<string> {
  const { rows } = await q.query<{ name: string }>('SELECT name FROM tenants WHERE id = $1', [tenantId]);
  return rows[0]?.name ?? tenantId;
}

async function logoOf(q: Queryable, tenantId: string): Promise<Logo | null> {
  const { rows } = await q.query<{ logo: Buffer; logo_type: Logo['type'] }>('SELECT logo, logo_type FROM billing_profiles WHERE tenant_id = $1 AND logo IS NOT NULL', [tenantId]);
  return rows[0] === undefined ? null : { type: rows[0].logo_type, data: rows[0].logo };
}
