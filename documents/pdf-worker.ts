import { labelsFor } from './labels.js';
import { renderPdf, type Logo } from './pdf.js';
import type { InvoiceDocument } from './invoice-document.js';

/** What crosses to a PDF worker: the document without its labels (functions do not cross; the worker looks them up by locale). */
export interface PdfTask {
  document: Omit<InvoiceDocument, 'labels'>;
  logo: Logo | null;
  createdAt: number;
}

/** Draws one PDF in a worker thread (see pdf-pool.ts). */
export default async function renderTask(task: PdfTask): Promise<Uint8Array> {
  const logo = task.logo === null ? null : { type: task.logo.type, data: Buffer.from(task.logo.data) };
  return renderPdf({ ...task.document, labels: labelsFor(task.document.locale) }, logo, new Date(task.createdAt));
}
