import type { MailKind } from './rules.js';

/**
 * The words of each mail, written once as blocks and rendered twice: plain text and HTML. Every
 * value is text from the data (names, numbers, formatted amounts and dates); the HTML renderer
 * escapes all of it, and a link is only ever an http(s) URL.
 */
export interface MailView {
  kind: MailKind;
  /** The issuer's legal name (the billing profile's, as the invoice was issued). */
  issuer: string;
  customerName: string;
  invoiceNumber: string;
  /** Formatted for the customer (currency and locale). */
  total: string;
  amountDue: string;
  /** Formatted; null when the invoice has no due date to show. */
  dueDate: string | null;
  /** Stripe charges the customer's payment method (charge_automatically, collected by Stripe). */
  chargedAutomatically: boolean;
  paid: boolean;
  /** The invoice's hosted page, where it can be seen and paid. */
  hostedUrl: string | null;
  /** The credit note of a `credit_note.created` mail. */
  creditNote?: { number: string; amount: string } | undefined;
  /** Whether a PDF is attached. */
  attached: boolean;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

type Block = { kind: 'p'; text: string } | { kind: 'facts'; rows: readonly (readonly [string, string])[] } | { kind: 'link'; label: string; url: string };

const p = (text: string): Block => ({ kind: 'p', text });

export function renderMail(v: MailView): RenderedMail {
  const { subject, blocks } = content(v);
  const clean = blocks.filter((b) => b.kind !== 'link' || isWebUrl(b.url));
  return { subject: oneLine(subject), text: renderText(clean), html: renderHtml(subject, clean) };
}

function content(v: MailView): { subject: string; blocks: Block[] } {
  const greeting = p(`Hello ${v.customerName},`);
  const link = (label: string): Block[] => (v.hostedUrl === null ? [] : [{ kind: 'link', label, url: v.hostedUrl }]);
  const attachment = v.attached ? [p(`The invoice is attached as a PDF.`)] : [];
  const due = v.dueDate === null ? [] : [['Due date', v.dueDate] as const];
  const facts = (rows: (readonly [string, string])[]): Block => ({ kind: 'facts', rows: [['Invoice', v.invoiceNumber], ...rows] });
  const closing = p(`Thank you,\n${v.issuer}`);
  switch (v.kind) {
    case 'invoice.finalized':
      return {
        subject: `Invoice ${v.invoiceNumber} from ${v.issuer}`,
        blocks: [
          greeting,
          p(`${v.issuer} has issued invoice ${v.invoiceNumber} to you.`),
          facts([['Total', v.total], ['Amount due', v.amountDue], ...(v.paid || v.chargedAutomatically ? [] : due)]),
          p(
            v.paid
              ? 'This invoice is paid: nothing is due.'
              : v.chargedAutomatically
                ? 'The amount due will be charged to your payment method on file.'
                : v.dueDate === null
                  ? 'Payment is due on receipt.'
                  : 'Please pay it by the due date.',
          ),
          ...link('View and pay the invoice online'),
          ...attachment,
          closing,
        ],
      };
    case 'invoice.overdue':
      return {
        subject: `Invoice ${v.invoiceNumber} from ${v.issuer} is overdue`,
        blocks: [
          greeting,
          p(`Invoice ${v.invoiceNumber} from ${v.issuer} is past its due date and still unpaid.`),
          facts([['Amount due', v.amountDue], ...due]),
          p('Please pay it as soon as you can. If you have paid it already, thank you, and please ignore this reminder.'),
          ...link('Pay the invoice online'),
          ...attachment,
          closing,
        ],
      };
    case 'invoice.payment_failed':
      return {
        subject: `Payment failed for invoice ${v.invoiceNumber} from ${v.issuer}`,
        blocks: [
          greeting,
          p(`We could not charge your payment method for invoice ${v.invoiceNumber} from ${v.issuer}.`),
          facts([['Amount due', v.amountDue]]),
          p('Please update your card or payment method so that the invoice can be paid; the payment is tried again automatically.'),
          ...link('Pay the invoice or update your payment method'),
          ...attachment,
          closing,
        ],
      };
    case 'credit_note.created': {
      const note = v.creditNote ?? { number: '', amount: '' };
      return {
        subject: `Credit note ${note.number} for invoice ${v.invoiceNumber} from ${v.issuer}`,
        blocks: [
          greeting,
          p(`${v.issuer} has issued credit note ${note.number} on invoice ${v.invoiceNumber}.`),
          { kind: 'facts', rows: [['Credit note', note.number], ['Invoice', v.invoiceNumber], ['Amount credited', note.amount], ['Amount due on the invoice', v.amountDue]] },
          ...link('View the invoice online'),
          ...(v.attached ? [p('The credit note is attached as a PDF.')] : []),
          closing,
        ],
      };
    }
  }
}

function renderText(blocks: readonly Block[]): string {
  return `${blocks
    .map((b) => {
      switch (b.kind) {
        case 'p':
          return b.text;
        case 'facts':
          return b.rows.map(([label, value]) => `${label}: ${value}`).join('\n');
        case 'link':
          return `${b.label}: ${b.url}`;
      }
    })
    .join('\n\n')}\n`;
}

function renderHtml(subject: string, blocks: readonly Block[]): string {
  const body = blocks
    .map((b) => {
      switch (b.kind) {
        case 'p':
          return `<p>${escapeHtml(b.text).replace(/\n/g, '<br>')}</p>`;
        case 'facts':
          return `<table role="presentation" cellpadding="4" cellspacing="0">${b.rows
            .map(([label, value]) => `<tr><td>${escapeHtml(label)}</td><td><strong>${escapeHtml(value)}</strong></td></tr>`)
            .join('')}</table>`;
        case 'link':
          return `<p><a href="${escapeHtml(b.url)}">${escapeHtml(b.label)}</a></p>`;
      }
    })
    .join('\n');
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(oneLine(subject))}</title></head>\n<body>\n${body}\n</body></html>\n`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** A subject is one line, whatever a name holds. */
function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ').trim();
}

function isWebUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}
