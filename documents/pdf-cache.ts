import { createHash } from 'node:crypto';
import type { InvoiceDocument } from './invoice-document.js';
import type { Logo } from './pdf.js';

/**
 * Drawn PDFs by what they were drawn from. An issued document changes only when its invoice
 * does (a stamp, a credit), so asking again for the same one (a customer reloading, anyone
 * holding a hosted link asking a thousand times) need not draw it again. The key is a digest
 * of everything the drawing reads: the document, the logo and the date, so a changed invoice
 * is a new key and nothing is ever stale. Least recently used first out, within `maxBytes`; a
 * document larger than a quarter of that is not kept.
 */
export class PdfCache {
  private readonly kept = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  static key(tenantId: string, document: InvoiceDocument, logo: Logo | null, createdAt: Date): string {
    const h = createHash('sha256');
    h.update(tenantId).update('\0').update(JSON.stringify(document)).update('\0').update(String(createdAt.getTime())).update('\0');
    if (logo !== null) h.update(logo.type).update('\0').update(logo.data);
    return h.digest('base64url');
  }

  get(key: string): Buffer | undefined {
    const pdf = this.kept.get(key);
    if (pdf === undefined) return undefined;
    // Used again: to the back of the line.
    this.kept.delete(key);
    this.kept.set(key, pdf);
    return pdf;
  }

  set(key: string, pdf: Buffer): void {
    if (pdf.length > this.maxBytes / 4 || this.kept.has(key)) return;
    this.kept.set(key, pdf);
    this.bytes += pdf.length;
    for (const [k, v] of this.kept) {
      if (this.bytes <= this.maxBytes) break;
      this.kept.delete(k);
      this.bytes -= v.length;
    }
  }
}
