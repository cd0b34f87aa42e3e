import { Dec, withoutTrailingZeros } from '../core/money.js';

/**
 * The first number literal of a JSON text that JSON.parse would change: one whose double, read
 * back, is another number (9007199254740993 becomes ...992, 1e-400 becomes 0, 1e400 Infinity),
 * with the path of the value (`['features', 0, 'value']`). Undefined when every literal is kept. The
 * text must be valid JSON (it is scanned, not checked). Literals of up to 15 significant digits
 * without an exponent always come back as written, so only longer ones are looked at closely.
 */
export function inexactNumber(text: string): { path: (string | number)[]; literal: string } | undefined {
  const stack: { key: string | number }[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      if (expectKey) {
        stack[stack.length - 1]!.key = JSON.parse(text.slice(i, j + 1)) as string;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push({ key: '' });
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push({ key: 0 });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      const top = stack[stack.length - 1]!;
      if (typeof top.key === 'number') top.key++;
      else expectKey = true;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < text.length && isNumberChar(text.charCodeAt(j))) j++;
      const literal = text.slice(i, j);
      if (!keptAsWritten(literal)) return { path: stack.map((s) => s.key), literal };
      i = j - 1;
    }
  }
  return undefined;
}

const isNumberChar = (c: number): boolean => (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;

const LITERAL = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

function keptAsWritten(literal: string): boolean {
  const m = LITERAL.exec(literal);
  if (m === null) return false;
  const whole = m[1]!;
  const fraction = m[2] ?? '';
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return true; // zero, however written
  // 15 significant digits or fewer, of a magnitude well inside the normal doubles: such a
  // decimal always comes back as written (most literals stop here, cheaply).
  const significant = withoutTrailingZeros(digits).length;
  const lead = whole.replace(/^0+/, '');
  // The power of ten of the first significant digit: 2 for 123.4, -3 for 0.001, 10 for 5e10.
  const exponent = Number(m[3] ?? '0') + (lead.length > 0 ? lead.length - 1 : -(fraction.length - fraction.replace(/^0+/, '').length) - 1);
  if (significant <= 15 && exponent > -300 && exponent < 300) return true;
  const n = Number(literal);
  // A whole number is kept when it prints back the same (a double prints integers below 1e21 in full).
  if (m[2] === undefined && m[3] === undefined && whole.length <= 21) return String(n) === literal;
  // (decimal.js would read a literal far below its range as 0 too.)
  if (!Number.isFinite(n) || n === 0) return false;
  return new Dec(literal).eq(new Dec(String(n)));
}
