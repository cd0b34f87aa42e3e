import { labelsFor } from './labels.js';
import { logoProblem } from './logo-read.js';
import { renderPdf, type Logo } from './pdf.js';
import type { InvoiceDocument } from './invoice-document.js';

/** What crosses to a PDF worker: a document to draw (without its labels: functions do not cross; the worker looks them up by locale), or a logo to read through. */
export type PdfTask =
  | {
      kind: 'render';
      document: Omit<InvoiceDocument, 'labels'>;
      logo: Logo | null;
      createdAt: number;
    }
  | { kind: 'logo'; logo: Logo };

/** Draws one PDF, or says why a logo cannot be printed (undefined crosses back as null), in a worker thread (see pdf-pool.ts). */
export default async function pdfTask(task: PdfTask): Promise<Uint8Array | string | null> {
  if (task.kind === 'logo') return (await logoProblem(bufferLogo(task.logo))) ?? null;
  const logo = task.logo === null ? null : bufferLogo(task.logo);
  return renderPdf({ ...task.document, labels: labelsFor(task.document.locale) }, logo, new Date(task.createdAt));
}

/** A logo's bytes arrive as a Uint8Array: the PDF library wants a Buffer. */
function bufferLogo(logo: Logo): Logo {
  return { type: logo.type, data: Buffer.from(logo.data) };
}
