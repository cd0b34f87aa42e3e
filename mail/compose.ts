import type { Queryable } from '../core/postgres.js';
import { Formatter } from '../documents/format.js';
import { creditNoteView } from '../invoicing/credit-notes.js';
import { invoiceSummaries } from '../invoicing/invoice-reads.js';
import { collectorSql } from './enqueue.js';
import { stillDue, type MailKind } from './rules.js';
import { renderMail } from './templates.js';
import type { OutgoingMail } from './transport.js';

/**
 * Where a mail's PDF and hosted link come from (the documents folder, wired in app/). A PDF
 * that cannot be made now is an error (the mail is tried again later); `undefined` means the
 * document does not exist, and the mail goes without it.
 */
export interface MailDocuments {
  invoicePdf(tenantId: string, invoiceId: string): Promise<Buffer | undefined>;
  creditNotePdf(tenantId: string, creditNoteId: string): Promise<Buffer | undefined>;
  hostedUrl(tenantId: string, invoiceId: string): Promise<string | null>;
  /** Lets go of what drawing the documents holds (a worker thread). */
  close?(): Promise<void>;
}

/** One outbox row, as the mail loop claimed it. */
export interface MailRow {
  tenant_id: string;
  id: string;
  kind: MailKind;
  invoice_id: string;
  credit_note_id: string | null;
  recipient: string;
  message_id: string;
  attempts: number;
}

export type Composed = { action: 'send'; mail: OutgoingMail } | { action: 'cancel'; reason: string } | { action: 'fail'; reason: string };

/**
 * The message of a row, written from the invoice (and credit note) as they are when it is sent:
 * what is due now, the issuer as the invoice was issued. From shows the issuer's legal name with
 * TALLY_MAIL_FROM's address; Reply-To is the issuer's email when it has one.
 */
export async function composeMail(q: Queryable, row: MailRow, docs: MailDocuments, o: { fromAddress: string; stripeSync: boolean }): Promise<Composed> {
  const invoice = (await invoiceSummaries(q, [{ tenantId: row.tenant_id, id: row.invoice_id }]))[0]?.invoice;
  if (invoice === undefined) return { action: 'fail', reason: `invoice ${row.invoice_id} does not exist` };
  if (!stillDue(row.kind, invoice.status)) return { action: 'cancel', reason: `invoice ${row.invoice_id} is ${invoice.status}` };
  const facts = (
    await q.query<{ name: string | null; locale: string | null; tenant_name: string | null; collector: string }>(
      `SELECT c.name, c.locale, t.name AS tenant_name, ${collectorSql('i', '$3::boolean')} AS collector
         FROM invoices i LEFT JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id LEFT JOIN tenants t ON t.id = i.tenant_id
        WHERE i.tenant_id = $1 AND i.id = $2`,
      [row.tenant_id, row.invoice_id, o.stripeSync],
    )
  ).rows[0];
  const format = new Formatter(facts?.locale, invoice.currency);
  const note = row.credit_note_id === null ? undefined : await creditNoteView(q, row.tenant_id, row.credit_note_id);
  if (row.credit_note_id !== null && note === undefined) return { action: 'fail', reason: `credit note ${row.credit_note_id} does not exist` };

  const issuer = invoice.issuer?.legal_name ?? facts?.tenant_name ?? row.tenant_id;
  const number = invoice.number ?? invoice.id;
  const due = dueDate(invoice);
  const pdf = note === undefined ? await docs.invoicePdf(row.tenant_id, invoice.id) : await docs.creditNotePdf(row.tenant_id, note.id);
  const rendered = renderMail({
    kind: row.kind,
    issuer,
    customerName: facts?.name ?? invoice.customer,
    invoiceNumber: number,
    total: format.amount(invoice.total),
    amountDue: format.amount(invoice.amount_due),
    dueDate: due === null ? null : format.day(due),
    chargedAutomatically: invoice.collection_method === 'charge_automatically' && facts?.collector === 'stripe_invoice',
    paid: invoice.status === 'paid',
    hostedUrl: await docs.hostedUrl(row.tenant_id, invoice.id),
    creditNote: note === undefined ? undefined : { number: note.number, amount: format.amount(note.amount) },
    attached: pdf !== undefined,
  });
  const replyTo = invoice.issuer?.email ?? undefined;
  return {
    action: 'send',
    mail: {
      from: { name: issuer, address: o.fromAddress },
      to: row.recipient,
      ...(replyTo === undefined ? {} : { replyTo }),
      ...rendered,
      messageId: row.message_id,
      attachments: pdf === undefined ? [] : [{ filename: `${fileName(note?.number ?? number)}.pdf`, content: pdf, contentType: 'application/pdf' }],
    },
  };
}

/** When payment is due: Stripe's due date, else (net terms) issued plus the terms; none for a charged invoice. */
function dueDate(i: { due_at: string | null; issued_at: string | null; collection_method: string; days_until_due: number | null }): Date | null {
  if (i.due_at !== null) return new Date(i.due_at);
  if (i.collection_method !== 'send_invoice' || i.issued_at === null) return null;
  return new Date(new Date(i.issued_at).getTime() + (i.days_until_due ?? 0) * 86_400_000);
}

const fileName = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');
