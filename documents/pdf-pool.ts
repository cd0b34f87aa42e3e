import path from 'node:path';
import { Piscina } from 'piscina';
import { packageRoot } from '../core/paths.js';
import type { InvoiceDocument } from './invoice-document.js';
import { renderPdf, type Logo } from './pdf.js';
import type { PdfTask } from './pdf-worker.js';

/**
 * Where PDFs are drawn. Drawing is synchronous work (a 300-line invoice takes about 135 ms), so
 * a serving process draws them on a worker thread of its own: a tenant asking for documents
 * never stalls the event loop that acknowledges other tenants' events. Tests and one-off
 * commands may draw in the calling thread.
 */
export interface PdfRenderer {
  render(document: InvoiceDocument, logo: Logo | null, createdAt: Date): Promise<Buffer>;
  close(): Promise<void>;
}

export const inThreadPdfs: PdfRenderer = {
  render: (document, logo, createdAt) => renderPdf(document, logo, createdAt),
  close: () => Promise.resolve(),
};

/**
 * One worker thread (the built dist/documents/pdf-worker.js) that stops after a minute idle,
 * handing its fonts' memory back. Documents queue for it: their drawing is bounded to one core.
 */
export function pdfWorkerPool(opts: { workerFile?: string; onWorkerError?: (error: unknown) => void } = {}): PdfRenderer {
  const pool = new Piscina<PdfTask, Uint8Array>({
    filename: opts.workerFile ?? path.join(packageRoot(), 'dist', 'documents', 'pdf-worker.js'),
    minThreads: 0,
    maxThreads: 1,
    idleTimeout: 60_000,
  });
  // A worker that dies fails its task; without a listener the pool's 'error' would end the process.
  pool.on('error', (error: unknown) => opts.onWorkerError?.(error));
  return {
    render: async (document, logo, createdAt) => {
      const { labels: _labels, ...rest } = document;
      const bytes = await pool.run({ document: rest, logo, createdAt: createdAt.getTime() });
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    close: () => pool.close(),
  };
}
