import { describe, expect, it } from 'vitest';
import { PdfTurns } from '../../documents/pdf-turns.js';
import type { InvoiceDocument } from '../../documents/invoice-document.js';
import type { PdfRenderer } from '../../documents/pdf-pool.js';

/** A renderer that draws when told to, recording the order it was asked in (by the document's number). */
function gated(): { renderer: PdfRenderer; order: string[]; finish: () => void } {
  const order: string[] = [];
  const pending: (() => void)[] = [];
  return {
    order,
    renderer: {
      render: (d) =>
        new Promise((resolve) => {
          order.push(d.number!);
          pending.push(() => resolve(Buffer.from(d.number!)));
        }),
      close: () => Promise.resolve(),
    },
    finish: () => pending.shift()?.(),
  };
}
const doc = (number: string) => ({ number }) as InvoiceDocument;
const tick = () => new Promise((r) => setImmediate(r));

describe('turns at the PDF renderer', () => {
  it('tenants take turns: one asking for many does not hold back another', async () => {
    const g = gated();
    const turns = new PdfTurns(g.renderer, { concurrency: 1, maxWaiting: 16 });
    const all = ['a1', 'a2', 'a3', 'a4'].map((n) => turns.render('a', doc(n), null, new Date(0)));
    await tick();
    all.push(turns.render('b', doc('b1'), null, new Date(0)));
    for (let i = 0; i < 5; i++) {
      await tick();
      g.finish();
    }
    expect((await Promise.all(all)).map(String)).toEqual(['a1', 'a2', 'a3', 'a4', 'b1']);
    // a1 was running when b1 came; b1 went next, before a2..a4.
    expect(g.order).toEqual(['a1', 'b1', 'a2', 'a3', 'a4']);
  });

  it('a tenant with too many documents waiting is told to come back; the others are not', async () => {
    const g = gated();
    const turns = new PdfTurns(g.renderer, { concurrency: 1, maxWaiting: 2 });
    const first = turns.render('a', doc('a1'), null, new Date(0));
    const waiting = [turns.render('a', doc('a2'), null, new Date(0)), turns.render('a', doc('a3'), null, new Date(0))];
    await expect(turns.render('a', doc('a4'), null, new Date(0))).rejects.toMatchObject({ code: 'TALLY_ERR_DOCUMENTS_BUSY', headers: { 'Retry-After': '1' } });
    const other = turns.render('b', doc('b1'), null, new Date(0));
    for (let i = 0; i < 4; i++) {
      await tick();
      g.finish();
    }
    expect((await Promise.all([first, ...waiting, other])).map(String)).toEqual(['a1', 'a2', 'a3', 'b1']);
  });
});
