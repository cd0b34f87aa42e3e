import type { Address } from '../catalog/address.js';
import type { InvoiceLine } from '../invoicing/compose.js';
import type { InvoiceView } from '../invoicing/invoice-view.js';
import type { CreditNoteView } from '../invoicing/credit-notes.js';
import { Dec } from '../core/money.js';
import { Formatter } from './format.js';
import { labelsFor, type Labels } from './labels.js';

/**
 * An invoice or credit note as a document, as a pure core: every word and figure already
 * written for the customer's locale, in the order a page shows them. The PDF (pdf.ts) and the
 * hosted page draw this one value, so they cannot disagree.
 *
 * Rows: one per invoice line (its quantity, its unit price where it has one, its amount), and
 * under a usage line the detail of its pricing: the units its charge included, each tier
 * reached (units, unit price, the tier's flat fee, amount), the packages, or that the maximum
 * capped it. Amounts are the invoice's own, written exactly (format.ts).
 */
export interface DocumentParty {
  name: string;
  /** Address lines, then contact lines. */
  lines: string[];
}

export interface DocumentRow {
  /** 0: an invoice line; 1: a detail of the line above it. */
  level: 0 | 1;
  description: string;
  quantity: string;
  unitPrice: string;
  amount: string;
}

export interface InvoiceDocument {
  kind: 'invoice' | 'credit_note';
  locale: string;
  /** The document's language (`de`), for the page's lang attribute. */
  language: string;
  currency: string;
  labels: Labels;
  title: string;
  number: string | null;
  /** A word stamped beside the title: Paid, Void, Draft…; null while simply open. */
  stamp: string | null;
  issuer: DocumentParty;
  billTo: DocumentParty;
  meta: { label: string; value: string }[];
  rows: DocumentRow[];
  totals: { label: string; value: string; strong: boolean }[];
  /** Free text under the totals (a credit note's memo). */
  notes: string[];
  footer: string | null;
}

/** The customer as a document bills them. */
export interface BillTo {
  name: string;
  email: string | null;
  address: Address | null;
  locale: string | null;
}

/**
 * The issuer when the invoice carries none: a draft (the billing profile as it stands, which
 * approving it would stamp on it), or an invoice issued before the billing profile existed (the
 * tenant's name only).
 */
export interface FallbackIssuer {
  legal_name: string;
  address?: Address | null;
  tax_id?: string | null;
  email?: string | null;
  footer?: string | null;
}

export function invoiceDocument(invoice: InvoiceView, customer: BillTo, fallback: FallbackIssuer): InvoiceDocument {
  const f = new Formatter(customer.locale, invoice.currency);
  const l = labelsFor(f.locale);
  const meta: InvoiceDocument['meta'] = [];
  if (invoice.number !== null) meta.push({ label: l.number, value: invoice.number });
  if (invoice.issued_at !== null) meta.push({ label: l.issued, value: f.day(invoice.issued_at) });
  const due = dueDate(invoice);
  if (due !== null) meta.push({ label: l.due, value: f.day(due) });
  meta.push({ label: l.terms, value: l.paymentTerms(invoice.collection_method, invoice.days_until_due ?? 30) });
  if (invoice.kind === 'period') meta.push({ label: l.period, value: f.period(invoice.period_start, invoice.period_end) });
  if (invoice.purchase_order !== null) meta.push({ label: l.purchaseOrder, value: invoice.purchase_order });

  // Tax lines show among the totals, with their rates.
  const rows = invoice.lines.filter((line) => line.type !== 'tax').flatMap((line) => lineRows(line, f, l));
  const totals: InvoiceDocument['totals'] = [{ label: l.subtotal, value: f.amount(invoice.subtotal), strong: false }];
  if (!new Dec(invoice.discount).isZero()) totals.push({ label: l.discount, value: f.amount(new Dec(invoice.discount).neg().toFixed()), strong: false });
  if (!new Dec(invoice.credit).isZero()) totals.push({ label: l.credit, value: f.amount(new Dec(invoice.credit).neg().toFixed()), strong: false });
  for (const t of invoice.lines.filter((x) => x.type === 'tax')) {
    totals.push({ label: t.tax_rate === undefined ? l.tax : `${t.tax_rate.name} (${f.percent(t.tax_rate.percent)})`, value: f.amount(t.amount), strong: false });
  }
  totals.push({ label: l.total, value: f.amount(invoice.total), strong: true });
  if (!new Dec(invoice.credited).isZero()) totals.push({ label: l.credited, value: f.amount(new Dec(invoice.credited).neg().toFixed()), strong: false });
  totals.push({ label: l.amountDue, value: f.amount(invoice.amount_due), strong: true });

  const issuer = invoice.issuer ?? { legal_name: fallback.legal_name, address: fallback.address ?? null, tax_id: fallback.tax_id ?? null, email: fallback.email ?? null, footer: fallback.footer ?? null };
  return {
    kind: 'invoice',
    locale: f.locale,
    language: new Intl.Locale(f.locale).language,
    currency: invoice.currency,
    labels: l,
    title: l.invoice,
    number: invoice.number,
    stamp: invoice.status === 'open' ? null : l.status[invoice.status],
    issuer: { name: issuer.legal_name, lines: [...addressLines(issuer.address, f.locale), ...(issuer.tax_id === null ? [] : [`${l.taxId}: ${issuer.tax_id}`]), ...(issuer.email === null ? [] : [issuer.email])] },
    billTo: billTo(customer, f.locale),
    meta,
    rows,
    totals,
    notes: [],
    footer: issuer.footer,
  };
}

export function creditNoteDocument(note: CreditNoteView, invoice: InvoiceView, customer: BillTo, fallback: FallbackIssuer): InvoiceDocument {
  const base = invoiceDocument(invoice, customer, fallback);
  const f = new Formatter(customer.locale, note.currency);
  const l = base.labels;
  const rows: DocumentRow[] =
    note.lines.length === 0
      ? [{ level: 0, description: `${l.creditFor} ${invoice.number ?? invoice.id ?? ''}`.trim(), quantity: '', unitPrice: '', amount: f.amount(note.amount) }]
      : note.lines.map((c) => ({ level: 0, description: invoice.lines[c.line - 1]?.description ?? `#${c.line}`, quantity: '', unitPrice: '', amount: f.amount(c.amount) }));
  return {
    ...base,
    kind: 'credit_note',
    title: l.creditNote,
    number: note.number,
    stamp: null,
    meta: [
      { label: l.number, value: note.number },
      { label: l.issued, value: f.day(note.created_at) },
      { label: l.creditFor, value: invoice.number ?? invoice.id ?? '' },
      { label: l.reason, value: note.reason.replaceAll('_', ' ') },
      { label: l.settlement, value: note.settlement.replaceAll('_', ' ') },
    ],
    rows,
    totals: [{ label: l.total, value: f.amount(note.amount), strong: true }],
    notes: note.memo === null ? [] : [note.memo],
  };
}

/** When the invoice is due: Stripe's due date, else its net terms from the day it was issued. */
export function dueDate(invoice: InvoiceView): string | null {
  if (invoice.due_at !== null) return invoice.due_at;
  if (invoice.collection_method !== 'send_invoice' || invoice.issued_at === null) return null;
  return new Date(new Date(invoice.issued_at).getTime() + (invoice.days_until_due ?? 30) * 86_400_000).toISOString();
}

function lineRows(line: InvoiceLine, f: Formatter, l: Labels): DocumentRow[] {
  const p = line.pricing;
  const head: DocumentRow = {
    level: 0,
    description: line.description,
    quantity: line.quantity === null ? '' : f.quantity(line.quantity),
    unitPrice: p?.model === 'per_unit' && p.unit_price !== null ? f.unitPrice(p.unit_price) : '',
    amount: f.amount(line.amount),
  };
  if (p === undefined) return [head];
  const detail: DocumentRow[] = [];
  if (p.included !== null && !new Dec(p.included).isZero()) detail.push({ level: 1, description: l.included(f.quantity(p.included)), quantity: '', unitPrice: '', amount: '' });
  for (const t of p.tiers) {
    const fee = new Dec(t.flat_fee).isZero() ? '' : ` + ${f.unitPrice(t.flat_fee)} ${l.flatFee}`;
    detail.push({ level: 1, description: `${l.tier(t.tier)}${fee}`, quantity: f.quantity(t.units), unitPrice: f.unitPrice(t.unit_price), amount: f.amount(t.amount) });
  }
  if (p.model === 'package' && p.packages !== null && p.package_size !== null && p.unit_price !== null) {
    detail.push({ level: 1, description: l.packages(f.quantity(p.packages), f.quantity(p.package_size)), quantity: f.quantity(p.packages), unitPrice: f.unitPrice(p.unit_price), amount: '' });
  }
  if (p.capped) detail.push({ level: 1, description: l.capped, quantity: '', unitPrice: '', amount: '' });
  return [head, ...detail];
}

function billTo(c: BillTo, locale: string): DocumentParty {
  return { name: c.name, lines: [...addressLines(c.address, locale), ...(c.email === null ? [] : [c.email])] };
}

const CITY_STATE_POSTAL = new Set(['US', 'CA', 'AU']);

/** An address as the lines of a letter: street, postal code and city, state, country name. */
export function addressLines(a: Address | null, locale: string): string[] {
  if (a === null) return [];
  let country = a.country;
  try {
    country = new Intl.DisplayNames([locale], { type: 'region' }).of(a.country) ?? a.country;
  } catch {
    // An unknown code shows as given.
  }
  const street = [a.line1, ...(a.line2 === undefined ? [] : [a.line2])];
  // Where the state and postal code follow the city (Cupertino, CA 95014), and where the postal
  // code has a line of its own (the UK); elsewhere it comes first (10115 Berlin).
  if (CITY_STATE_POSTAL.has(a.country)) return [...street, `${a.city}${a.state === undefined ? '' : `, ${a.state}`} ${a.postal_code}`, country];
  if (a.country === 'GB') return [...street, a.city, ...(a.state === undefined ? [] : [a.state]), a.postal_code, country];
  return [...street, `${a.postal_code} ${a.city}`, ...(a.state === undefined ? [] : [a.state]), country];
}
