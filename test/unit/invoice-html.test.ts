import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, esc, invoicePage, linkErrorPage } from '../../documents/html.js';
import type { InvoiceDocument } from '../../documents/invoice-document.js';
import { labelsFor } from '../../documents/labels.js';

/** The hosted page as a pure function of an invoice document: every text escaped, its only links the ones it is given. */
const HOSTILE = `<img src=x onerror="alert('1')"> & \ud800 \udc00 \u0007`;

function doc(text: string): InvoiceDocument {
  return {
    kind: 'invoice',
    locale: 'fr-FR',
    language: 'fr',
    currency: 'EUR',
    labels: labelsFor('fr-FR'),
    title: `Facture ${text}`,
    number: `N-${text}`,
    stamp: text,
    issuer: { name: text, lines: [text] },
    billTo: { name: text, lines: [text, text] },
    meta: [{ label: text, value: text }],
    rows: [
      { level: 0, description: text, quantity: text, unitPrice: text, amount: text },
      { level: 1, description: text, quantity: '', unitPrice: '', amount: '' },
    ],
    totals: [{ label: text, value: text, strong: true }],
    notes: [text],
    footer: text,
  };
}

describe('the hosted invoice page (html.ts)', () => {
  it.each([
    ['<', '&lt;'],
    ['>', '&gt;'],
    ['&', '&amp;'],
    ['"', '&quot;'],
    ["'", '&#39;'],
    ['\ud800', '\ufffd'],
    ['a\udc00', 'a\ufffd'],
    ['\ud83d\ude00', '\ud83d\ude00'],
    ['\u0000\u0007\u001f\u007f', '\ufffd\ufffd\ufffd\ufffd'],
    ['line\nnext\ttab', 'line\nnext\ttab'],
  ])('writes %j as %j', (text, html) => {
    expect(esc(text)).toBe(html);
  });

  it('writes no text of the document as markup, and no ill-formed Unicode', () => {
    const page = invoicePage(doc(HOSTILE), { pdf: '/i/t/pdf', logo: null, pay: null });
    expect(page).not.toContain('<img');
    expect(page).not.toMatch(/onerror="/);
    expect(page).not.toMatch(/[\ud800-\udfff]/);
    expect(page).toContain('&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; \ufffd \ufffd \ufffd');
    expect(page.match(/&lt;img/g)?.length).toBeGreaterThanOrEqual(15);
  });

  it('is in the document’s language, a table with row and column headers, linking only where it is told', () => {
    const page = invoicePage(doc('x'), { pdf: '/p/i/tok/pdf', logo: '/p/i/tok/logo', pay: 'https://invoice.stripe.com/i/acct_1/test_2?s=a&t=b' });
    expect(page).toMatch(/^<!doctype html>\n<html lang="fr">/);
    expect(page).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(page.match(/<th scope="col"/g)).toHaveLength(4);
    expect(page.match(/<th scope="row"/g)).toHaveLength(3);
    expect(page).toContain('<tr class="detail">');
    expect([...page.matchAll(/\b(?:href|src)="([^"]*)"/g)].map((m) => m[1])).toEqual(['/p/i/tok/logo', 'https://invoice.stripe.com/i/acct_1/test_2?s=a&amp;t=b', '/p/i/tok/pdf']);
    expect(page).toContain(`>${labelsFor('fr-FR').payOnline}</a>`);
    expect(page).not.toMatch(/<script|<link|<iframe|<form|@import|url\(/i);
    const bare = invoicePage(doc('x'), { pdf: '/p/i/tok/pdf', logo: null, pay: null });
    expect([...bare.matchAll(/\b(?:href|src)="([^"]*)"/g)].map((m) => m[1])).toEqual(['/p/i/tok/pdf']);
  });

  it('its stylesheet is the one the Content-Security-Policy allows, by hash', async () => {
    const { createHash } = await import('node:crypto');
    for (const page of [invoicePage(doc('x'), { pdf: 'p', logo: null, pay: null }), linkErrorPage(404), linkErrorPage(410)]) {
      const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
      expect(styles).toHaveLength(1);
      expect(CONTENT_SECURITY_POLICY).toContain(`'sha256-${createHash('sha256').update(styles[0]!).digest('base64')}'`);
      expect(page).not.toMatch(/ style="/);
    }
    expect(CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none'; /);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/script|unsafe/);
  });
});
