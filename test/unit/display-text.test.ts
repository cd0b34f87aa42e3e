import { describe, expect, it } from 'vitest';
import { EMAIL } from '../../catalog/address.js';
import { LINE_TEXT, LINES_TEXT } from '../../core/display-text.js';

describe('text people read', () => {
  it.each([
    ['a name', 'Müller Maschinenbau GmbH', true, true],
    ['right-to-left script', 'شركة', true, true],
    ['a line break', 'ACME\r\nBcc: x@y.z', false, true],
    ['a tab', 'a\tb', false, false],
    ['a right-to-left override', 'INV-\u202e1002', false, false],
    ['an isolate', 'a\u2066b\u2069', false, false],
    ['a C1 control', 'a\u0085b', false, false],
    ['DEL', 'a\u007fb', false, false],
  ])('%s: one line %s, lines %s', (_what, text, line, lines) => {
    expect([LINE_TEXT.test(text), LINES_TEXT.test(text)]).toEqual([line, lines]);
  });
});

describe('email addresses', () => {
  it.each(['billing@example.com', 'a.b+c@sub.example.co.uk', "o'brien@x.io", 'a!b%c@x.io', 'josé@bücher.de', 'x@a-b.com', 'x@1.2.3.com'])('%s is one', (e) => {
    expect(EMAIL.test(e)).toBe(true);
  });

  it.each(['x@-bad-.com', 'x@example.com.', 'x@bad-.com', 'x@.com', 'x@example..com', 'x@localhost', 'a b@x.com', 'a@b@c.com', 'x@x-.y', 'x@y.-z', '"a"@x.com', 'a,b@x.com',
    // Control and invisible format characters: the mail library drops them and mails another mailbox.
    'a\u0001b@example.com', 'z@b.c\u200b', 'ctl@exa\u007fmple.com', 'x\u200d@y.com', 'x@y\u0000.com'])('%j is not', (e) => {
    expect(EMAIL.test(e)).toBe(false);
  });

  it('a long address that is not one is judged in linear time', () => {
    const started = Date.now();
    expect(EMAIL.test(`a@${'b'.repeat(100_000)}-`)).toBe(false);
    expect(EMAIL.test(`a@${'b-'.repeat(50_000)}.c-`)).toBe(false);
    expect(Date.now() - started).toBeLessThan(500);
  });
});
