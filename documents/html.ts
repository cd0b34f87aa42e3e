import { createHash } from 'node:crypto';
import type { InvoiceDocument } from './invoice-document.js';

/**
 * An invoice document as a web page, as a pure function: the same words and figures as its
 * PDF (both draw one `InvoiceDocument`), readable on a phone and printable, with no script and
 * nothing from elsewhere (its one stylesheet is inline and allowed by its hash). Every text is
 * escaped: names may hold markup characters, quotes or ill-formed Unicode.
 */
export interface PageLinks {
  /** The document's PDF. */
  pdf: string;
  /** The tenant's logo, when it has one. */
  logo: string | null;
  /** Where the customer pays it (Stripe's page), while it is open and Stripe collects it. */
  pay: string | null;
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1b1f24;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:54rem;margin:0 auto;padding:1.5rem 1rem}
.sheet{background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:flex-start;gap:1rem;margin-bottom:1.5rem}
.logo{display:block;max-width:12rem;max-height:4rem}
h1{margin:0;font-size:1.75rem;line-height:1.2}
.stamp{display:inline-block;margin:.5rem 0 0;padding:0 .5rem;border:2px solid #9b1c1c;border-radius:4px;color:#9b1c1c;font-weight:700;text-transform:uppercase;letter-spacing:.05em}
h2{margin:0 0 .25rem;color:#4b5563;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em}
.parties{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1.5rem;margin-bottom:1.5rem}
.parties p{margin:0}
.name{font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 1.5rem}
dt{color:#4b5563}
dd{margin:0}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-bottom:1.5rem}
.button{display:inline-block;padding:.6rem 1.25rem;border:2px solid #1d4ed8;border-radius:6px;color:#1d4ed8;font-weight:600;text-decoration:none}
.button.pay{background:#1d4ed8;color:#fff}
a:focus-visible{outline:3px solid #b45309;outline-offset:2px}
.lines{overflow-x:auto}
table{width:100%;border-collapse:collapse}
caption{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
th,td{padding:.5rem;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
thead th{color:#4b5563;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em}
tbody th{font-weight:400}
.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
tr.detail th{padding-left:1.5rem}
tr.detail th,tr.detail td{color:#4b5563;font-size:.9rem}
tfoot th{text-align:right;font-weight:400}
tfoot tr:first-child th,tfoot tr:first-child td{border-top:2px solid #9ca3af}
tfoot tr.strong th,tfoot tr.strong td{font-weight:700}
.notes{margin:1.5rem 0 0}
footer{margin-top:2rem;color:#4b5563;font-size:.875rem;white-space:pre-line}
@media (max-width:40rem){
body{font-size:15px}
main{padding:0}
.sheet{border-radius:0;box-shadow:none;padding:1rem}
table,tbody,tfoot{display:block}
thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
tbody tr{display:grid;grid-template-columns:auto auto 1fr;column-gap:.75rem;padding:.5rem 0;border-bottom:1px solid #e5e7eb}
tbody th,tbody td{padding:0;border:0}
tbody th{grid-column:1/-1}
tbody td:empty{display:none}
tbody td[data-label]::before{content:attr(data-label) " ";color:#4b5563;font-size:.8rem}
tbody td:last-child{grid-column:-2/-1}
tr.detail{padding-left:.75rem}
tr.detail th{padding-left:0}
tfoot tr{display:grid;grid-template-columns:1fr auto;column-gap:.75rem;border-bottom:1px solid #e5e7eb}
tfoot tr:first-child{border-top:2px solid #9ca3af}
tfoot th,tfoot td,tfoot tr:first-child th,tfoot tr:first-child td{border:0;padding:.4rem 0}
}
@media print{
body{background:#fff;font-size:11pt}
main{max-width:none;padding:0}
.sheet{box-shadow:none;padding:0}
.actions{display:none}
.lines{overflow:visible}
tr{break-inside:avoid}
}
`.trim();

/** The one Content-Security-Policy of the hosted pages: this stylesheet, images of its own origin, nothing else. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`,
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function invoicePage(doc: InvoiceDocument, links: PageLinks): string {
  const l = doc.labels;
  const heading = doc.number === null ? doc.title : `${doc.title} ${doc.number}`;
  const party = (label: string, p: InvoiceDocument['issuer']) =>
    `<section><h2>${esc(label)}</h2><p class="name">${esc(p.name)}</p>${p.lines.map((line) => `<p>${esc(line)}</p>`).join('')}</section>`;
  const row = (r: InvoiceDocument['rows'][number]) =>
    `<tr${r.level === 1 ? ' class="detail"' : ''}><th scope="row">${esc(r.description)}</th><td class="num" data-label="${esc(l.quantity)}">${esc(r.quantity)}</td><td class="num" data-label="${esc(l.unitPrice)}">${esc(r.unitPrice)}</td><td class="num">${esc(r.amount)}</td></tr>`;
  const total = (t: InvoiceDocument['totals'][number]) => `<tr${t.strong ? ' class="strong"' : ''}><th scope="row" colspan="3">${esc(t.label)}</th><td class="num">${esc(t.value)}</td></tr>`;
  const actions = [
    ...(links.pay === null ? [] : [`<a class="button pay" href="${esc(links.pay)}" rel="noopener noreferrer">${esc(l.payOnline)}</a>`]),
    `<a class="button" href="${esc(links.pdf)}" download>${esc(l.downloadPdf)}</a>`,
  ];
  return [
    '<!doctype html>',
    `<html lang="${esc(doc.language)}">`,
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex, nofollow">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${esc(`${heading} · ${doc.issuer.name}`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    '<article class="sheet">',
    '<header>',
    `<div><h1>${esc(heading)}</h1>${doc.stamp === null ? '' : `<p class="stamp">${esc(doc.stamp)}</p>`}</div>`,
    links.logo === null ? '' : `<img class="logo" src="${esc(links.logo)}" alt="${esc(doc.issuer.name)}">`,
    '</header>',
    `<div class="parties">${party(l.from, doc.issuer)}${party(l.billTo, doc.billTo)}</div>`,
    `<dl>${doc.meta.map((m) => `<dt>${esc(m.label)}</dt><dd>${esc(m.value)}</dd>`).join('')}</dl>`,
    `<div class="actions">${actions.join('')}</div>`,
    // On a narrow screen each line is a block (its description, then its figures, labelled);
    // should a figure still not fit, the table scrolls sideways, from the keyboard too.
    `<div class="lines" role="region" aria-label="${esc(heading)}" tabindex="0">`,
    '<table>',
    `<caption>${esc(heading)}</caption>`,
    `<thead><tr><th scope="col">${esc(l.description)}</th><th scope="col" class="num">${esc(l.quantity)}</th><th scope="col" class="num">${esc(l.unitPrice)}</th><th scope="col" class="num">${esc(l.amount)}</th></tr></thead>`,
    `<tbody>${doc.rows.map(row).join('')}</tbody>`,
    `<tfoot>${doc.totals.map(total).join('')}</tfoot>`,
    '</table>',
    '</div>',
    doc.notes.map((n) => `<p class="notes">${esc(n)}</p>`).join(''),
    doc.footer === null ? '' : `<footer>${esc(doc.footer)}</footer>`,
    '</article>',
    '</main>',
    '</body>',
    '</html>',
  ].join('\n');
}

/** The page of a link that opens nothing: never known (404), or expired or revoked (410). */
export function linkErrorPage(status: 404 | 410): string {
  const [title, text] =
    status === 410
      ? ['This link has expired', 'This invoice link has expired or was withdrawn. Ask the sender of the invoice for a new link.']
      : ['Page not found', 'There is no invoice at this address. Check that the link is complete, or ask the sender of the invoice for a new link.'];
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex, nofollow">',
    `<title>${title}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<article class="sheet"><h1>${title}</h1><p>${text}</p></article>`,
    '</main>',
    '</body>',
    '</html>',
  ].join('\n');
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** A UTF-16 surrogate without its pair, and control characters HTML does not allow. */
const UNWRITABLE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/** Text as HTML text or a quoted attribute value: what cannot be written becomes U+FFFD. */
export function esc(text: string): string {
  return text.replace(UNWRITABLE, '\uFFFD').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
