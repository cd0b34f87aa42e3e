import PDFDocument from 'pdfkit';
import { jpegProblem, pngProblem } from './image-check.js';
import type { Logo } from './pdf.js';

/** A logo the PDF library fails on, or that ends the thread reading it. */
export const UNREADABLE_IMAGE = 'the image cannot be read (damaged, or a kind of PNG/JPEG PDF documents cannot hold)';

/**
 * Why a logo cannot be printed, or undefined: read through whole (image-check.ts), then embedded
 * once by the PDF library, so no document of the tenant fails on it later. Synchronous work of
 * up to half a second for a large image (inflating it, splitting out its alpha channel), so a
 * serving process runs it on the PDF worker (pdf-pool.ts), not on the thread taking requests.
 */
export async function logoProblem(logo: Logo): Promise<string | undefined> {
  const problem = logo.type === 'image/png' ? pngProblem(logo.data) : jpegProblem(logo.data);
  if (problem !== undefined) return problem;
  try {
    await embed(logo.data);
    return undefined;
  } catch {
    return UNREADABLE_IMAGE;
  }
}

/** A one-page PDF holding the image, made to the end: the image's data is read only then. */
function embed(data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      const pdf = new PDFDocument({ size: [60, 60], margin: 0 });
      pdf.on('error', reject);
      pdf.on('end', () => resolve());
      pdf.on('data', () => undefined);
      pdf.image(data, 0, 0, { fit: [60, 60] });
      pdf.end();
    } catch (e) {
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
