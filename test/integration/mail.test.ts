import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { createRegistry, loopMetrics } from '../../core/metrics.js';
import type { PostgresStore } from '../../core/postgres.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { createMailSender, mailDocuments, mailHooks } from '../../app/mail.js';
import { mailMetrics } from '../../mail/metrics.js';
import { MailSender } from '../../mail/sender.js';
import { enqueueOverdue } from '../../mail/triggers.js';
import { smtpTransport } from '../../mail/transport.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';
import { startTestSmtp, type Received, type TestSmtp } from '../support/smtp.js';
import { startStripeBilling, type StripeBilling } from '../support/stripe-billing.js';

/**
 * Email to customers through a real SMTP server: mails written with the invoices and credit
 * notes that cause them, sent once each with their PDF, through refusals and dropped
 * connections; a refused recipient fails only its own mail; overdue reminders once; nothing
 * that Stripe sends itself; nothing at all without an SMTP server.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);
const closeAt = new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000);
const FROM = 'billing@tally.test';

let smtp: TestSmtp;
let api: TestApi;
let stack: RatingStack;
let registry: Registry;
let tenantA: { id: string; auth: Record<string, string> };
let tenantB: { id: string; auth: Record<string, string> };
const as = (t: { auth: Record<string, string> }) => (method: string, p: string, body?: unknown) => jsonRequest(api.url, t.auth, method, p, body);

/** A mail loop on `pg` sending to the test server (with the documents as wired), retrying after 30 ms instead of the production schedule. */
function sender(pg: PostgresStore, o: { stripeSync?: boolean; clock?: () => number; concurrency?: number } = {}): MailSender {
  return new MailSender({
    pg,
    transport: smtpTransport({ url: smtp.url, timeoutMs: 5_000 }),
    documents: mailDocuments(api.stores.config, pg, registry),
    metrics: mailMetrics(registry),
    logger: createLogger(api.stores.config),
    owner: 'test',
    fromAddress: FROM,
    enqueue: { stripeSync: o.stripeSync ?? false, messageDomain: 'tally.test' },
    timeoutMs: 5_000,
    delays: [30, 30, 30, 30, 30],
    overdueEveryMs: 0,
    ...(o.clock === undefined ? {} : { clock: o.clock }),
    ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
    itemFailures: loopMetrics(registry).itemFailures,
  });
}

/** Runs the loop until nothing is pending (each run sends what is due). */
async function drain(pg: PostgresStore = api.stores.postgres, s: MailSender = sender(pg)): Promise<void> {
  try {
    for (let i = 0; i < 100; i++) {
      await s.runOnce();
      const { rows } = await pg.query<{ n: string }>("SELECT count(*)::text AS n FROM mail_outbox WHERE status = 'pending'");
      if (rows[0]!.n === '0') return;
      await new Promise((r) => setTimeout(r, 40));
    }
    throw new Error('mails still pending after 100 runs');
  } finally {
    s.close();
  }
}

const receivedBy = (address: string): Received[] => smtp.received.filter((r) => r.to.includes(address));

async function rowsOf(invoiceId: string, pg: PostgresStore = api.stores.postgres) {
  return (
    await pg.query<{ kind: string; dedup_key: string; status: string; attempts: number; last_error: string | null; message_id: string; recipient: string; sent_at: Date | null }>(
      'SELECT kind, dedup_key, status, attempts, last_error, message_id, recipient, sent_at FROM mail_outbox WHERE invoice_id = $1 ORDER BY created_at, id',
      [invoiceId],
    )
  ).rows;
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l));
  return m?.value ?? 0;
}

/** Closes every period ended by `closeAt` (the aggregator first: close waits for usage to be counted). */
async function close(): Promise<void> {
  await testAggregator(api).runOnce();
  await stack.billing.close(closeAt);
}

/** A customer of `t` on the basic plan since `start`, its first month closed; its invoice. */
async function invoiceFor(t: { auth: Record<string, string> }, customer: Record<string, unknown>): Promise<Record<string, any>> {
  const call = as(t);
  expect((await call('POST', '/v1/customers', { name: String(customer.id), currency: 'USD', ...customer })).status).toBe(201);
  expect((await call('POST', '/v1/subscriptions', { customer: customer.id, plan: 'basic', start_date: start.toISOString() })).status).toBe(201);
  await close();
  const invoices = (await call('GET', `/v1/invoices?customer=${String(customer.id)}`)).body.data as Record<string, any>[];
  expect(invoices).toHaveLength(1);
  return invoices[0]!;
}

beforeAll(async () => {
  smtp = await startTestSmtp();
  api = await startTestApi({ env: { TALLY_SMTP_URL: smtp.url, TALLY_MAIL_FROM: FROM } });
  registry = createRegistry();
  stack = createRatingStack(api.stores.config, api.stores, registry);
  tenantA = await api.tenant('mail-a');
  tenantB = await api.tenant('mail-b');
  for (const t of [tenantA, tenantB]) expect((await as(t)('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10.00' })).status).toBe(201);
  expect((await as(tenantA)('PATCH', '/v1/billing_profile', { legal_name: 'Acme Billing <GmbH>', email: 'ar@acme.test' })).status).toBe(200);
});
afterAll(async () => {
  await stack?.pool.close();
  await api?.stop();
  await smtp?.close();
});

describe('email of issued invoices', () => {
  let invoice: Record<string, any>;

  it('a closed invoice is emailed once, from the issuer, with its PDF attached', async () => {
    smtp.reset();
    invoice = await invoiceFor(tenantA, { id: 'acme', email: 'ap@customer.test' });
    await close();
    const [row, ...more] = await rowsOf(invoice.id as string);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ kind: 'invoice.finalized', dedup_key: `invoice.finalized:${invoice.id}`, status: 'pending', recipient: 'ap@customer.test' });
    expect(row!.message_id).toMatch(/^<ml_[0-9a-z]+@tally\.test>$/);

    await drain();
    await drain();
    const got = receivedBy('ap@customer.test');
    expect(got).toHaveLength(1);
    const mail = got[0]!.mail;
    expect(mail.from?.value).toEqual([{ name: 'Acme Billing <GmbH>', address: FROM }]);
    expect(mail.replyTo?.value).toEqual([{ name: '', address: 'ar@acme.test' }]);
    expect(mail.messageId).toBe(row!.message_id);
    expect(mail.subject).toBe(`Invoice ${invoice.number} from Acme Billing <GmbH>`);
    expect(mail.text).toContain('Amount due: $10.00');
    // The issuer's name is escaped in the HTML.
    expect(mail.html).toContain('Acme Billing &lt;GmbH&gt;');
    expect(mail.html).not.toContain('<GmbH>');
    // A link to the invoice's hosted page, which opens it.
    const link = /View and pay the invoice online: (\S+)/.exec(mail.text!)![1]!;
    expect(link).toMatch(new RegExp(`^${api.stores.config.documents.publicUrl}/i/[A-Za-z0-9_-]{43}$`));
    expect(mail.html).toContain(`href="${link}"`);
    const page = await fetch(`${api.url}${new URL(link).pathname}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(invoice.number);
    expect(mail.attachments.map((a) => [a.filename, a.contentType])).toEqual([[`${invoice.number}.pdf`, 'application/pdf']]);
    const pdf = mail.attachments[0]!.content;
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    if (existsSync('/usr/bin/pdftotext')) expect(await pdfText(pdf)).toContain(invoice.number);

    expect(await rowsOf(invoice.id as string)).toEqual([expect.objectContaining({ status: 'sent', attempts: 1, sent_at: expect.any(Date), last_error: null })]);
    expect(await metric('tally_mail_sent_total', { kind: 'invoice.finalized' })).toBeGreaterThanOrEqual(1);
  });

  it('a credit note is emailed with its own PDF', async () => {
    const note = await as(tenantA)('POST', `/v1/invoices/${invoice.id}/credit_notes`, { amount: '2.50', reason: 'order_change' });
    expect(note.status).toBe(201);
    await drain();
    const mails = receivedBy('ap@customer.test').filter((r) => r.mail.subject?.startsWith('Credit note'));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.mail.subject).toBe(`Credit note ${note.body.number} for invoice ${invoice.number} from Acme Billing <GmbH>`);
    expect(mails[0]!.mail.text).toContain('Amount credited: $2.50');
    expect(mails[0]!.mail.text).toContain('Amount due on the invoice: $7.50');
    expect(mails[0]!.mail.attachments.map((a) => a.filename)).toEqual([`${note.body.number}.pdf`]);
    expect(mails[0]!.mail.attachments[0]!.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });

  it('a customer without an email address gets nothing, and that is counted', async () => {
    const before = await metric('tally_mail_skipped_total', { reason: 'no_recipient' });
    const quiet = await invoiceFor(tenantA, { id: 'quiet' });
    expect(await rowsOf(quiet.id as string)).toEqual([]);
    expect(await metric('tally_mail_skipped_total', { reason: 'no_recipient' })).toBe(before + 1);
  });
});

describe('delivery through SMTP trouble', () => {
  it('4xx at MAIL FROM, then at RCPT TO, then accepted: the mail arrives once', async () => {
    const inv = await invoiceFor(tenantA, { id: 'busy', email: 'busy@customer.test' });
    const retriesBefore = await metric('tally_mail_retries_total');
    smtp.reset({ mailFrom: (n) => (n === 1 ? 451 : undefined), rcptTo: (_a, n) => (n === 1 ? 452 : undefined) });
    await drain();
    expect(receivedBy('busy@customer.test')).toHaveLength(1);
    expect(await rowsOf(inv.id as string)).toEqual([expect.objectContaining({ status: 'sent', attempts: 3 })]);
    expect(await metric('tally_mail_retries_total')).toBe(retriesBefore + 2);
  });

  it('a connection dropped at connect and one dropped mid-DATA before the reply: the mail arrives once', async () => {
    const inv = await invoiceFor(tenantA, { id: 'dropped', email: 'dropped@customer.test' });
    smtp.reset({ connect: (n) => (n === 1 ? 'drop' : undefined), data: (n) => (n === 1 ? 'drop' : undefined) });
    await drain();
    expect(smtp.counts).toMatchObject({ connect: 3, data: 2 });
    expect(receivedBy('dropped@customer.test')).toHaveLength(1);
    const [row] = await rowsOf(inv.id as string);
    expect(row).toMatchObject({ status: 'sent', attempts: 3 });
    expect(receivedBy('dropped@customer.test')[0]!.mail.messageId).toBe(row!.message_id);
  });

  it("a 5xx for a recipient fails that mail with the reason, counted, and other tenants' mails go on", async () => {
    smtp.reset({ rcptTo: (address) => (address === 'gone@customer.test' ? 550 : undefined) });
    const failuresBefore = await metric('tally_loop_item_failures_total', { loop: 'mail' });
    const failedBefore = await metric('tally_mail_failed_total', { kind: 'invoice.finalized' });
    // Both invoices are closed (and their mails written) before either is sent.
    await as(tenantB)('POST', '/v1/customers', { id: 'gone', name: 'Gone', currency: 'USD', email: 'gone@customer.test' });
    await as(tenantB)('POST', '/v1/subscriptions', { customer: 'gone', plan: 'basic', start_date: start.toISOString() });
    const fine = await invoiceFor(tenantA, { id: 'fine', email: 'fine@customer.test' });
    const gone = (await as(tenantB)('GET', '/v1/invoices?customer=gone')).body.data[0];
    await drain();
    expect(receivedBy('fine@customer.test')).toHaveLength(1);
    expect(receivedBy('gone@customer.test')).toHaveLength(0);
    expect(await rowsOf(fine.id as string)).toEqual([expect.objectContaining({ status: 'sent' })]);
    expect(await rowsOf(gone.id as string)).toEqual([expect.objectContaining({ status: 'failed', attempts: 1, last_error: expect.stringContaining('550') })]);
    expect(await metric('tally_mail_failed_total', { kind: 'invoice.finalized' })).toBe(failedBefore + 1);
    expect(await metric('tally_loop_item_failures_total', { loop: 'mail' })).toBe(failuresBefore + 1);
  });
});

describe('fairness between tenants', () => {
  it("one tenant's batch of mails does not hold up another's: each tenant's first goes in the first batch", async () => {
    smtp.reset();
    const from = smtp.received.length;
    // Tenant A's four mails are written before tenant B's one.
    for (const n of [1, 2, 3, 4]) await as(tenantA)('POST', '/v1/customers', { id: `bulk-${n}`, name: `Bulk ${n}`, currency: 'USD', email: `bulk-${n}@customer.test` });
    for (const n of [1, 2, 3, 4]) await as(tenantA)('POST', '/v1/subscriptions', { customer: `bulk-${n}`, plan: 'basic', start_date: start.toISOString() });
    await close();
    await invoiceFor(tenantB, { id: 'small', email: 'small@customer.test' });
    await drain(api.stores.postgres, sender(api.stores.postgres, { concurrency: 2 }));
    const got = smtp.received.slice(from);
    expect(got).toHaveLength(5);
    expect(got.slice(0, 2).flatMap((r) => r.to)).toContain('small@customer.test');
  });
});

describe('overdue reminders', () => {
  it('one per open send_invoice invoice past its due date, enqueued once; none once it is paid', async () => {
    smtp.reset();
    const net = await invoiceFor(tenantA, { id: 'net', email: 'net@customer.test', collection_method: 'send_invoice', days_until_due: 30 });
    const paid = await invoiceFor(tenantA, { id: 'net-paid', email: 'netpaid@customer.test', collection_method: 'send_invoice', days_until_due: 30 });
    await drain();
    // Not due yet: only the invoices went out.
    expect((await rowsOf(net.id as string)).map((r) => r.kind)).toEqual(['invoice.finalized']);
    // The sweep a month on, twice: one reminder each.
    const settings = { stripeSync: false, messageDomain: 'tally.test' };
    expect((await enqueueOverdue(api.stores.postgres, new Date(Date.now() + 31 * DAY), settings)).enqueued).toBe(2);
    expect((await enqueueOverdue(api.stores.postgres, new Date(Date.now() + 31 * DAY), settings)).enqueued).toBe(0);
    expect((await rowsOf(net.id as string)).map((r) => r.dedup_key)).toEqual([`invoice.finalized:${net.id}`, `invoice.overdue:${net.id}`]);
    expect((await as(tenantA)('POST', `/v1/invoices/${paid.id}/mark_paid`, { method: 'bank_transfer' })).status).toBe(200);
    await drain(api.stores.postgres, sender(api.stores.postgres, { clock: () => Date.now() + 31 * DAY }));
    const reminders = receivedBy('net@customer.test').filter((r) => r.mail.subject?.endsWith('is overdue'));
    expect(reminders).toHaveLength(1);
    expect(reminders[0]!.mail.text).toContain('Due date:');
    expect(receivedBy('netpaid@customer.test').map((r) => r.mail.subject)).toEqual([`Invoice ${paid.number} from Acme Billing <GmbH>`]);
    // Its reminder was written while it was open, and canceled when it was paid.
    expect((await rowsOf(paid.id as string)).map((r) => [r.kind, r.status])).toEqual([
      ['invoice.finalized', 'sent'],
      ['invoice.overdue', 'canceled'],
    ]);
  });
});

describe('invoices held for review', () => {
  it('are emailed when approved, not when closed as drafts', async () => {
    const review = await startTestApi({ env: { TALLY_SMTP_URL: smtp.url, TALLY_MAIL_FROM: FROM, TALLY_INVOICE_REVIEW: 'true' } });
    const reviewStack = createRatingStack(review.stores.config, review.stores, createRegistry());
    try {
      smtp.reset();
      const t = await review.tenant('mail-review');
      const call = (method: string, p: string, body?: unknown) => jsonRequest(review.url, t.auth, method, p, body);
      await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10.00' });
      for (const id of ['kept', 'rejected']) {
        await call('POST', '/v1/customers', { id, name: id, currency: 'USD', email: `${id}@review.test` });
        await call('POST', '/v1/subscriptions', { customer: id, plan: 'basic', start_date: start.toISOString() });
      }
      await testAggregator(review).runOnce();
      await reviewStack.billing.close(closeAt);
      const [kept, rejected] = (await Promise.all(['kept', 'rejected'].map(async (c) => (await call('GET', `/v1/invoices?customer=${c}`)).body.data[0] as Record<string, any>))) as [
        Record<string, any>,
        Record<string, any>,
      ];
      expect([kept.status, rejected.status]).toEqual(['draft', 'draft']);
      expect((await review.stores.postgres.query('SELECT 1 FROM mail_outbox')).rowCount).toBe(0);
      expect((await call('POST', `/v1/invoices/${kept.id}/approve`, {})).status).toBe(200);
      expect((await call('POST', `/v1/invoices/${rejected.id}/void`, {})).status).toBe(200);
      expect((await rowsOf(kept.id as string, review.stores.postgres)).map((r) => r.kind)).toEqual(['invoice.finalized']);
      await drain(review.stores.postgres);
      const number = (await call('GET', `/v1/invoices/${kept.id}`)).body.number as string;
      expect(receivedBy('kept@review.test').map((r) => r.mail.subject)).toEqual([`Invoice ${number} from mail-review`]);
      expect(receivedBy('rejected@review.test')).toEqual([]);
    } finally {
      await reviewStack.pool.close();
      await review.stop();
    }
  });
});

describe('with no SMTP server configured', () => {
  it('nothing is enqueued and there is no mail loop', async () => {
    const plain = await startTestApi();
    const plainStack = createRatingStack(plain.stores.config, plain.stores, createRegistry());
    try {
      const t = await plain.tenant('no-mail');
      const call = (method: string, p: string, body?: unknown) => jsonRequest(plain.url, t.auth, method, p, body);
      await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '10.00' });
      await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD', email: 'ap@customer.test' });
      await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: start.toISOString() });
      await testAggregator(plain).runOnce();
      expect((await plainStack.billing.close(closeAt)).invoices).toBe(1);
      const inv = (await call('GET', '/v1/invoices?customer=acme')).body.data[0];
      expect((await call('POST', `/v1/invoices/${inv.id}/credit_notes`, { amount: '1.00', reason: 'order_change' })).status).toBe(201);
      expect((await plain.stores.postgres.query('SELECT 1 FROM mail_outbox')).rowCount).toBe(0);
      expect(createMailSender(plain.stores.config, plain.stores, createLogger(plain.stores.config), createRegistry())).toBeUndefined();
      expect(mailHooks(plain.stores.config, createRegistry(), createLogger(plain.stores.config))).toEqual({ close: [], invoiceChange: [], creditNote: [], stripeInvoice: [] });
    } finally {
      await plainStack.pool.close();
      await plain.stop();
    }
  });
});

describe('invoices Stripe collects', () => {
  let b: StripeBilling;
  beforeAll(async () => {
    b = await startStripeBilling({ tenant: 'mail-stripe', env: { TALLY_SMTP_URL: smtp.url, TALLY_MAIL_FROM: FROM } });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('Tally sends the invoice of a card customer and each failed payment; Stripe sends send_invoice invoices and their credit notes', async () => {
    smtp.reset();
    await b.call('POST', '/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '49.00' });
    const customers = { card: 'pm_card_visa', decline: 'pm_card_chargeCustomerFail' };
    for (const [id, card] of Object.entries(customers)) {
      await b.call('POST', '/v1/customers', { id, name: id, currency: 'USD', email: `${id}@stripe-customer.test` });
      const link = await b.call('POST', `/v1/customers/${id}/payment_method_link`, { return_url: 'https://app.example/billing' });
      b.fake.portalAddPaymentMethod(/\/(bps_[A-Za-z0-9]+)/.exec(link.body.url as string)![1]!, card);
    }
    await b.call('POST', '/v1/customers', { id: 'net', name: 'Net', currency: 'USD', email: 'net@stripe-customer.test', collection_method: 'send_invoice', days_until_due: 30 });
    for (const id of ['card', 'decline', 'net']) await b.call('POST', '/v1/subscriptions', { customer: id, plan: 'pro', start_date: start.toISOString() });
    await b.fake.webhooks.idle();
    await b.close(closeAt);
    await b.syncAndDeliver();
    const [card, decline, net] = (await Promise.all(['card', 'decline', 'net'].map(async (c) => (await b.invoicesOf(c))[0]))) as [Record<string, any>, Record<string, any>, Record<string, any>];
    const pg = b.api.stores.postgres;
    expect((await rowsOf(card.id as string, pg)).map((r) => r.kind)).toEqual(['invoice.finalized']);
    expect((await rowsOf(net.id as string, pg)).map((r) => r.kind)).toEqual([]);
    const declined = await rowsOf(decline.id as string, pg);
    expect(declined.map((r) => r.kind)).toEqual(['invoice.finalized', 'invoice.payment_failed']);
    expect(declined[1]!.dedup_key).toMatch(new RegExp(`^invoice\\.payment_failed:${decline.id as string}:evt_`));
    // Stripe emails the credit note of an invoice it sends.
    expect((await b.call('POST', `/v1/invoices/${net.id}/credit_notes`, { amount: '5.00', reason: 'order_change' })).status).toBe(201);
    expect((await rowsOf(net.id as string, pg)).map((r) => r.kind)).toEqual([]);

    await drain(pg, sender(pg, { stripeSync: true }));
    expect(receivedBy('net@stripe-customer.test')).toEqual([]);
    expect(receivedBy('card@stripe-customer.test').map((r) => r.mail.subject)).toEqual([`Invoice ${card.number} from mail-stripe`]);
    const failed = receivedBy('decline@stripe-customer.test').map((r) => r.mail);
    const subject = (prefix: string) => failed.find((m) => m.subject?.startsWith(prefix));
    expect(failed.map((m) => m.subject).sort()).toEqual([`Invoice ${decline.number} from mail-stripe`, `Payment failed for invoice ${decline.number} from mail-stripe`]);
    expect(subject('Invoice')!.text).toContain('will be charged to your payment method on file');
    expect(subject('Payment failed')!.text).toContain('Please update your card or payment method');
  });
});

async function pdfText(pdf: Buffer): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tally-mail-pdf-'));
  try {
    const file = path.join(dir, 'invoice.pdf');
    writeFileSync(file, pdf);
    return (await promisify(execFile)('pdftotext', [file, '-'])).stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
