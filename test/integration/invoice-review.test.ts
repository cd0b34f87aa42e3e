import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { period } from '../../catalog/periods.js';
import { type StripeBilling, startStripeBilling } from '../support/stripe-billing.js';

/**
 * TALLY_INVOICE_REVIEW: closed invoices wait as drafts (no number, nothing in Stripe, not
 * final) until finance approves them; approving numbers one and sends it to Stripe, which
 * collects it; a draft voided in review never takes a number, so the sequence has no gap.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

const RACES = ['race1', 'race2', 'race3'];

let b: StripeBilling;
const call = (method: string, path: string, body?: unknown) => b.call(method, path, body);
const invoiceOf = async (customer: string) => (await b.invoicesOf(customer))[0]!;
const eventsOf = async (type: string) => (await b.events(type)).map((e) => e.data.id);

beforeAll(async () => {
  b = await startStripeBilling({ tenant: 'review', env: { TALLY_INVOICE_REVIEW: 'true' } });
  expect(b.api.stores.config.rater.invoiceReview).toBe(true);
  await call('POST', '/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '20.00' });
  for (const c of ['keep', 'reject', 'third', 'preview', ...RACES]) {
    await call('POST', '/v1/customers', { id: c, name: c, currency: 'USD', collection_method: 'send_invoice', days_until_due: 14 });
    await call('POST', '/v1/subscriptions', { customer: c, plan: 'pro', start_date: start.toISOString() });
  }
  await b.close(new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000));
});
afterAll(async () => {
  await b?.stop();
});

describe('invoice review', () => {
  it('closed invoices are drafts: no number, not in Stripe, not final', async () => {
    for (const c of ['keep', 'reject', 'third']) expect(await invoiceOf(c)).toMatchObject({ status: 'draft', number: null, total: '20.00' });
    expect((await b.sync.runOnce()).claimed).toBe(0);
    expect(b.fake.state.invoices()).toEqual([]);
    expect(await eventsOf('invoice.created')).toHaveLength(4 + RACES.length);
    expect(await eventsOf('invoice.finalized')).toEqual([]);
    // Credit notes, payments and write-offs are for issued invoices.
    const draft = await invoiceOf('keep');
    expect((await call('POST', `/v1/invoices/${draft.id}/mark_paid`, { method: 'cheque' })).status).toBe(409);
    expect((await call('POST', `/v1/invoices/${draft.id}/credit_notes`, { amount: '1.00', reason: 'duplicate' })).status).toBe(409);
  });

  it('a draft rejected in review is voided without a number; approved ones are numbered without a gap, sent and collected', async () => {
    const rejected = await invoiceOf('reject');
    expect((await call('POST', `/v1/invoices/${rejected.id}/void`, { reason: 'wrong plan' })).body).toMatchObject({ status: 'void', number: null });
    const kept = await call('POST', `/v1/invoices/${(await invoiceOf('keep')).id}/approve`, {});
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ status: 'open', number: expect.stringMatching(/-0001$/) });
    const third = await call('POST', `/v1/invoices/${(await invoiceOf('third')).id}/approve`, {});
    expect(third.body.number).toMatch(/-0002$/);
    expect((await call('POST', `/v1/invoices/${kept.body.id}/approve`, {})).status).toBe(200);
    expect((await b.sync.runOnce()).done).toBe(3);
    await b.fake.webhooks.idle();
    expect(b.fake.state.invoices().map((i) => [i.number, i.status, i.collection_method]).sort()).toEqual([
      [kept.body.number, 'open', 'send_invoice'],
      [third.body.number, 'open', 'send_invoice'],
    ]);
    expect((await eventsOf('invoice.finalized')).sort()).toEqual([kept.body.id, third.body.id].sort());
    expect((await invoiceOf('keep')).due_at).not.toBeNull();
  });

  it('each finance action answers with the invoice as it left it, whatever runs beside it', async () => {
    for (const c of RACES) {
      const id = (await invoiceOf(c)).id;
      const sent = ['approve', 'approve', 'approve', 'void'].map((a) => ({ a, r: call('POST', `/v1/invoices/${id}/${a}`, a === 'void' ? { reason: 'race' } : {}) }));
      const answers = await Promise.all(sent.map(async ({ a, r }) => ({ a, ...(await r) })));
      for (const { a, status, body } of answers) {
        if (status === 409) {
          expect(a).toBe('approve');
          continue;
        }
        expect(status).toBe(200);
        expect([a, body.status]).toEqual([a, a === 'void' ? 'void' : 'open']);
      }
      expect((await invoiceOf(c)).status).toBe('void');
    }
  });

  it("a draft's PDF shows the issuer as the billing profile stands, as approving it will stamp it", async () => {
    expect((await call('PATCH', '/v1/billing_profile', { legal_name: 'Review Issuer GmbH', tax_id: 'DE123456789' })).status).toBe(200);
    const draft = await invoiceOf('preview');
    expect(draft).toMatchObject({ status: 'draft', issuer: null });
    const text = async () => {
      const res = await fetch(`${b.api.url}/v1/invoices/${draft.id}/pdf`, { headers: b.tenant.auth });
      expect(res.status).toBe(200);
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'draft-pdf-')), 'draft.pdf');
      writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      return execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
    };
    const before = await text();
    expect(before).toContain('Review Issuer GmbH');
    expect(before).toContain('DE123456789');
    const approved = await call('POST', `/v1/invoices/${draft.id}/approve`, {});
    expect(approved.body.issuer).toMatchObject({ legal_name: 'Review Issuer GmbH', tax_id: 'DE123456789' });
    expect(await text()).toContain('Review Issuer GmbH');
  });
});
