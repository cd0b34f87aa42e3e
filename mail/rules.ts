/**
 * What Tally emails and when it leaves the mail to Stripe. Pure: the hooks and the overdue sweep
 * (triggers.ts) read the facts, this decides.
 */
export const MAIL_KINDS = ['invoice.finalized', 'credit_note.created', 'invoice.payment_failed', 'invoice.overdue'] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

/**
 * Who collects an invoice:
 * - `tally`: billing sync to Stripe is not configured; nobody else writes to the customer;
 * - `stripe_invoice`: billing sync puts the invoice in Stripe (it has a Stripe outbox row or a
 *   Stripe id) and Stripe collects it: it emails `send_invoice` invoices with their reminders
 *   and credit notes, and charges `charge_automatically` ones without a word;
 * - `stripe_meter`: with billing sync configured, an invoice that never goes to Stripe is a
 *   meter-mode plan's, which Stripe prices, invoices and emails from its own subscription;
 *   Tally's invoice is only a reference and is not mailed.
 */
export type Collector = 'tally' | 'stripe_invoice' | 'stripe_meter';
export type CollectionMethod = 'charge_automatically' | 'send_invoice';

/** Whether Tally sends a mail of `kind` about an invoice: never one Stripe sends itself. */
export function tallySends(kind: MailKind, collector: Collector, collection: CollectionMethod): boolean {
  switch (collector) {
    case 'tally':
      // Reminders are for invoices paid against net terms; a charged invoice is due on receipt.
      return kind !== 'invoice.overdue' || collection === 'send_invoice';
    case 'stripe_invoice':
      // Stripe charges these silently: Tally sends the invoice, and a failure asks for a new card.
      return (kind === 'invoice.finalized' && collection === 'charge_automatically') || kind === 'invoice.payment_failed';
    case 'stripe_meter':
      return false;
  }
}

/** The dedup key of a mail: the same intent never makes two rows (unique per tenant). */
export const mailKey = {
  finalized: (invoiceId: string) => `invoice.finalized:${invoiceId}`,
  overdue: (invoiceId: string) => `invoice.overdue:${invoiceId}`,
  /** Each failed payment is its own mail (one per Stripe event). */
  paymentFailed: (invoiceId: string, stripeEventId: string) => `invoice.payment_failed:${invoiceId}:${stripeEventId}`,
  creditNote: (creditNoteId: string) => `credit_note.created:${creditNoteId}`,
};

/**
 * Whether a mail still goes out when it is sent (it is read again then): nothing about a voided
 * invoice, and no reminder or failure notice about an invoice no longer open (paid meanwhile).
 */
export function stillDue(kind: MailKind, status: string): boolean {
  if (status === 'void' || status === 'draft') return false;
  if (kind === 'invoice.overdue' || kind === 'invoice.payment_failed') return status === 'open';
  return true;
}
