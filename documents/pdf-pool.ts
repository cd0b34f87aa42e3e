import path from 'node:path';
import { Piscina } from 'piscina';
import { Counter, Histogram, type Registry } from 'prom-client';
import { packageRoot } from '../core/paths.js';
import type { InvoiceDocument } from './invoice-document.js';
import { logoProblem, UNREADABLE_IMAGE } from './logo-read.js';
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
  /** Why an uploaded logo cannot be printed, or undefined (logo-read.ts): the same kind of work. */
  readLogo(logo: Logo): Promise<string | undefined>;
  close(): Promise<void>;
}

export const inThreadPdfs: PdfRenderer = {
  render: (document, logo, createdAt) => renderPdf(document, logo, createdAt),
  readLogo: logoProblem,
  close: () => Promise.resolve(),
};

/**
 * One worker thread (the built dist/documents/pdf-worker.js, loaded through pdf-worker-entry.cjs)
 * that stops after a minute idle, handing its fonts' memory back. Documents queue for it: their
 * drawing is bounded to one core.
 */
export function pdfWorkerPool(opts: { workerFile?: string; onWorkerError?: (error: unknown) => void } = {}): PdfRenderer {
  const pool = new Piscina<PdfTask, Uint8Array | string | null>({
    filename: opts.workerFile ?? path.join(packageRoot(), 'dist', 'documents', 'pdf-worker-entry.cjs'),
    minThreads: 0,
    maxThreads: 1,
    idleTimeout: 60_000,
  });
  // A worker that dies fails its task; without a listener the pool's 'error' would end the process.
  pool.on('error', (error: unknown) => opts.onWorkerError?.(error));
  return {
    render: async (document, logo, createdAt) => {
      const { labels: _labels, ...rest } = document;
      const bytes = await pool.run({ kind: 'render', document: rest, logo, createdAt: createdAt.getTime() });
      if (!(bytes instanceof Uint8Array)) throw new Error('the PDF worker answered a drawing with no document');
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    readLogo: async (logo) => {
      let problem: Uint8Array | string | null;
      try {
        problem = await pool.run({ kind: 'logo', logo });
      } catch (e) {
        // The worker died on the image (the PDF library decodes some PNGs in a zlib callback,
        // where an error ends the thread): the image is at fault, not the request or Tally.
        opts.onWorkerError?.(e);
        return UNREADABLE_IMAGE;
      }
      return typeof problem === 'string' ? problem : undefined;
    },
    close: () => pool.close(),
  };
}

/**
 * The renderer with its metrics: `tally_pdf_renders_total{outcome}` and
 * `tally_pdf_render_duration_seconds` (queueing for the worker included: what a caller waits).
 * Made once per registry; the API and the mail loop of one process share them.
 */
export function measured(renderer: PdfRenderer, registry: Registry): PdfRenderer {
  const renders =
    (registry.getSingleMetric('tally_pdf_renders_total') as Counter<'outcome'> | undefined) ??
    new Counter({ name: 'tally_pdf_renders_total', help: 'Invoice and credit-note PDFs drawn, by outcome (ok, error).', labelNames: ['outcome'], registers: [registry] });
  const duration =
    (registry.getSingleMetric('tally_pdf_render_duration_seconds') as Histogram | undefined) ??
    new Histogram({ name: 'tally_pdf_render_duration_seconds', help: 'Time to draw a PDF, waiting for the worker included.', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] });
  renders.inc({ outcome: 'ok' }, 0);
  renders.inc({ outcome: 'error' }, 0);
  return {
    render: async (document, logo, createdAt) => {
      const end = duration.startTimer();
      try {
        const pdf = await renderer.render(document, logo, createdAt);
        renders.inc({ outcome: 'ok' });
        return pdf;
      } catch (e) {
        renders.inc({ outcome: 'error' });
        throw e;
      } finally {
        end();
      }
    },
    readLogo: (logo) => renderer.readLogo(logo),
    close: () => renderer.close(),
  };
}
