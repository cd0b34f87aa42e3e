import { TallyError } from '../core/errors.js';
import type { InvoiceDocument } from './invoice-document.js';
import type { Logo } from './pdf.js';
import type { PdfRenderer } from './pdf-pool.js';
import { PdfCache } from './pdf-cache.js';

/**
 * Turns at the PDF renderer, per tenant: each tenant's documents wait behind its own only, and
 * the tenants with documents waiting take turns, one document each. A tenant (or anyone holding
 * its hosted links) asking for many PDFs at once therefore delays its own, not the others';
 * beyond `maxWaiting` of its documents waiting it is told to come back (429, Retry-After).
 * A document drawn before is answered from the cache without a turn, and one being drawn is
 * drawn once for everyone asking for it meanwhile: asking again costs no drawing.
 */
export class PdfTurns {
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly drawing = new Map<string, Promise<Buffer>>();
  private readonly cache: PdfCache;
  private running = 0;
  /** The tenant whose document went last: it goes behind the others waiting. */
  private last: string | undefined;

  constructor(
    private readonly renderer: PdfRenderer,
    private readonly o: { concurrency: number; maxWaiting: number; cacheBytes?: number } = { concurrency: 1, maxWaiting: 16 },
  ) {
    this.cache = new PdfCache(o.cacheBytes ?? 16 * 1024 * 1024);
  }

  render(tenantId: string, document: InvoiceDocument, logo: Logo | null, createdAt: Date): Promise<Buffer> {
    const key = PdfCache.key(tenantId, document, logo, createdAt);
    const kept = this.cache.get(key);
    if (kept !== undefined) return Promise.resolve(kept);
    const underway = this.drawing.get(key);
    if (underway !== undefined) return underway;
    const drawn = this.draw(tenantId, document, logo, createdAt).then(
      (pdf) => {
        this.cache.set(key, pdf);
        return pdf;
      },
    );
    this.drawing.set(key, drawn);
    const forget = () => this.drawing.delete(key);
    drawn.then(forget, forget);
    return drawn;
  }

  private async draw(tenantId: string, document: InvoiceDocument, logo: Logo | null, createdAt: Date): Promise<Buffer> {
    await this.turn(tenantId);
    try {
      return await this.renderer.render(document, logo, createdAt);
    } finally {
      this.running--;
      this.next();
    }
  }

  /** Why an uploaded logo cannot be printed, or undefined: read on the renderer, in the tenant's turn like a drawing. */
  async readLogo(tenantId: string, logo: Logo): Promise<string | undefined> {
    await this.turn(tenantId);
    try {
      return await this.renderer.readLogo(logo);
    } finally {
      this.running--;
      this.next();
    }
  }

  close(): Promise<void> {
    return this.renderer.close();
  }

  private turn(tenantId: string): Promise<void> {
    if (this.running < this.o.concurrency && this.waiting.size === 0) {
      this.running++;
      this.last = tenantId;
      return Promise.resolve();
    }
    const queue = this.waiting.get(tenantId) ?? [];
    if (queue.length >= this.o.maxWaiting) {
      return Promise.reject(
        new TallyError('TALLY_ERR_DOCUMENTS_BUSY', `${queue.length} documents (or logos) of this tenant are already waiting for the PDF worker; retry shortly`, { headers: { 'Retry-After': '1' } }),
      );
    }
    return new Promise((resolve) => {
      queue.push(() => {
        this.running++;
        resolve();
      });
      this.waiting.set(tenantId, queue);
    });
  }

  /** The next tenant in turn: the first waiting in the map that did not go last; it then goes to the back. */
  private next(): void {
    while (this.running < this.o.concurrency && this.waiting.size > 0) {
      const ids = [...this.waiting.keys()];
      const tenantId = ids.find((id) => id !== this.last) ?? ids[0]!;
      const queue = this.waiting.get(tenantId)!;
      this.waiting.delete(tenantId);
      const start = queue.shift()!;
      if (queue.length > 0) this.waiting.set(tenantId, queue);
      this.last = tenantId;
      start();
    }
  }
}
