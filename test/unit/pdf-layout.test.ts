import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InvoiceDocument } from '../../documents/invoice-document.js';
import { labelsFor } from '../../documents/labels.js';
import { renderPdf } from '../../documents/pdf.js';

/**
 * The PDF's header and its From and Bill-to blocks with every field at its longest: nothing
 * printed over the title or past the page's edge, nothing lost below the bottom of a page.
 * Read back with poppler's pdftotext, word by word with their boxes.
 */
const A4 = { width: 595.28, height: 841.89 };

function document(over: Partial<InvoiceDocument>): InvoiceDocument {
  return {
    kind: 'invoice',
    locale: 'de-DE',
    language: 'de',
    currency: 'EUR',
    labels: labelsFor('de-DE'),
    title: 'Rechnung',
    number: 'ACME-0001',
    stamp: 'Bezahlt',
    issuer: { name: 'Acme', lines: [] },
    billTo: { name: 'Kunde', lines: ['kunde@example.com'] },
    meta: [{ label: 'Rechnungsnummer', value: 'ACME-0001' }],
    rows: [{ level: 0, description: 'Grundgebühr', quantity: '1', unitPrice: '20,00 €', amount: '20,00 €' }],
    totals: [{ label: 'Gesamt', value: '20,00 €', strong: true }],
    notes: [],
    footer: null,
    ...over,
  };
}

interface Word {
  page: number;
  xMin: number;
  yMin: number;
  xMax: number;
  yMax: number;
  text: string;
}

async function words(doc: InvoiceDocument): Promise<Word[]> {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'pdf-layout-')), 'doc.pdf');
  writeFileSync(file, await renderPdf(doc));
  const html = execFileSync('pdftotext', ['-bbox', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
  const out: Word[] = [];
  let page = 0;
  for (const m of html.matchAll(/<page |<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)) {
    if (m[1] === undefined) {
      page++;
      continue;
    }
    out.push({ page, xMin: Number(m[1]), yMin: Number(m[2]), xMax: Number(m[3]), yMax: Number(m[4]), text: m[5]! });
  }
  return out;
}

const overlaps = (a: Word, b: Word) => a.page === b.page && a.xMin < b.xMax && b.xMin < a.xMax && a.yMin < b.yMax && b.yMin < a.yMax;

describe('the PDF header and its blocks with every field at its longest', () => {
  it('a long issuer name is set smaller beside the title, never over it or past the page', async () => {
    const name = 'Müller Industrieanlagen und Maschinenbau Gesellschaft mit beschränkter Haftung';
    const all = await words(document({ issuer: { name, lines: [] } }));
    const title = all.filter((w) => w.page === 1 && (w.text === 'Rechnung' || w.text === 'BEZAHLT'));
    expect(title).toHaveLength(2);
    for (const w of all) {
      expect(w.xMax, w.text).toBeLessThanOrEqual(A4.width - 40);
      for (const t of title) if (!title.includes(w)) expect(overlaps(w, t), `${w.text} over ${t.text}`).toBe(false);
    }
    // The header holds the whole name (on more lines), and so does the From block.
    const header = all.filter((w) => w.page === 1 && w.yMax < 48 + 70 && w.xMax < 48 + 260);
    expect(header.map((w) => w.text).join(' ')).toBe(name);
  });

  it('a name that fits nowhere at 8 pt is cut with an ellipsis in the header, and printed whole below', async () => {
    const name = '漢'.repeat(200);
    const all = await words(document({ issuer: { name, lines: [] } }));
    const header = all.filter((w) => w.page === 1 && w.yMax < 48 + 70 && w.xMax < 48 + 260);
    expect(header.map((w) => w.text).join('')).toMatch(/^漢+…$/);
    const title = all.find((w) => w.text === 'Rechnung')!;
    for (const w of header) expect(overlaps(w, title)).toBe(false);
  });

  it('From and Bill to blocks too long for the first page go on to the next, nothing lost', async () => {
    const long = (n: number) => '漢'.repeat(n);
    const issuer = { name: long(200), lines: [long(200), long(200), `${long(20)} ${long(100)}`, long(100), 'DE', 'USt-IdNr.: DE123456789', 'billing@acme.example'] };
    const billTo = { name: long(200), lines: [long(200), long(200), `${long(20)} ${long(100)}`, long(100), 'Deutschland', 'kunde@example.com'] };
    const all = await words(document({ issuer, billTo }));
    const text = all.map((w) => w.text).join(' ');
    for (const wanted of ['billing@acme.example', 'kunde@example.com', 'DE123456789', 'Deutschland', 'Grundgebühr']) expect(text).toContain(wanted);
    for (const w of all) expect(w.yMax, `${w.text} on page ${w.page}`).toBeLessThanOrEqual(A4.height - 30);
    expect(Math.max(...all.map((w) => w.page))).toBeGreaterThanOrEqual(2);
  });
});
