import { describe, expect, it } from 'vitest';
import { fromDecimalText, normalizeValue } from '../../ingest/value.js';
import { exactValue, parseJsonExact, unreadableNumber } from '../../ingest/json.js';

describe('event values', () => {
  it.each([
    ['0', '0'],
    ['-0', '0'],
    ['+5', '5'],
    ['0005.100', '5.1'],
    ['-0.000001', '-0.000001'],
    ['99999999999999999999.999999', '99999999999999999999.999999'],
    ['1.000000000', '1'],
  ])('decimal text %j is canonical %j', (text, canonical) => {
    expect(fromDecimalText(text)).toEqual({ ok: true, value: canonical });
  });

  it.each([
    [0.1, '0.1'],
    [-2.5, '-2.5'],
    [123456789012345, '123456789012345'],
    [0.000001, '0.000001'],
  ])('number %d is %j', (n, text) => {
    expect(normalizeValue(n)).toEqual({ ok: true, value: text });
  });

  it.each([
    ['1.', 'TALLY_ERR_VALUE_INVALID'],
    ['.5', 'TALLY_ERR_VALUE_INVALID'],
    ['1,5', 'TALLY_ERR_VALUE_INVALID'],
    ['0x10', 'TALLY_ERR_VALUE_INVALID'],
    ['1e5', 'TALLY_ERR_VALUE_INVALID'],
    ['', 'TALLY_ERR_VALUE_INVALID'],
    ['0.0000001', 'TALLY_ERR_VALUE_TOO_PRECISE'],
    ['100000000000000000000', 'TALLY_ERR_VALUE_OUT_OF_RANGE'],
  ])('decimal text %j is refused with %s', (text, code) => {
    expect(fromDecimalText(text)).toMatchObject({ ok: false, code });
  });

  it('a string value with white space around it is refused quoting it as sent', () => {
    expect(normalizeValue(' 1')).toEqual({ ok: false, code: 'TALLY_ERR_VALUE_INVALID', message: 'value " 1" has white space around it' });
    expect(normalizeValue('1\n')).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_INVALID' });
  });

  it.each([
    [Number.NaN, 'TALLY_ERR_VALUE_INVALID'],
    [Number.POSITIVE_INFINITY, 'TALLY_ERR_VALUE_INVALID'],
    [1e-7, 'TALLY_ERR_VALUE_TOO_PRECISE'],
    [0.30000000000000004, 'TALLY_ERR_VALUE_TOO_PRECISE'],
    [1e21, 'TALLY_ERR_VALUE_OUT_OF_RANGE'],
    [null, 'TALLY_ERR_VALUE_INVALID'],
  ])('%s is refused with %s', (v, code) => {
    expect(normalizeValue(v)).toMatchObject({ ok: false, code });
  });

  it('takes the exact path for long literals and checks them as written', () => {
    const long = parseJsonExact('{"v": 0.1000000000000000001, "w": 1234567890123456789}');
    expect(long.lossless).toBe(true);
    const { v, w } = long.data as { v: unknown; w: unknown };
    expect(exactValue(v)).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_TOO_PRECISE' });
    expect(exactValue(w)).toEqual({ ok: true, value: '1234567890123456789' });
    const short = parseJsonExact('{"v": 0.25}');
    expect(short.lossless).toBe(false);
    expect(exactValue((short.data as { v: unknown }).v)).toEqual({ ok: true, value: '0.25' });
  });

  it('judges huge or tiny exponent literals without writing their digits out', () => {
    // Without the check this would try to build a billion-character string.
    const { data } = parseJsonExact('{"a": 1.000000000000000e1000000000, "b": 1.000000000000000e-1000000000, "c": 1.234567890123456e3}');
    const { a, b, c } = data as Record<string, unknown>;
    expect(exactValue(a)).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_OUT_OF_RANGE' });
    expect(exactValue(b)).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_TOO_PRECISE' });
    expect(exactValue(c)).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_TOO_PRECISE' });
  });

  it('a value of 200,000 zeros before its last digit is refused in linear time, its message cut short', () => {
    // Trailing zeros were cut with /0+$/, which restarts at every zero of a run that does not
    // end the text: 80,000 zeros held the event loop for 3.5 s, these 200,000 about 20 s.
    // Not a speed figure: a hang guard, some thousand times above the linear time.
    const text = `0.${'0'.repeat(200_000)}1`;
    const started = performance.now();
    const r = normalizeValue(text);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(r).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_TOO_PRECISE' });
    expect(r.ok ? '' : r.message.length).toBeLessThan(200);
    expect(fromDecimalText(`1.5${'0'.repeat(1_000_000)}`)).toEqual({ ok: true, value: '1.5' });
  });

  it('exponents past a double take the exact path too: 1e-400 is too precise, not 0, and 1e400 too large', () => {
    const parsed = parseJsonExact('{"a": 1e-400, "b": 1e400, "c": -2E+300}');
    expect(parsed.lossless).toBe(true);
    const { a, b, c } = parsed.data as Record<string, unknown>;
    expect(exactValue(a)).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_TOO_PRECISE' });
    expect(exactValue(b)).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_OUT_OF_RANGE' });
    expect(exactValue(c)).toMatchObject({ ok: false, code: 'TALLY_ERR_VALUE_OUT_OF_RANGE' });
    expect(parseJsonExact('{"a": 1e-7, "b": 2.5e2}').lossless).toBe(false);
  });

  it('a random decimal of at most 15 significant digits survives a double exactly (why the fast path is safe)', () => {
    for (let i = 0; i < 5000; i++) {
      const digits = 1 + Math.floor(Math.random() * 15);
      let s = '';
      for (let d = 0; d < digits; d++) s += String(Math.floor(Math.random() * 10));
      const decimals = Math.min(6, Math.floor(Math.random() * (digits + 1)));
      const intPart = s.slice(0, digits - decimals).replace(/^0+/, '') || '0'; // JSON allows no leading zeros
      const literal = decimals === 0 ? intPart : `${intPart}.${s.slice(digits - decimals)}`;
      expect(normalizeValue(JSON.parse(literal)), literal).toEqual(fromDecimalText(literal));
      // And whichever path the parser picks, the result is the same.
      expect(exactValue((parseJsonExact(`{"v": ${literal}}`).data as { v: unknown }).v), literal).toEqual(fromDecimalText(literal));
    }
  });
});

describe('fromDecimalText, fast path and general path', () => {
  /** The rules written out the long way: the answer for any text must be this one. */
  function reference(text: string): string | undefined {
    const m = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(text);
    if (m === null) return undefined;
    const intPart = m[2]!.replace(/^0+(?=\d)/, '');
    const frac = (m[3] ?? '').replace(/0+$/, '');
    if (frac.length > 6 || intPart.length > 20) return undefined;
    const zero = intPart === '0' && frac === '';
    return `${zero || m[1] !== '-' ? '' : '-'}${intPart}${frac === '' ? '' : `.${frac}`}`;
  }

  it('agrees with the rules for every text built from digits, dots, signs and zeros', () => {
    const parts = ['', '0', '00', '1', '10', '7', '.', '..', '5', '50', '000001', '0000001', '+', '-', ' ', 'e', '9'.repeat(20), '9'.repeat(21)];
    let checked = 0;
    for (const a of parts) for (const b of parts) for (const c of parts) {
      const text = a + b + c;
      const r = fromDecimalText(text);
      expect(r.ok ? r.value : undefined, JSON.stringify(text)).toBe(reference(text));
      checked++;
    }
    expect(checked).toBe(parts.length ** 3);
  });
});

describe('numbers in properties the event store must read back exactly', () => {
  const first = (text: string) => unreadableNumber(parseJsonExact(text).data);

  it.each([
    ['an integer of 64 bits', '{"id": 1234567890123456789}'],
    ['the largest unsigned 64-bit integer', '{"n": 18446744073709551615}'],
    ['the smallest signed 64-bit integer', '{"n": -9223372036854775808}'],
    ['a double written shortest', '{"n": 0.30000000000000004}'],
    ['a small number with a long run of zeros', '{"n": 0.0000000000000000012}'],
    ['a large exponent a double holds', '{"n": 1e300, "m": 2.5E-300}'],
    ['a long digit run inside a string only', '{"s": "12345678901234567890123"}'],
  ])('%s is kept', (_what, text) => {
    expect(parseJsonExact(text).lossless).toBe(true);
    expect(first(text)).toBeUndefined();
  });

  it.each([
    ['an integer beyond 64 bits', '{"big": 18446744073709551616}', 'big', '18446744073709551616'],
    ['a negative integer beyond 64 bits', '{"n": -9223372036854775809}', 'n', '-9223372036854775809'],
    ['a 30-digit integer', '{"a": {"b": [1, 123456789012345678901234567890]}}', 'a.b[1]', '123456789012345678901234567890'],
    ['a decimal a double rounds', '{"v": 123456789012345678.25}', 'v', '123456789012345678.25'],
    ['a fraction a double rounds', '{"v": 0.1000000000000000001}', 'v', '0.1000000000000000001'],
    ['beyond a double', '{"v": 1e400}', 'v', '1e400'],
    ['below a double', '{"v": 1e-400}', 'v', '1e-400'],
  ])('%s is named with its path', (_what, text, path, literal) => {
    expect(first(text)).toEqual({ path, literal });
  });

  it('a run of a million digits is judged without converting it', () => {
    const text = `{"n": ${'9'.repeat(1_000_000)}}`;
    const started = Date.now();
    expect(first(text)?.path).toBe('n');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('a key given twice in an event', () => {
  it('the last one wins on both paths, as JSON.parse has it', () => {
    const fast = parseJsonExact('{"value": "1", "value": "5"}');
    const exact = parseJsonExact('{"value": "1", "value": "5", "id": "12345678901234567890"}');
    expect([fast.lossless, exact.lossless]).toEqual([false, true]);
    expect((fast.data as { value: string }).value).toBe('5');
    expect((exact.data as { value: string }).value).toBe('5');
  });
});
