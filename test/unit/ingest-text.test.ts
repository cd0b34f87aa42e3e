import { pack } from '../support/msgpack.js';
import { describe, expect, it } from 'vitest';
import { isTallyError } from '../../core/errors.js';
import { validateEvent, type ValidationContext } from '../../ingest/event.js';
import { parseEvents, type Format } from '../../ingest/parse.js';
import { invalidUtf8Fields } from '../../ingest/msgpack-utf8.js';

/**
 * Text that is not well-formed Unicode is refused per event, in every body format: ClickHouse
 * cannot store a lone surrogate and refused the whole shared insert holding one.
 */
const ctx: ValidationContext = {
  tenantId: 't',
  limits: { maxProperties: 50, maxPropertiesBytes: 10_000, maxAgeSeconds: 3600, maxFutureSeconds: 300 },
  now: Date.parse('2026-11-22T10:00:00Z'),
  ingestedAt: Date.parse('2026-11-22T10:00:00Z') * 1000,
};

function results(format: Format, body: Buffer) {
  return parseEvents(format, body, 100).map((raw, i) => validateEvent(raw, i, ctx));
}

/** The codes of a body's events, '' for an accepted one. */
function codes(format: Format, body: Buffer): string[] {
  return results(format, body).map((v) => (v.ok ? '' : v.rejection.code));
}

const ev = { id: 'e1', customer: 'acme', meter: 'api_calls', value: '1' };
// JSON text written by hand: JSON.stringify would escape a lone surrogate the same way.
const json = (fields: string) => Buffer.from(`{"meter":"api_calls","value":"1",${fields}}`);
const LONG = '1234567890123456'; // a 16-digit run sends the body through the exact (lossless) parser

describe('lone surrogates in JSON text', () => {
  it.each([
    ['a lone high surrogate in id', json('"id":"x\\ud800","customer":"acme"'), 'TALLY_ERR_ID_INVALID'],
    ['a lone low surrogate in id', json('"id":"\\udc00x","customer":"acme"'), 'TALLY_ERR_ID_INVALID'],
    ['two high surrogates in id', json('"id":"\\ud800\\ud800","customer":"acme"'), 'TALLY_ERR_ID_INVALID'],
    ['a lone surrogate in customer', json('"id":"e1","customer":"x\\ud800"'), 'TALLY_ERR_CUSTOMER_INVALID'],
    ['a lone surrogate in a property value', json('"id":"e1","customer":"acme","properties":{"region":"eu\\udfff"}'), 'TALLY_ERR_PROPERTIES_INVALID'],
    ['a lone surrogate in a property key', json('"id":"e1","customer":"acme","properties":{"r\\ud800":"eu"}'), 'TALLY_ERR_PROPERTIES_INVALID'],
    ['a lone surrogate nested in properties', json('"id":"e1","customer":"acme","properties":{"a":[{"b":"\\ud800"}]}'), 'TALLY_ERR_PROPERTIES_INVALID'],
    ['a lone surrogate in properties, exact parser', json(`"id":"e1","customer":"acme","properties":{"n":${LONG},"a":"\\ud800"}`), 'TALLY_ERR_PROPERTIES_INVALID'],
    ['a lone surrogate in id, exact parser', json(`"id":"x\\ud800","customer":"acme","properties":{"n":${LONG}}`), 'TALLY_ERR_ID_INVALID'],
    ['NUL in id (a control character)', json('"id":"x\\u0000","customer":"acme"'), 'TALLY_ERR_ID_INVALID'],
    ['NUL in customer', json('"id":"e1","customer":"a\\u0000"'), 'TALLY_ERR_CUSTOMER_INVALID'],
  ])('%s → %s', (_what, body, code) => {
    expect(codes('json', body)).toEqual([code]);
  });

  it.each([
    ['a surrogate pair (an emoji) in id and properties', json('"id":"x\\ud83d\\ude00","customer":"acme","properties":{"e":"\\ud83d\\ude00"}')],
    ['an escaped backslash before "ud800" (text, not an escape)', json('"id":"e1","customer":"acme","properties":{"p":"\\\\ud800","q":"a\\\\\\\\ud800"}')],
    // ClickHouse keeps NUL inside the properties text as the escape \u0000 and reads it back exactly.
    ['NUL in a property value', json('"id":"e1","customer":"acme","properties":{"p":"a\\u0000b"}')],
  ])('%s is accepted', (_what, body) => {
    expect(codes('json', body)).toEqual(['']);
  });

  it('CloudEvents: id, subject and data are held to the same rule', () => {
    const ce = (fields: string) => Buffer.from(`{"specversion":"1.0","source":"s","type":"api_calls",${fields}}`);
    expect(codes('cloudevents', ce('"id":"x\\ud800","subject":"acme"'))).toEqual(['TALLY_ERR_ID_INVALID']);
    expect(codes('cloudevents', ce('"id":"e1","subject":"\\ud800"'))).toEqual(['TALLY_ERR_CUSTOMER_INVALID']);
    expect(codes('cloudevents', ce('"id":"e1","subject":"acme","data":{"k":"\\ud800"}'))).toEqual(['TALLY_ERR_PROPERTIES_INVALID']);
  });

  it('NDJSON: only the line holding one is refused', () => {
    const body = Buffer.from(['{"id":"a","customer":"acme","meter":"m"}', '{"id":"b\\ud800","customer":"acme","meter":"m"}', '{"id":"c","customer":"acme","meter":"m"}'].join('\n'));
    expect(codes('ndjson', body)).toEqual(['', 'TALLY_ERR_ID_INVALID', '']);
  });
});

describe('bytes that are not UTF-8', () => {
  const bad = Buffer.from([0x78, 0xff, 0x79]);

  it('a JSON body is refused whole (it is not JSON text), not read with U+FFFD in place of the bytes', () => {
    const body = Buffer.concat([Buffer.from('{"id":"'), bad, Buffer.from('","customer":"acme","meter":"m"}')]);
    let caught: unknown;
    try {
      parseEvents('json', body, 100);
    } catch (e) {
      caught = e;
    }
    expect(isTallyError(caught) && caught.code).toBe('TALLY_ERR_INVALID_JSON');
  });

  it('NDJSON: the line holding them is refused alone', () => {
    const body = Buffer.concat([Buffer.from('{"id":"a","customer":"acme","meter":"m"}\n{"id":"'), bad, Buffer.from('","customer":"acme","meter":"m"}\n{"id":"c","customer":"acme","meter":"m"}\n')]);
    expect(codes('ndjson', body)).toEqual(['', 'TALLY_ERR_EVENT_INVALID', '']);
  });

  /** A msgpack body of `events` with the bytes of `marker` replaced by `bytes` (same length). */
  function msgpackWith(events: object, marker: string, bytes: number[]): Buffer {
    const body = Buffer.from(pack(events));
    const at = body.indexOf(marker);
    expect(at).toBeGreaterThan(0);
    Buffer.from(bytes).copy(body, at);
    return body;
  }

  it.each([
    ['id', { ...ev, id: 'MARK' }, 'TALLY_ERR_ID_INVALID'],
    ['customer', { ...ev, customer: 'MARK' }, 'TALLY_ERR_CUSTOMER_INVALID'],
    ['a property value', { ...ev, properties: { region: 'MARK' } }, 'TALLY_ERR_PROPERTIES_INVALID'],
    ['a property key', { ...ev, properties: { MARK: 'eu' } }, 'TALLY_ERR_PROPERTIES_INVALID'],
    ['a nested property', { ...ev, properties: { a: { b: ['MARK'] } } }, 'TALLY_ERR_PROPERTIES_INVALID'],
  ])('msgpack: a string in %s that is not UTF-8 → %s, the other events accepted', (_what, poisoned, code) => {
    for (const bytes of [
      [0x78, 0xff, 0x79, 0x7a], // a byte that is never UTF-8
      [0x78, 0xed, 0xa0, 0x80], // a surrogate encoded as if it were a character (CESU-8)
      [0x78, 0x79, 0xe2, 0x82], // a truncated sequence
    ]) {
      const body = msgpackWith([{ ...ev, id: 'before' }, poisoned, { ...ev, id: 'after' }], 'MARK', bytes);
      expect(codes('msgpack', body), bytes.join(',')).toEqual(['', code, '']);
    }
  });

  it('msgpack: a real U+FFFD sent as UTF-8 is kept, and a long string is checked too', () => {
    expect(codes('msgpack', Buffer.from(pack([{ ...ev, id: 'x\ufffd' }])))).toEqual(['']);
    const long = 'L'.repeat(200);
    const body = msgpackWith([{ ...ev, properties: { p: long } }], long, [...Buffer.from('L'.repeat(199)), 0xff]);
    expect(codes('msgpack', body)).toEqual(['TALLY_ERR_PROPERTIES_INVALID']);
  });

  it('the msgpack reader names the event and field, through every kind of value', () => {
    const events = [
      { id: 'a', n: [1, -1, 300, -300, 70000, -70000, 2 ** 40, -(2 ** 40), 1.5, true, false, null], b: new Uint8Array([1, 2, 3]), d: new Date(0) },
      { id: 'b', nested: { deep: [[['MARK']]] } },
    ];
    const body = msgpackWith(events, 'MARK', [0x78, 0xff, 0x79, 0x7a]);
    expect([...invalidUtf8Fields(body)]).toEqual([[1, 'nested']]);
    expect([...invalidUtf8Fields(Buffer.from(pack(events)))]).toEqual([]);
    expect([...invalidUtf8Fields(msgpackWith({ id: 'MARK' }, 'MARK', [0xff, 0x41, 0x41, 0x41]))]).toEqual([[0, 'id']]);
  });
});
