import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../core/config.js';
import { tallySends, stillDue, type MailKind } from '../../mail/rules.js';
import { escapeHtml, renderMail, type MailView } from '../../mail/templates.js';
import { refusal } from '../../mail/transport.js';

/** Customer email, the pure parts: who sends what, the words of each mail, how a refusal is read, its settings. */
const view = (over: Partial<MailView> = {}): MailView => ({
  kind: 'invoice.finalized',
  issuer: 'Acme GmbH',
  customerName: 'Initech',
  invoiceNumber: 'ACME-0042',
  total: '$329.00',
  amountDue: '$329.00',
  dueDate: 'Dec 31, 2026',
  chargedAutomatically: false,
  paid: false,
  hostedUrl: 'https://pay.example/in_1',
  attached: true,
  ...over,
});

describe('the mail templates', () => {
  it.each([
    ['invoice.finalized', {}, 'Invoice ACME-0042 from Acme GmbH', ['Total: $329.00', 'Amount due: $329.00', 'Due date: Dec 31, 2026', 'Please pay it by the due date.']],
    ['invoice.finalized', { chargedAutomatically: true }, 'Invoice ACME-0042 from Acme GmbH', ['will be charged to your payment method on file']],
    ['invoice.finalized', { dueDate: null }, 'Invoice ACME-0042 from Acme GmbH', ['Payment is due on receipt.']],
    ['invoice.finalized', { paid: true, amountDue: '$0.00' }, 'Invoice ACME-0042 from Acme GmbH', ['This invoice is paid: nothing is due.', 'Amount due: $0.00']],
    ['invoice.overdue', {}, 'Invoice ACME-0042 from Acme GmbH is overdue', ['past its due date and still unpaid', 'Due date: Dec 31, 2026', 'Pay the invoice online: https://pay.example/in_1']],
    ['invoice.payment_failed', {}, 'Payment failed for invoice ACME-0042 from Acme GmbH', ['Please update your card or payment method', 'Amount due: $329.00']],
    ['credit_note.created', { creditNote: { number: 'ACME-0042-CN1', amount: '$29.00' } }, 'Credit note ACME-0042-CN1 for invoice ACME-0042 from Acme GmbH', ['Amount credited: $29.00', 'The credit note is attached as a PDF.']],
  ] as const)('%s %j: subject and text', (kind, over, subject, lines) => {
    const m = renderMail(view({ kind: kind, ...over }));
    expect(m.subject, 'subject').toBe(subject);
    for (const line of lines) expect(m.text, `text has "${line}"`).toContain(line);
    expect(m.text, 'signed by the issuer').toContain('Thank you,\nAcme GmbH');
  });

  it('escapes every value in the HTML, the link included', () => {
    const m = renderMail(view({ issuer: 'A&B <script>alert(1)</script>', customerName: '"Bob" \'O\'', hostedUrl: 'https://pay.example/?a=1&b="x"' }));
    expect(m.html).not.toContain('<script>');
    expect(m.html).toContain('A&amp;B &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(m.html).toContain('Hello &quot;Bob&quot; &#39;O&#39;,');
    expect(m.html).toContain('href="https://pay.example/?a=1&amp;b=&quot;x&quot;"');
    // The plain text is text: nothing to escape.
    expect(m.text).toContain('A&B <script>alert(1)</script>');
  });

  it.each([
    ['javascript:alert(1)', false],
    ['data:text/html,x', false],
    ['not a url', false],
    ['http://pay.example/x', true],
  ])('a hosted link %s is shown: %s', (url, shown) => {
    const m = renderMail(view({ hostedUrl: url }));
    expect(m.text.includes(url)).toBe(shown);
    expect(m.html.includes('href=')).toBe(shown);
  });

  it('keeps the subject on one line whatever the names hold', () => {
    expect(renderMail(view({ issuer: 'Acme\r\nBcc: x@evil.test' })).subject).toBe('Invoice ACME-0042 from Acme Bcc: x@evil.test');
  });

  it('escapes the five HTML characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});

describe('who sends which mail', () => {
  const kinds: MailKind[] = ['invoice.finalized', 'credit_note.created', 'invoice.payment_failed', 'invoice.overdue'];
  it.each([
    ['tally', 'charge_automatically', ['invoice.finalized', 'credit_note.created', 'invoice.payment_failed']],
    ['tally', 'send_invoice', ['invoice.finalized', 'credit_note.created', 'invoice.payment_failed', 'invoice.overdue']],
    // Stripe charges silently: Tally sends the invoice and failure notices.
    ['stripe_invoice', 'charge_automatically', ['invoice.finalized', 'invoice.payment_failed']],
    // Stripe emails the invoice, its reminders and credit notes itself.
    ['stripe_invoice', 'send_invoice', ['invoice.payment_failed']],
    ['stripe_meter', 'charge_automatically', []],
    ['stripe_meter', 'send_invoice', []],
  ] as const)('%s, %s: %j', (collector, collection, expected) => {
    expect(kinds.filter((k) => tallySends(k, collector, collection))).toEqual(expected);
  });

  it.each([
    ['invoice.finalized', 'open', true],
    ['invoice.finalized', 'paid', true],
    ['invoice.finalized', 'void', false],
    ['credit_note.created', 'paid', true],
    ['invoice.overdue', 'open', true],
    ['invoice.overdue', 'paid', false],
    ['invoice.overdue', 'uncollectible', false],
    ['invoice.payment_failed', 'paid', false],
  ] as const)('a %s mail about an invoice now %s still goes out: %s', (kind, status, expected) => {
    expect(stillDue(kind, status)).toBe(expected);
  });
});

describe('reading an SMTP refusal', () => {
  const err = (fields: Record<string, unknown>) => Object.assign(new Error('failed'), fields);
  it.each([
    ['550 for the recipient', err({ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 550, permanent: true }), true],
    ['552 for the content', err({ code: 'EMESSAGE', command: 'DATA', responseCode: 552, permanent: true }), true],
    ['an address nodemailer refuses', err({ code: 'EENVELOPE', command: 'API' }), true],
    ['452 for the recipient', err({ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 452, permanent: false }), false],
    ['451 at MAIL FROM', err({ code: 'EENVELOPE', command: 'MAIL FROM', responseCode: 451, permanent: false }), false],
    // The sender refused is the server's configuration, not this mail: it must not fail every mail.
    ['553 at MAIL FROM', err({ code: 'EENVELOPE', command: 'MAIL FROM', responseCode: 553, permanent: true }), false],
    ['535 login refused', err({ code: 'EAUTH', command: 'AUTH PLAIN', responseCode: 535, permanent: true }), false],
    ['a refused connection', err({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' }), false],
    ['a dropped connection', err({ code: 'ECONNECTION', command: 'CONN' }), false],
    ['a timeout', err({ code: 'ETIMEDOUT' }), false],
    ['something else entirely', new TypeError('x'), false],
  ])('%s: permanent %s', (_what, e, permanent) => {
    expect(refusal(e).permanent).toBe(permanent);
  });

  it('keeps the code and message as the reason', () => {
    expect(refusal(err({ code: 'EENVELOPE', command: 'RCPT TO', permanent: true })).reason).toBe('EENVELOPE: failed');
  });
});

describe('the email settings', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env, '/srv');
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.map((p) => `${p.variable}: ${p.message}`);
      throw e;
    }
  };

  it('are off by default', () => {
    expect(loadConfig({}, '/srv').mail).toEqual({ smtpUrl: undefined, from: undefined, timeoutMs: 30_000, intervalMs: 5_000 });
  });

  it('read a server and a sender', () => {
    expect(loadConfig({ TALLY_SMTP_URL: 'smtps://u:p@mail.example:465', TALLY_MAIL_FROM: ' billing@example.com ' }, '/srv').mail).toMatchObject({
      smtpUrl: 'smtps://u:p@mail.example:465',
      from: 'billing@example.com',
    });
  });

  it.each([
    [{ TALLY_SMTP_URL: 'smtp://mail.example:587' }, 'TALLY_MAIL_FROM: must be set when TALLY_SMTP_URL is: the address customer email is sent from'],
    [{ TALLY_SMTP_URL: 'http://u:secret@mail.example', TALLY_MAIL_FROM: 'a@b.co' }, 'TALLY_SMTP_URL: must be a URL with scheme smtp or smtps (got "http:")'],
    [{ TALLY_MAIL_FROM: 'Billing <billing@example.com>' }, 'TALLY_MAIL_FROM: must be an email address such as billing@example.com (got "Billing <billing@example.com>")'],
    [{ TALLY_MAIL_TIMEOUT_MS: '10' }, 'TALLY_MAIL_TIMEOUT_MS: must be a whole number from 1000 to 600000 (got "10")'],
  ])('refuse %j', (env, message) => {
    expect(problems(env)).toEqual([message]);
  });

  it('never show the password of a refused server URL', () => {
    expect(problems({ TALLY_SMTP_URL: 'ftp://user:hunter2@mail.example', TALLY_MAIL_FROM: 'a@b.co' }).join()).not.toContain('hunter2');
  });
});
