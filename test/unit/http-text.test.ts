import { describe, expect, it } from 'vitest';
import { checkText } from '../../http/body.js';
import { decodePathParameter, parseQuery, textFault } from '../../http/text.js';
import { TallyError } from '../../core/errors.js';

/** The code and field of what `f` throws, or 'ok'. */
function outcome(f: () => unknown): string | [string, string | undefined] {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof TallyError)) throw e;
    return [e.code, e.field];
  }
}

describe('textFault', () => {
  it.each([
    ['plain ASCII', 'acme-1', undefined],
    ['an empty string', '', undefined],
    ['a surrogate pair (an emoji)', 'a😀b', undefined],
    ['other control characters (their rules are the fields’)', 'a\tb\u0001', undefined],
    ['a NUL', 'a\u0000b', /NUL/],
    ['a lone high surrogate at the end', 'x\ud800', /surrogate/],
    ['a lone low surrogate at the start', '\udc00x', /surrogate/],
    ['a high surrogate followed by a non-surrogate', '\ud800x', /surrogate/],
    ['two high surrogates', '\ud800\ud800\udc00', /surrogate/],
  ])('%s', (_what, text, fault) => {
    if (fault === undefined) expect(textFault(text)).toBeUndefined();
    else expect(textFault(text)).toMatch(fault);
  });
});

describe('decodePathParameter', () => {
  it.each([
    ['a plain value', 'abc', 'abc'],
    ['a well-formed escape', 'caf%C3%A9%2F1', 'café/1'],
    ['an escaped emoji', '%F0%9F%98%80', '😀'],
  ])('decodes %s', (_what, raw, value) => {
    expect(decodePathParameter('id', raw)).toBe(value);
  });

  it.each([
    ['a truncated escape', '%E0%A4%A'],
    ['an encoded surrogate (CESU, not UTF-8)', '%ED%A0%80'],
    ['a lone percent sign', '%'],
    ['a bare continuation byte', '%80'],
    ['an escaped NUL', 'a%00b'],
  ])('refuses %s naming the parameter', (_what, raw) => {
    expect(outcome(() => decodePathParameter('id', raw))).toEqual(['TALLY_ERR_INVALID_TEXT', 'id']);
  });
});

describe('parseQuery', () => {
  it.each([
    ['nothing', '', 'ok'],
    ['plain values', 'limit=10&starting_after=c_1', 'ok'],
    ['escapes and plus signs', 'q=a%20b+c&r=%C3%A9', 'ok'],
    ['a NUL in a value', 'limit=10&starting_after=a%00', ['TALLY_ERR_INVALID_TEXT', 'starting_after']],
    ['a NUL in a name', 'a%00=1', ['TALLY_ERR_INVALID_TEXT', 'a\\u0000']],
    // URLSearchParams would decode these to U+FFFD, another id than the client meant.
    ['an encoded surrogate in a value', 'x=%ED%A0%80', ['TALLY_ERR_INVALID_TEXT', 'x']],
    ['a truncated escape in a value', 'starting_after=%E0%A4%A', ['TALLY_ERR_INVALID_TEXT', 'starting_after']],
    ['a lone percent sign', 'q=100%', ['TALLY_ERR_INVALID_TEXT', 'q']],
    ['an encoded surrogate in a name', '%ED%A0%80=1', ['TALLY_ERR_INVALID_TEXT', '%ED%A0%80']],
  ])('%s', (_what, query, expected) => {
    expect(outcome(() => parseQuery(query))).toEqual(expected);
  });

  it('decodes as URLSearchParams does', () => {
    expect([...parseQuery('q=a%20b+c&r=%C3%A9&r=2')]).toEqual([...new URLSearchParams('q=a%20b+c&r=%C3%A9&r=2')]);
  });
});

describe('checkText (JSON bodies)', () => {
  it.each([
    ['a clean object', '{"a":"x","b":[1,"y",{"c":null}]}', 'ok'],
    ['a NUL in a top-level field', '{"name":"a\\u0000"}', ['TALLY_ERR_INVALID_TEXT', 'name']],
    ['a lone surrogate in an array element', '{"tags":["ok","\\ud800"]}', ['TALLY_ERR_INVALID_TEXT', 'tags[1]']],
    ['deep inside', '{"a":{"b":[{"c":"\\udfff"}]}}', ['TALLY_ERR_INVALID_TEXT', 'a.b[0].c']],
    ['in a key', '{"metadata":{"k\\u0000":"v"}}', ['TALLY_ERR_INVALID_TEXT', 'metadata.k\\u0000']],
    ['in a key holding a lone surrogate', '{"\\ud800":1}', ['TALLY_ERR_INVALID_TEXT', '\\ud800']],
    ['a bare string body', '"\\u0000"', ['TALLY_ERR_INVALID_TEXT', 'body']],
    ['the first fault in document order', '{"a":"\\u0000","b":"\\ud800"}', ['TALLY_ERR_INVALID_TEXT', 'a']],
  ])('%s', (_what, json, expected) => {
    expect(outcome(() => checkText(JSON.parse(json)))).toEqual(expected);
  });

  it('walks a deeply nested value without overflowing the stack', () => {
    const depth = 500_000;
    const nested = JSON.parse(`${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}`) as unknown;
    expect(outcome(() => checkText(nested))).toEqual(['TALLY_ERR_INVALID_TEXT', `${'[0]'.repeat(depth)}`]);
  });
});
