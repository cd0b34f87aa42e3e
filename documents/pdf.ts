import PDFDocument from 'pdfkit';
import { fontBytes, runs, type Weight } from './fonts.js';
import type { DocumentRow, InvoiceDocument } from './invoice-document.js';

/**
 * An invoice document (invoice-document.ts) drawn as an A4 PDF with pdfkit: no browser, a few
 * milliseconds a page. Everything is placed here, not by pdfkit's flowing text, so a page
 * breaks only between rows: the table's header is repeated on every page, the totals are never
 * split, and each page says "Page n of N".
 */
export interface Logo {
  type: 'image/png' | 'image/jpeg';
  data: Buffer;
}

const PAGE = { width: 595.28, height: 841.89 };
const MARGIN = 48;
const RIGHT = PAGE.width - MARGIN;
const BOTTOM = PAGE.height - MARGIN - 18;
const GREY = '#555555';
const RULE = '#bbbbbb';

/** The table's columns: x and width; text is left-aligned in the first, right-aligned in the others. */
const COLUMNS = {
  description: { x: MARGIN, width: 235 },
  quantity: { x: MARGIN + 235, width: 75 },
  unitPrice: { x: MARGIN + 310, width: 92 },
  amount: { x: MARGIN + 402, width: RIGHT - (MARGIN + 402) },
};

interface Style {
  size: number;
  weight?: Weight;
  color?: string;
}

export function renderPdf(doc: InvoiceDocument, logo: Logo | null = null, createdAt: Date = new Date(0)): Promise<Buffer> {
  const pdf = new PDFDocument({
    size: 'A4',
    margin: 0,
    bufferPages: true,
    autoFirstPage: true,
    lang: doc.locale,
    displayTitle: true,
    info: { Title: [doc.title, doc.number].filter((x) => x !== null).join(' '), Author: doc.issuer.name, Creator: 'Tally', CreationDate: createdAt, ModDate: createdAt },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('data', (c: Buffer) => chunks.push(c));
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });
  const page = new Page(pdf);
  page.draw(doc, logo);
  pdf.end();
  return done;
}

class Page {
  private readonly registered = new Set<string>();
  private y = MARGIN;

  constructor(private readonly pdf: PDFKit.PDFDocument) {}

  draw(doc: InvoiceDocument, logo: Logo | null): void {
    // Header: the logo (or the issuer's name) at the left, the title and its stamp at the right.
    if (logo === null || !this.image(logo)) this.headerName(doc.issuer.name);
    this.text(doc.title, MARGIN + 260, MARGIN, { size: 20, weight: 'bold' }, RIGHT - MARGIN - 260, 'right');
    if (doc.stamp !== null) this.text(doc.stamp.toUpperCase(), MARGIN + 260, MARGIN + 26, { size: 11, weight: 'bold', color: '#b00020' }, RIGHT - MARGIN - 260, 'right');
    this.y = MARGIN + 70;

    // The document's facts at the right, first (they fit the first page); then the issuer at
    // the left and who is billed under it, which may run onto the next page: every field at
    // its longest in a wide script does not fit one.
    const top = this.y;
    let right = top;
    for (const m of doc.meta) {
      this.text(m.label, MARGIN + 250, right, { size: 9, color: GREY }, 115);
      right = Math.max(right + 13, this.wrapped(m.value, MARGIN + 370, right, { size: 9 }, RIGHT - MARGIN - 370));
    }
    const firstPage = this.pdf.bufferedPageRange().count;
    let left = this.block(doc.labels.from, doc.issuer.name, doc.issuer.lines, MARGIN, top, 230);
    left = this.block(doc.labels.billTo, doc.billTo.name, doc.billTo.lines, MARGIN, left + 12, 230);
    this.y = (this.pdf.bufferedPageRange().count === firstPage ? Math.max(left, right) : left) + 18;

    this.tableHeader(doc);
    for (const row of doc.rows) this.row(doc, row);
    this.totals(doc);
    for (const note of doc.notes) this.paragraph(note, { size: 9 });
    if (doc.footer !== null) this.paragraph(doc.footer, { size: 8, color: GREY });
    this.pageNumbers(doc);
  }

  /** The logo, or false when it cannot be drawn (then the issuer's name takes its place). */
  private image(logo: Logo): boolean {
    try {
      this.pdf.image(logo.data, MARGIN, MARGIN, { fit: [150, 50] });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The issuer's name in the header's left box, beside the title: as large as lets it fit in
   * the box's height (14 pt down to 8), its last line cut with an ellipsis if even 8 pt does
   * not (the From block below prints it whole).
   */
  private headerName(name: string): void {
    const width = 250;
    const height = 62;
    for (const size of [14, 12, 10, 9, 8]) {
      const style: Style = { size, weight: 'bold' };
      const lines = this.wrap(name, width, style);
      const fits = Math.max(1, Math.floor(height / (size + 3)));
      if (lines.length <= fits || size === 8) {
        const shown = lines.slice(0, fits);
        if (lines.length > fits) shown[fits - 1] = this.cut(`${shown[fits - 1]!}…`, width, style);
        shown.forEach((l, i) => this.text(l, MARGIN, MARGIN + i * (size + 3), style, width));
        return;
      }
    }
  }

  /** `text` shortened from its end, keeping a final ellipsis, until it fits `width`. */
  private cut(text: string, width: number, style: Style): string {
    const chars = [...text.slice(0, -1)];
    const widthOf = (s: string) => runs(s, style.weight ?? 'regular').reduce((w, r) => w + this.measure(r.font, r.text, style.size), 0);
    while (chars.length > 0 && widthOf(`${chars.join('')}…`) > width) chars.pop();
    return `${chars.join('')}…`;
  }

  private block(heading: string, name: string, lines: readonly string[], x: number, y: number, width: number): number {
    let at = this.roomFor(y, 11 + 13);
    this.text(heading, x, at, { size: 8, color: GREY }, width);
    at = this.wrapped(name, x, at + 11, { size: 10, weight: 'bold' }, width);
    for (const l of lines) at = this.wrapped(l, x, at, { size: 9 }, width);
    return at;
  }

  /** `y`, or the top of a new page when `height` from `y` would pass the bottom. */
  private roomFor(y: number, height: number): number {
    if (y + height <= BOTTOM) return y;
    this.pdf.addPage();
    return MARGIN;
  }

  private tableHeader(doc: InvoiceDocument): void {
    const s: Style = { size: 8, weight: 'bold', color: GREY };
    this.text(doc.labels.description, COLUMNS.description.x, this.y, s, COLUMNS.description.width);
    this.text(doc.labels.quantity, COLUMNS.quantity.x, this.y, s, COLUMNS.quantity.width, 'right');
    this.text(doc.labels.unitPrice, COLUMNS.unitPrice.x, this.y, s, COLUMNS.unitPrice.width, 'right');
    this.text(doc.labels.amount, COLUMNS.amount.x, this.y, s, COLUMNS.amount.width, 'right');
    this.y += 12;
    this.rule();
  }

  private row(doc: InvoiceDocument, row: DocumentRow): void {
    const style: Style = row.level === 0 ? { size: 9 } : { size: 8, color: GREY };
    const indent = row.level === 0 ? 0 : 12;
    const lines = this.wrap(row.description, COLUMNS.description.width - indent - 6, style);
    const height = lines.length * (style.size + 3) + 4;
    if (this.y + height > BOTTOM) {
      this.pdf.addPage();
      this.y = MARGIN;
      this.tableHeader(doc);
    }
    const y = this.y;
    lines.forEach((l, i) => this.text(l, COLUMNS.description.x + indent, y + i * (style.size + 3), style, COLUMNS.description.width - indent));
    this.text(row.quantity, COLUMNS.quantity.x, y, style, COLUMNS.quantity.width, 'right');
    this.text(row.unitPrice, COLUMNS.unitPrice.x, y, style, COLUMNS.unitPrice.width, 'right');
    this.text(row.amount, COLUMNS.amount.x, y, style, COLUMNS.amount.width, 'right');
    this.y += height;
  }

  private totals(doc: InvoiceDocument): void {
    const height = doc.totals.length * 15 + 14;
    if (this.y + height > BOTTOM) {
      this.pdf.addPage();
      this.y = MARGIN;
    }
    this.rule();
    this.y += 4;
    for (const t of doc.totals) {
      const style: Style = { size: t.strong ? 10 : 9, weight: t.strong ? 'bold' : 'regular' };
      this.text(t.label, COLUMNS.quantity.x, this.y, style, COLUMNS.quantity.width + COLUMNS.unitPrice.width - 8, 'right');
      this.text(t.value, COLUMNS.amount.x, this.y, style, COLUMNS.amount.width, 'right');
      this.y += 15;
    }
    this.y += 10;
  }

  private paragraph(text: string, style: Style): void {
    for (const para of text.split(/\r?\n/)) {
      for (const line of this.wrap(para, RIGHT - MARGIN, style)) {
        if (this.y + style.size + 3 > BOTTOM) {
          this.pdf.addPage();
          this.y = MARGIN;
        }
        this.text(line, MARGIN, this.y, style, RIGHT - MARGIN);
        this.y += style.size + 3;
      }
    }
    this.y += 6;
  }

  private pageNumbers(doc: InvoiceDocument): void {
    const range = this.pdf.bufferedPageRange();
    for (let i = 0; i < range.count; i++) {
      this.pdf.switchToPage(range.start + i);
      const label = [doc.number, doc.labels.page(i + 1, range.count)].filter((x) => x !== null).join(' · ');
      this.text(label, MARGIN, PAGE.height - MARGIN, { size: 8, color: GREY }, RIGHT - MARGIN, 'center');
    }
  }

  private rule(): void {
    this.pdf
      .moveTo(MARGIN, this.y)
      .lineTo(RIGHT, this.y)
      .lineWidth(0.5)
      .strokeColor(RULE)
      .stroke();
    this.y += 4;
  }

  /** Text wrapped to a width from (x, y), onto a new page when it reaches the bottom; returns the y below it. */
  private wrapped(text: string, x: number, y: number, style: Style, width: number): number {
    let at = y;
    for (const line of this.wrap(text, width, style)) {
      at = this.roomFor(at, style.size + 3);
      this.text(line, x, at, style, width);
      at += style.size + 3;
    }
    return at;
  }

  /** One line of text in as many fonts as its characters need, aligned in [x, x + width]. */
  private text(text: string, x: number, y: number, style: Style, width: number, align: 'left' | 'right' | 'center' = 'left'): void {
    if (text === '') return;
    const parts = runs(text, style.weight ?? 'regular');
    let size = style.size;
    let widths = parts.map((r) => this.measure(r.font, r.text, size));
    let total = widths.reduce((a, b) => a + b, 0);
    const room = align === 'right' ? width - 6 : width;
    if (total > room && align !== 'left') {
      // A figure wider than its column (a 20-digit quantity, an amount of billions with its
      // decimals) is set smaller to fit rather than printed over its neighbour.
      size = Math.max(3, (size * room) / total);
      widths = parts.map((r) => this.measure(r.font, r.text, size));
      total = widths.reduce((a, b) => a + b, 0);
    }
    let at = align === 'left' ? x : align === 'right' ? x + width - total : x + (width - total) / 2;
    this.pdf.fillColor(style.color ?? '#000000');
    parts.forEach((r, i) => {
      this.use(r.font).fontSize(size).text(r.text, at, y, { lineBreak: false });
      at += widths[i]!;
    });
  }

  private measure(font: string, text: string, size: number): number {
    return this.use(font).fontSize(size).widthOfString(text);
  }

  private use(font: string): PDFKit.PDFDocument {
    if (!this.registered.has(font)) {
      this.pdf.registerFont(font, fontBytes(font));
      this.registered.add(font);
    }
    return this.pdf.font(font);
  }

  /** Lines of at most `width`: broken at spaces, or anywhere in a word longer than a line (a run of CJK characters too). */
  private wrap(text: string, width: number, style: Style): string[] {
    return wrapLines(text, width, (s) => runs(s, style.weight ?? 'regular').reduce((w, r) => w + this.measure(r.font, r.text, style.size), 0));
  }
}

/**
 * Lines of at most `width` as `widthOf` measures text: broken at spaces, or anywhere in a word
 * longer than a line. How many words, and then how many characters of a long word, still fit
 * on a line is found by doubling then halving, not by measuring the line again after each one:
 * a footer (up to 5,000 characters) of zero-width combining marks, or of marks between
 * zero-width spaces, then took minutes of the one PDF worker every tenant shares. The lines are
 * those the one-at-a-time way gives for any measure that grows with the text.
 */
export function wrapLines(text: string, width: number, widthOf: (s: string) => number): string[] {
  const out: string[] = [];
  let line = '';
  const tokens = text.split(/(\s+)/u).filter((t) => t !== '');
  let i = 0;
  while (i < tokens.length) {
    // The words and spaces from i on that still fit on the line, all at once.
    const fitting = mostThatFit(tokens.length - i, (n) => widthOf(line + tokens.slice(i, i + n).join('')) <= width);
    line += tokens.slice(i, i + fitting).join('');
    i += fitting;
    if (i === tokens.length) break;
    const token = tokens[i++]!;
    if (/^\s+$/u.test(token)) {
      out.push(line);
      line = '';
      continue;
    }
    if (line.trim() !== '' && widthOf(token) <= width) {
      out.push(line.trimEnd());
      line = token;
      continue;
    }
    // A word wider than the line: cut it where it no longer fits.
    const chars = [...token];
    let start = 0;
    while (start < chars.length) {
      const left = chars.length - start;
      const fit = mostThatFit(left, (n) => widthOf(line + chars.slice(start, start + n).join('')) <= width);
      // At least one character on an empty line (one wider than a line stands alone).
      const take = fit === 0 && line === '' ? 1 : fit;
      line += chars.slice(start, start + take).join('');
      start += take;
      // The word's last characters stay on the line, for what follows them.
      if (start < chars.length) {
        out.push(line.trimEnd());
        line = '';
      }
    }
  }
  if (line.trim() !== '' || out.length === 0) out.push(line.trimEnd());
  return out;
}

/**
 * The largest n from 0 to `max` with `fits(n)`, for a `fits` true up to some n and false after
 * (fits(0) is taken as true): doubling, then halving, so each test is about as long as the answer.
 */
function mostThatFit(max: number, fits: (n: number) => boolean): number {
  let lo = 0;
  let hi = 1;
  while (hi <= max && fits(hi)) {
    lo = hi;
    if (hi === max) return max;
    hi = Math.min(hi * 2, max);
  }
  if (max === 0) return 0;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
