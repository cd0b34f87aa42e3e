import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as fontkit from 'fontkit';

/**
 * The fonts documents are drawn in, from the Noto families on npm: Noto Sans for Latin (with
 * every accent), Greek and Cyrillic, then Japanese, Simplified Chinese and Korean for what it
 * lacks. A text is cut into runs, each in the first font that has a glyph for every character
 * of it (`runs`), so a name like "Zoë Müller 山田太郎 Ωμέγα" prints whole; the PDF embeds only the
 * glyphs used. A character no font has (Arabic, Hebrew, Thai, Devanagari: not covered yet)
 * falls to Noto Sans and shows as its empty box.
 *
 * The CJK fonts are 5 to 10 MB each: read once, when a text first needs one.
 */
export type Weight = 'regular' | 'bold';

interface Face {
  name: string;
  file: string;
}

const require = createRequire(import.meta.url);
const FAMILIES = [
  { key: 'latin', pkg: '@expo-google-fonts/noto-sans', stem: 'NotoSans' },
  { key: 'jp', pkg: '@expo-google-fonts/noto-sans-jp', stem: 'NotoSansJP' },
  { key: 'sc', pkg: '@expo-google-fonts/noto-sans-sc', stem: 'NotoSansSC' },
  { key: 'kr', pkg: '@expo-google-fonts/noto-sans-kr', stem: 'NotoSansKR' },
] as const;

function face(family: (typeof FAMILIES)[number], weight: Weight): Face {
  const dir = weight === 'bold' ? '700Bold' : '400Regular';
  const style = weight === 'bold' ? '700Bold' : '400Regular';
  return { name: `${family.stem}-${weight}`, file: require.resolve(`${family.pkg}/${dir}/${family.stem}_${style}.ttf`) };
}

const bytes = new Map<string, Buffer>();
const coverage = new Map<string, { hasGlyphForCodePoint(cp: number): boolean }>();

/** The font file's bytes (cached: pdfkit is given the buffer, not the path, for every document). */
export function fontBytes(name: string): Buffer {
  let b = bytes.get(name);
  if (b === undefined) {
    const f = allFaces().find((x) => x.name === name);
    if (f === undefined) throw new Error(`no font ${name}`);
    b = readFileSync(f.file);
    bytes.set(name, b);
  }
  return b;
}

function covers(name: string, cp: number): boolean {
  let font = coverage.get(name);
  if (font === undefined) {
    const opened = fontkit.create(fontBytes(name));
    if (!('hasGlyphForCodePoint' in opened)) throw new Error(`${name} is a font collection`);
    font = opened;
    coverage.set(name, font);
  }
  return font.hasGlyphForCodePoint(cp);
}

function allFaces(): Face[] {
  return FAMILIES.flatMap((f) => [face(f, 'regular'), face(f, 'bold')]);
}

/** Whether a character is shaped by its neighbours' font (spaces and marks stay in the run). */
const NEUTRAL = /[\s\u0300-\u036f\u200b-\u200f\u2028-\u202f\ufe00-\ufe0f]/u;

/** A text cut into runs of one font each (see above). */
export function runs(text: string, weight: Weight): { font: string; text: string }[] {
  const out: { font: string; text: string }[] = [];
  const faces = FAMILIES.map((f) => face(f, weight).name);
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const last = out[out.length - 1];
    let font: string;
    if (last !== undefined && NEUTRAL.test(ch) && covers(last.font, cp)) font = last.font;
    else font = faces.find((n) => covers(n, cp)) ?? faces[0]!;
    if (last !== undefined && last.font === font) last.text += ch;
    else out.push({ font, text: ch });
  }
  return out;
}
