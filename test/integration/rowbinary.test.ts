import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRow } from '../../ingest/event.js';
import { encodeRows, rowEnds, ROW_STRUCTURE } from '../../ingest/rowbinary.js';
import { openTestStores, type TestStores } from '../support/stores.js';

/**
 * The log's RowBinary encoder against the engine that reads it: every row written comes back
 * from ClickHouse exactly, for the edges of each column type.
 */
let stores: TestStores;
let dir: string;
beforeAll(async () => {
  stores = await openTestStores();
  dir = mkdtempSync(path.join(os.tmpdir(), 'tally-rowbinary-'));
});
afterAll(async () => {
  await stores.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const base: EventRow = { tenant_id: 'ten_1', id: 'e', customer: 'c', meter: 'm', value: '1', timestamp: Date.parse('2026-11-20T10:00:00.123Z'), properties: '{}', ingested_at: Date.parse('2026-11-20T10:00:01Z') * 1000 + 456 };
const text = (bytes: number) => 'p'.repeat(bytes);

const cases: [string, Partial<EventRow>, Partial<Record<keyof EventRow, string>>][] = [
  ['no value', { value: null }, { value: '' }],
  ['zero', { value: '0' }, { value: '0' }],
  ['the smallest step', { value: '-0.000001' }, { value: '-0.000001' }],
  ['the largest value', { value: '99999999999999999999.999999' }, { value: '99999999999999999999.999999' }],
  ['the most negative value', { value: '-99999999999999999999.999999' }, { value: '-99999999999999999999.999999' }],
  ['a value past 2^64 scaled', { value: '18446744073709.551617' }, { value: '18446744073709.551617' }],
  ['a negative value past 2^63 scaled', { value: '-9223372036854.775809' }, { value: '-9223372036854.775809' }],
  ['an integer', { value: '42' }, { value: '42' }],
  ['text in several scripts', { id: 'Ωμέγα 日本語 😀', customer: 'Ещё' }, { id: 'Ωμέγα 日本語 😀', customer: 'Ещё' }],
  ['a 127-byte string (one length byte)', { properties: text(127) }, { properties: text(127) }],
  ['a 128-byte string (two length bytes)', { properties: text(128) }, { properties: text(128) }],
  ['16,383 bytes (two length bytes)', { properties: text(16_383) }, { properties: text(16_383) }],
  ['16,384 bytes (three length bytes)', { properties: text(16_384) }, { properties: text(16_384) }],
  ['1 MiB of properties (the largest a setting allows)', { properties: text(1 << 20) }, { properties: text(1 << 20) }],
  ['multi-byte text past a length boundary', { properties: `{"k":"${'é'.repeat(70)}"}` }, { properties: `{"k":"${'é'.repeat(70)}"}` }],
  ['a NUL escape inside properties', { properties: '{"k":"a\\u0000b"}' }, { properties: '{"k":"a\\u0000b"}' }],
  ['the epoch', { timestamp: 0, ingested_at: 0 }, { timestamp: '1970-01-01 00:00:00.000', ingested_at: '1970-01-01 00:00:00.000000' }],
  ['far in the future', { timestamp: Date.parse('2199-12-31T23:59:59.999Z') }, { timestamp: '2199-12-31 23:59:59.999' }],
];

describe('RowBinary rows', () => {
  it.each(cases)('%s comes back exactly from the engine', async (_what, over, expected) => {
    const row = { ...base, ...over };
    const file = path.join(dir, `${Math.random().toString(36).slice(2)}.rows`);
    const bytes = encodeRows([row, base, row]);
    expect(rowEnds(bytes)).toHaveLength(3);
    writeFileSync(file, bytes);
    const structure = ROW_STRUCTURE.replaceAll("'", "\\'");
    const rs = await stores.clickhouse.client.query({
      query: `SELECT tenant_id, id, customer, meter, ifNull(toString(value), '') AS value, toString(timestamp) AS timestamp, properties, toString(ingested_at) AS ingested_at
              FROM file('${file}', 'RowBinary', '${structure}')`,
      format: 'JSONEachRow',
    });
    const got = await rs.json<Record<string, string>>();
    expect(got).toHaveLength(3);
    const want = {
      tenant_id: row.tenant_id,
      id: row.id,
      customer: row.customer,
      meter: row.meter,
      value: row.value ?? '',
      timestamp: '2026-11-20 10:00:00.123',
      properties: row.properties,
      ingested_at: '2026-11-20 10:00:01.000456',
      ...expected,
    };
    expect(got[0]).toEqual(want);
    expect(got[2]).toEqual(want);
    expect(got[1]).toMatchObject({ id: 'e', value: '1' });
  });

  it('row boundaries are found for many rows and refused for bytes that are not whole rows', () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({ ...base, id: `r${i}`, value: i % 3 === 0 ? null : String(i), properties: text(i) }));
    const bytes = encodeRows(rows);
    const ends = rowEnds(bytes)!;
    expect(ends).toHaveLength(500);
    expect(ends.at(-1)).toBe(bytes.length);
    expect(rowEnds(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
    expect(rowEnds(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
  });
});
