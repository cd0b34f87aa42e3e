import { describe, expect, it } from 'vitest';
import { PdfTurns } from '../../documents/pdf-turns.js';
import { PdfCache } from '../../documents/pdf-cache.js';
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
      readLogo: (logo) =>
        new Promise((resolve) => {
          order.push(`logo ${logo.data.toString()}`);
          pending.push(() => resolve(undefined));
        }),
      close: () => Promise.resolve(),
    },
    finish: () => pending.shift()?.(),
  };
}
const doc = (number: string) => ({ number }) as InvoiceDocument;
const tick = () => new Promise((r) => setImmediate(r));

describe('turns at the PDF renderer', () => {
  it("a logo is read on the renderer in its tenant's turn, like a drawing, not on the thread taking requests", async () => {
    const g = gated();
    const turns = new PdfTurns(g.renderer, { concurrency: 1, maxWaiting: 16 });
    const drawings = ['a1', 'a2'].map((n) => turns.render('a', doc(n), null, new Date(0)));
    const read = turns.readLogo('b', { type: 'image/png', data: Buffer.from('b') });
    for (let i = 0; i < 3; i++) {
      await tick();
      g.finish();
    }
    expect(await read).toBeUndefined();
    await Promise.all(drawings);
    expect(g.order).toEqual(['a1', 'logo b', 'a2']);
  });

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

describe('PDFs drawn before', () => {
  it('a document asked for while it is drawn, or again later, is drawn once; a changed one is drawn again', async () => {
    const g = gated();
    const turns = new PdfTurns(g.renderer, { concurrency: 1, maxWaiting: 16 });
    const both = [turns.render('a', doc('a1'), null, new Date(0)), turns.render('a', doc('a1'), null, new Date(0))];
    await tick();
    g.finish();
    expect((await Promise.all(both)).map(String)).toEqual(['a1', 'a1']);
    // Answered without a turn: nothing is drawn and nothing waits.
    expect(String(await turns.render('a', doc('a1'), null, new Date(0)))).toBe('a1');
    expect(g.order).toEqual(['a1']);
    // Another tenant's identical document, a stamp, another date: each is drawn.
    const again = [
      turns.render('b', doc('a1'), null, new Date(0)),
      turns.render('a', { ...doc('a1'), stamp: 'Paid' }, null, new Date(0)),
      turns.render('a', doc('a1'), null, new Date(1)),
    ];
    for (let i = 0; i < 3; i++) {
      await tick();
      g.finish();
    }
    await Promise.all(again);
    expect(g.order).toEqual(['a1', 'a1', 'a1', 'a1']);
  });

  it('keeps the most recently used within its bytes', () => {
    const cache = new PdfCache(40);
    const pdf = (n: number) => Buffer.alloc(n);
    cache.set('a', pdf(10));
    cache.set('b', pdf(10));
    cache.set('c', pdf(10));
    expect(cache.get('a')?.length).toBe(10);
    cache.set('d', pdf(10));
    cache.set('e', pdf(10));
    // b, the least recently used, went to make room for e; a was used again.
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => cache.get(k) !== undefined)).toEqual([true, false, true, true, true]);
    // Larger than a quarter of the budget: not kept.
    cache.set('big', pdf(11));
    expect(cache.get('big')).toBeUndefined();
  });

  it('a failed drawing is not kept: the next ask draws again', async () => {
    let calls = 0;
    const turns = new PdfTurns(
      {
        render: () => (++calls === 1 ? Promise.reject(new Error('worker died')) : Promise.resolve(Buffer.from('ok'))),
        readLogo: () => Promise.resolve(undefined),
        close: () => Promise.resolve(),
      },
      { concurrency: 1, maxWaiting: 16 },
    );
    await expect(turns.render('a', doc('x'), null, new Date(0))).rejects.toThrow('worker died');
    expect(String(await turns.render('a', doc('x'), null, new Date(0)))).toBe('ok');
    expect(calls).toBe(2);
  });
});
