import { describe, expect, it } from 'vitest';
import { wrapLines } from '../../documents/pdf.js';

/** A measure that adds up per-character widths: combining marks take none, CJK two. */
function widthOf(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\p{M}\p{Cf}]/u.test(ch) ? 0 : /\p{Script=Han}/u.test(ch) ? 2 : 1;
  return w;
}

/** The wrap as it was written first: a long word measured again after every character. */
function reference(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const token of text.split(/(\s+)/u)) {
    if (token === '') continue;
    if (widthOf(line + token) <= width) {
      line += token;
      continue;
    }
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
    for (const ch of token) {
      if (line !== '' && widthOf(line + ch) > width) {
        out.push(line.trimEnd());
        line = '';
      }
      line += ch;
    }
  }
  if (line.trim() !== '' || out.length === 0) out.push(line.trimEnd());
  return out;
}

describe('wrapping text into lines', () => {
  it('breaks where the first way did, on words, long words, spaces and marks', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pieces = ['a', 'b', 'W', ' ', '  ', '\u0301', '漢', 'é', '\ufeff', '\u00a0'];
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 80);
      let text = '';
      for (let j = 0; j < length; j++) text += pieces[Math.floor(random() * pieces.length)];
      const width = 1 + Math.floor(random() * 20);
      expect(wrapLines(text, width, widthOf), JSON.stringify([text, width])).toEqual(reference(text, width));
    }
  });

  it('measures a long word of combining marks a bounded number of times, not once a character', () => {
    // 4,900 marks then 100 letters: one line took minutes of the PDF worker when each character
    // measured the whole line again (about 12 M characters measured here; now a few hundred thousand).
    const text = `${'\u0301'.repeat(4900)}${'W'.repeat(100)}`;
    let measured = 0;
    const lines = wrapLines(text, 40, (s) => {
      measured += s.length;
      return widthOf(s);
    });
    expect(lines.map((l) => widthOf(l))).toEqual([40, 40, 20]);
    expect(lines.join('')).toBe(text);
    expect(measured).toBeLessThan(500_000);
  });

  it.each([
    ['marks between zero-width no-break spaces (a space to the splitter, no width on the page)', '\u0301\ufeff'.repeat(2500)],
    ['marks between no-break spaces', `${'\u0301'.repeat(40)}\u00a0`.repeat(120)],
  ])('measures %s a bounded number of times, not once a word', (_what, text) => {
    let measured = 0;
    const lines = wrapLines(text, 40, (s) => {
      measured += s.length;
      return widthOf(s);
    });
    expect(lines.join('').replace(/\s/gu, '')).toBe(text.replace(/\s/gu, ''));
    expect(measured).toBeLessThan(500_000);
  });
});
