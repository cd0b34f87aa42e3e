import { describe, expect, it } from 'vitest';
import { isTallyError } from '../../core/errors.js';
import { validateEvent, type ValidationContext } from '../../ingest/event.js';
import { parseEvents, type Format } from '../../ingest/parse.js';
import { Packr, pack } from '../support/msgpack.js';

/**
 * Bodies that decode into something other than what was sent: msgpackr's own extensions
 * (records, references, Sets...), msgpack values JSON has no form for, properties nested
 * deeper than the event store reads, and CloudEvents data sent as base64.
 */
const ctx: ValidationContext = {
  tenantId: 't',
  limits: { maxProperties: 50, maxPropertiesBytes: 10_000, maxAgeSeconds: 3600, maxFutureSeconds: 300 },
  now: Date.parse('2026-11-22T10:00:00Z'),
  ingestedAt: Date.parse('2026-11-22T10:00:00Z') * 1000,
};
const ev = { customer: 'acme', meter: 'api_calls', value: '1' };

function results(format: Format, body: Buffer) {
  return parseEvents(format, body, 10_000).map((raw, i) => validateEvent(raw, i, ctx));
}

function refusal(format: Format, body: Buffer): { code: string; message: string } {
  try {
    parseEvents(format, body, 10_000);
  } catch (e) {
    if (isTallyError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('the body was taken');
}

describe('msgpack extensions other than the timestamp', () => {
  it('records (msgpackr packs maps so by default) are refused whole: their strings would escape the UTF-8 check', () => {
    // Two ids that differ on the wire but decode alike would have been one event and a duplicate.
    const body = Buffer.from(new Packr().pack([{ ...ev, id: 'evt-\ud800' }, { ...ev, id: 'evt-\ud801' }]));
    expect(refusal('msgpack', body)).toEqual({ code: 'TALLY_ERR_INVALID_BODY', message: expect.stringMatching(/^msgpack extension type 114 is not taken/) });
  });

  it('references are refused before anything is built from them: a few hundred bytes made an object of millions', () => {
    let shared: unknown = { k: 'v' };
    for (let i = 0; i < 22; i++) shared = { a: shared, b: shared };
    const body = Buffer.from(new Packr({ structuredClone: true, useRecords: false }).pack([{ ...ev, id: 'bomb', properties: shared }]));
    expect(body.length).toBeLessThan(1000);
    expect(refusal('msgpack', body).code).toBe('TALLY_ERR_INVALID_BODY');
  });

  it.each([
    ['a Set', new Set([1])],
    ['a RegExp', /x/],
    ['a typed array', new Float64Array([1])],
    ['undefined', undefined],
  ])('%s is refused', (_what, value) => {
    const body = Buffer.from(new Packr({ useRecords: false, moreTypes: true, encodeUndefinedAsNil: false }).pack([{ ...ev, id: 'x', properties: { p: value } }]));
    expect(refusal('msgpack', body).code).toBe('TALLY_ERR_INVALID_BODY');
  });

  it('a timestamp is taken, as the timestamp or a property', () => {
    const at = new Date('2026-11-22T09:30:00Z');
    const [v] = results('msgpack', Buffer.from(pack([{ ...ev, id: 't', timestamp: at, properties: { when: at } }])));
    expect(v).toMatchObject({ ok: true, row: { timestamp: at.getTime(), properties: '{"when":"2026-11-22T09:30:00.000Z"}' } });
  });
});

describe('msgpack values JSON cannot write', () => {
  it.each([
    ['binary data', { blob: Buffer.from('abc') }, '.blob', 'binary data'],
    ['NaN', { n: Number.NaN }, '.n', 'NaN'],
    ['Infinity, nested', { a: [1, { b: Number.POSITIVE_INFINITY }] }, '.a[1].b', 'Infinity'],
  ])('%s in properties is refused, naming where, and the other events go on', (_what, properties, path, what) => {
    const body = Buffer.from(pack([{ ...ev, id: 'before' }, { ...ev, id: 'bad', properties }, { ...ev, id: 'after' }]));
    const [before, bad, after] = results('msgpack', body);
    expect(before?.ok).toBe(true);
    expect(after?.ok).toBe(true);
    expect(bad).toMatchObject({ ok: false, rejection: { id: 'bad', code: 'TALLY_ERR_PROPERTIES_INVALID', message: expect.stringContaining(`properties${path} is ${what}`) } });
  });
});

describe('properties nesting', () => {
  const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
  it.each(['json', 'msgpack'] as const)('%s: 64 levels are taken, 65 refused (the store would read none of them)', (format) => {
    const body = (levels: number) => {
      const properties = JSON.parse(nested(levels)) as unknown;
      const event = { ...ev, id: `d${levels}`, properties };
      return format === 'json' ? Buffer.from(JSON.stringify([event])) : Buffer.from(pack([event]));
    };
    expect(results(format, body(64))[0]?.ok).toBe(true);
    expect(results(format, body(65))[0]).toMatchObject({ ok: false, rejection: { code: 'TALLY_ERR_PROPERTIES_INVALID', message: 'properties is nested more than 64 levels deep' } });
  });

  it('brackets inside strings do not count', () => {
    const body = Buffer.from(JSON.stringify([{ ...ev, id: 's', properties: { text: '['.repeat(500), quoted: '\\"{{{{' } }]));
    expect(results('json', body)[0]?.ok).toBe(true);
  });
});

describe('CloudEvents data_base64', () => {
  it('is refused: its properties would be stored as none', () => {
    const body = Buffer.from(JSON.stringify({ specversion: '1.0', id: 'b1', source: 's', type: 'api_calls', subject: 'acme', data_base64: 'eyJrIjoiNSJ9' }));
    expect(results('cloudevents', body)[0]).toMatchObject({ ok: false, rejection: { code: 'TALLY_ERR_CLOUDEVENT_INVALID', message: 'data_base64 is not taken: send the properties as JSON in data' } });
  });
});
