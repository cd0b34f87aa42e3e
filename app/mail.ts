import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { loopMetrics } from '../core/metrics.js';
import type { PostgresStore } from '../core/postgres.js';
import type { Stores } from '../core/stores.js';
import { hostedUrl } from '../documents/links.js';
import { InvoiceDocuments } from '../documents/render.js';
import { measured, pdfWorkerPool } from '../documents/pdf-pool.js';
import { PdfTurns } from '../documents/pdf-turns.js';
import type { CloseHook } from '../invoicing/close-hooks.js';
import type { CreditNoteHook } from '../invoicing/credit-notes.js';
import type { InvoiceChangeHook } from '../invoicing/invoice-actions.js';
import type { StripeInvoiceHook } from '../stripe/inbound-webhooks.js';
import type { MailDocuments } from '../mail/compose.js';
import type { EnqueueSettings } from '../mail/enqueue.js';
import { mailMetrics } from '../mail/metrics.js';
import { MailSender } from '../mail/sender.js';
import { smtpTransport } from '../mail/transport.js';
import { mailOnClose, mailOnCreditNote, mailOnInvoiceChange, mailOnStripeInvoiceEvent } from '../mail/triggers.js';
import { startLoop } from './loop.js';

/**
 * Email to customers, wired from the config. With no TALLY_SMTP_URL it is off: no hook writes a
 * mail and no loop runs.
 */
export function mailEnabled(config: Config): boolean {
  return config.mail.smtpUrl !== undefined && config.mail.from !== undefined;
}

function enqueueSettings(config: Config, registry: Registry, logger: Logger): EnqueueSettings {
  const from = config.mail.from!;
  const skipped = mailMetrics(registry).skipped;
  return {
    stripeSync: config.stripe.secretKey !== undefined,
    messageDomain: from.slice(from.lastIndexOf('@') + 1),
    // Counted as the transaction runs (one that then rolls back is counted all the same).
    onNoRecipient: (m) => {
      skipped.inc({ reason: 'no_recipient' });
      logger.info({ tenant: m.tenantId, invoice: m.invoiceId, kind: m.kind }, 'mail: the customer has no email address; nothing sent');
    },
  };
}

/** The hooks that put mails in the outbox, by what causes them (none when email is off). */
export interface MailHooks {
  close: CloseHook[];
  invoiceChange: InvoiceChangeHook[];
  creditNote: CreditNoteHook[];
  stripeInvoice: StripeInvoiceHook[];
}

export function mailHooks(config: Config, registry: Registry, logger: Logger): MailHooks {
  if (!mailEnabled(config)) return { close: [], invoiceChange: [], creditNote: [], stripeInvoice: [] };
  const s = enqueueSettings(config, registry, logger.child({ component: 'mail' }));
  return { close: [mailOnClose(s)], invoiceChange: [mailOnInvoiceChange(s)], creditNote: [mailOnCreditNote(s)], stripeInvoice: [mailOnStripeInvoiceEvent(s)] };
}

/**
 * PDFs and hosted-page links from the documents folder. Each mail sent gets a fresh link
 * (`TALLY_PUBLIC_URL`, working for `TALLY_INVOICE_LINK_DAYS` from then): only a link's hash is
 * stored, so a link cannot be kept with the mail for its retries; an attempt that failed leaves
 * an unused link that expires.
 */
export function mailDocuments(config: Config, pg: PostgresStore, registry: Registry): MailDocuments {
  const links = { publicUrl: config.documents.publicUrl, days: config.documents.linkDays };
  // The PDFs are drawn on a worker thread: the mail loop may share its process with ingest.
  const pdfs = measured(pdfWorkerPool({ onWorkerError: () => undefined }), registry);
  const documents = new InvoiceDocuments(pg, new PdfTurns(pdfs));
  return {
    invoicePdf: async (tenantId, invoiceId) => (await documents.invoicePdf(tenantId, invoiceId))?.pdf,
    creditNotePdf: async (tenantId, creditNoteId) => (await documents.creditNotePdf(tenantId, creditNoteId))?.pdf,
    hostedUrl: (tenantId, invoiceId) => hostedUrl(pg, tenantId, invoiceId, links, 'mail'),
    close: () => pdfs.close(),
  };
}

/**
 * The mail loop's sender, or undefined when email is off. Its metrics are registered either way
 * (at zero when off), so the families of `tally start` and `tally deliver` do not depend on it.
 */
export function createMailSender(config: Config, stores: Stores, logger: Logger, registry: Registry, documents?: MailDocuments): MailSender | undefined {
  const metrics = mailMetrics(registry);
  if (!mailEnabled(config)) return undefined;
  const { itemFailures } = loopMetrics(registry);
  // Shown from the start, as every loop's is, so a rate() over it is defined before any failure.
  itemFailures.inc({ loop: 'mail' }, 0);
  const mailLogger = logger.child({ component: 'mail' });
  return new MailSender({
    pg: stores.postgres,
    transport: smtpTransport({ url: config.mail.smtpUrl!, timeoutMs: config.mail.timeoutMs }),
    documents: documents ?? mailDocuments(config, stores.postgres, registry),
    metrics,
    logger: mailLogger,
    owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    fromAddress: config.mail.from!,
    enqueue: enqueueSettings(config, registry, mailLogger),
    timeoutMs: config.mail.timeoutMs,
    itemFailures,
  });
}

/** The mail loop of `tally start` and `tally deliver`; stopping lets the batch in flight finish. */
export function startMailLoop(sender: MailSender, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const loop = startLoop(
    'mail',
    async () => {
      const r = await sender.runOnce({ signal: stopping.signal });
      if (r.claimed > 0 || r.overdue > 0) logger.debug({ ...r }, 'mail run');
    },
    intervalMs,
    logger,
  );
  return {
    stop: async () => {
      stopping.abort();
      await loop.stop();
      sender.close();
    },
  };
}
