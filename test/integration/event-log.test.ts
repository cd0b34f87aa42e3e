import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { createRegistry } from '../../core/metrics.js';
import { migrateClickHouse, loadMigrations, migrationsDir } from '../../core/migrate.js';
import type { EventRow } from '../../ingest/event.js';
import { IngestLog } from '../../ingest/event-log.js';
import { recoverLog, segmentPath } from '../../ingest/log-recovery.js';
import { nodeLogIo, type LogIo } from '../../ingest/log-io.js';
import { eventLogMetrics } from '../../ingest/metrics.js';
import { encodeRows } from '../../ingest/rowbinary.js';
import { FRAME_BYTES, frameRecord } from '../../ingest/segment.js';
import { Shipper } from '../../ingest/shipper.js';
import { clickHouseSink, type SegmentSink } from '../../ingest/sink.js';
import { openTestStores, type TestStores } from '../support/stores.js';

/**
 * The event log and its shipper on the real embedded ClickHouse: what a crash leaves in a
 * segment, and what a crash between an insert and its bookkeeping leaves in the store.
 */
let stores: TestStores;
const dirs: string[] = [];
beforeAll(async () => {
  stores = await openTestStores();
  await migrateClickHouse(stores.clickhouse, loadMigrations(migrationsDir('clickhouse')));
});
afterAll(async () => {
  await stores.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const logger = createLogger({ logLevel: 'silent' });
const T0 = Date.parse('2026-11-20T10:00:00Z');

function logDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'tally-log-'));
  dirs.push(d);
  return d;
}

function openLog(dir: string, over: { segmentBytes?: number; sealMs?: number; io?: LogIo } = {}) {
  const registry = createRegistry();
  const metrics = eventLogMetrics(registry);
  const log = IngestLog.open({ dir, segmentBytes: over.segmentBytes ?? 1 << 20, sealMs: over.sealMs ?? 60_000, maxPendingBytes: 1 << 30, retryAfterSeconds: 1, metrics, logger, ...(over.io ? { io: over.io } : {}) });
  return { log, metrics, registry };
}

function shipperFor(opened: ReturnType<typeof openLog>, sink: SegmentSink, dir: string): Shipper {
  return new Shipper({ log: opened.log, sink, metrics: opened.metrics, logger, refusedDir: path.join(dir, 'refused'), retryMs: 20, maxRetryMs: 100 });
}

let tenantSeq = 0;
function rows(tenant: string, ids: string[]): EventRow[] {
  return ids.map((id, i) => ({ tenant_id: tenant, id, customer: 'c', meter: 'm', value: String(i), timestamp: T0 + i, properties: '{}', ingested_at: (T0 + i) * 1000 }));
}

async function countById(tenant: string): Promise<Record<string, number>> {
  const rs = await stores.clickhouse.client.query({
    query: `SELECT id, count() AS n FROM ${stores.clickhouse.table('raw_events_v1')} WHERE tenant_id = {t:String} GROUP BY id ORDER BY id`,
    query_params: { t: tenant },
    format: 'JSONEachRow',
  });
  return Object.fromEntries((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)]));
}

const segmentFiles = (dir: string) => readdirSync(dir).filter((n) => /^\d{12}-[0-9a-f]{16}\.(rows|frames)$/.test(n)).sort();
const ID = '0123456789abcdef';

describe('a torn tail', () => {
  it.each([
    ['an append whose frame record is half written', (rowsFile: string, framesFile: string, extra: Buffer) => {
      appendFileSync(rowsFile, extra);
      appendFileSync(framesFile, frameRecord(extra, 2).subarray(0, FRAME_BYTES - 7));
    }],
    ['an append whose rows are half written (its frame record whole)', (rowsFile: string, framesFile: string, extra: Buffer) => {
      appendFileSync(rowsFile, extra.subarray(0, extra.length >> 1));
      appendFileSync(framesFile, frameRecord(extra, 2));
    }],
    ['an append whose rows were overwritten on disk', (rowsFile: string, framesFile: string, extra: Buffer) => {
      const garbled = Buffer.from(extra);
      const at = garbled.length - 3;
      garbled.writeUInt8(garbled.readUInt8(at) ^ 0xff, at);
      appendFileSync(rowsFile, garbled);
      appendFileSync(framesFile, frameRecord(extra, 2));
    }],
  ])('%s is cut on restart: every acknowledged event ships once, nothing invented', async (_what, tear) => {
    const dir = logDir();
    const tenant = `torn${tenantSeq++}`;
    const first = openLog(dir);
    await first.log.append(encodeRows(rows(tenant, ['a', 'b'])), 2);
    await first.log.append(encodeRows(rows(tenant, ['c'])), 1);
    // The process dies while the next append is being written: its request was never answered.
    const [rowsFile, framesFile] = ['rows', 'frames'].map((kind) => path.join(dir, segmentFiles(dir).find((n) => n.endsWith(`.${kind}`))!));
    tear(rowsFile!, framesFile!, encodeRows(rows(tenant, ['torn1', 'torn2'])));

    const second = openLog(dir);
    expect(second.log.sealedSegments.map((s) => ({ rows: s.rows, appends: s.appends.length }))).toEqual([{ rows: 3, appends: 2 }]);
    expect(await second.registry.getSingleMetricAsString('tally_eventlog_torn_bytes_total')).toMatch(/ [1-9]\d*$/m);
    const shipper = shipperFor(second, clickHouseSink(stores.clickhouse), dir);
    shipper.start();
    expect(await shipper.drain(20_000)).toBe(true);
    await shipper.stop();
    expect(await countById(tenant)).toEqual({ a: 1, b: 1, c: 1 });
    expect(segmentFiles(dir)).toEqual([]);
  });

  it('a restart on a log with acknowledged events not shipped says so in its log', async () => {
    const dir = logDir();
    const tenant = `left${tenantSeq++}`;
    const first = openLog(dir);
    await first.log.append(encodeRows(rows(tenant, ['a', 'b', 'c'])), 3);
    const said: { obj: Record<string, unknown>; msg: string }[] = [];
    const recording = { ...logger, info: (obj: Record<string, unknown>, msg: string) => void said.push({ obj, msg }) } as unknown as typeof logger;
    const { recovered } = recoverLog(dir, eventLogMetrics(createRegistry()), recording);
    expect(recovered.map((r) => r.rows)).toEqual([3]);
    expect(said).toEqual([{ obj: { segments: 1, rows: 3, bytes: recovered[0]!.bytes }, msg: expect.stringContaining('not shipped yet') }]);
  });

  it('a segment with rows but no whole append is dropped, and frames left by a shipped segment are removed', () => {
    const dir = logDir();
    writeFileSync(segmentPath(dir, 1, ID, 'rows'), Buffer.from('half an append'));
    writeFileSync(segmentPath(dir, 1, ID, 'frames'), Buffer.alloc(5));
    writeFileSync(segmentPath(dir, 2, ID, 'frames'), frameRecord(Buffer.from('x'), 1));
    writeFileSync(path.join(dir, `000000000003-${ID}.check.rows`), 'scratch');
    const opened = openLog(dir);
    expect(opened.log.sealedSegments).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['node.id']);
  });
});

describe('the shipper', () => {
  it('killed between its insert and its bookkeeping, ships the segment again on restart and the store keeps one copy', async () => {
    const dir = logDir();
    const tenant = `crash${tenantSeq++}`;
    const first = openLog(dir);
    await first.log.append(encodeRows(rows(tenant, ['x1', 'x2', 'x3'])), 3);
    await first.log.sealNow();
    const real = clickHouseSink(stores.clickhouse);
    let inserted = false;
    // The insert goes in; the process dies before the segment is deleted (it never returns).
    const dying: SegmentSink = { ...real, insert: async (file, token) => {
      await real.insert(file, token);
      inserted = true;
      await new Promise(() => undefined);
    } };
    const before = shipperFor(first, dying, dir);
    before.start();
    for (let i = 0; i < 400 && !inserted; i++) await new Promise((r) => setTimeout(r, 10));
    expect(inserted).toBe(true);
    expect(await countById(tenant)).toEqual({ x1: 1, x2: 1, x3: 1 });
    expect(segmentFiles(dir)).toHaveLength(2);

    // Restart: the segment is still there, and ships first.
    const second = openLog(dir);
    expect(second.log.sealedSegments.map((s) => s.rows)).toEqual([3]);
    await second.log.append(encodeRows(rows(tenant, ['y1'])), 1);
    const after = shipperFor(second, real, dir);
    after.start();
    expect(await after.drain(20_000)).toBe(true);
    await after.stop();
    expect(await countById(tenant)).toEqual({ x1: 1, x2: 1, x3: 1, y1: 1 });
    expect(segmentFiles(dir)).toEqual([]);
    // The tables the raw inserts feed keep one record per copy too: a second record of the only
    // copy of x1 would make it look like a later copy of itself.
    for (const table of ['event_ids_v1', 'event_hours_v1']) {
      const rs = await stores.clickhouse.client.query({
        query: `SELECT id, toString(count()) AS n FROM ${stores.clickhouse.table(table)} WHERE tenant_id = {t:String} GROUP BY id ORDER BY id`,
        query_params: { t: tenant },
        format: 'JSONEachRow',
      });
      expect(Object.fromEntries((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)])), table).toEqual({ x1: 1, x2: 1, x3: 1, y1: 1 });
    }
  });

  it('an insert whose answer was lost is retried under the same token and inserts nothing twice', async () => {
    const dir = logDir();
    const tenant = `lost${tenantSeq++}`;
    const opened = openLog(dir);
    const real = clickHouseSink(stores.clickhouse);
    let lose = 2;
    let attempts = 0;
    const flaky: SegmentSink = { ...real, insert: async (file, token) => {
      attempts++;
      await real.insert(file, token);
      if (lose-- > 0) throw new Error('injected: connection reset after the insert');
    } };
    const shipper = shipperFor(opened, flaky, dir);
    shipper.start();
    await opened.log.append(encodeRows(rows(tenant, ['l1', 'l2'])), 2);
    expect(await shipper.drain(20_000)).toBe(true);
    await opened.log.append(encodeRows(rows(tenant, ['l3'])), 1);
    expect(await shipper.drain(20_000)).toBe(true);
    await shipper.stop();
    expect(attempts).toBe(4);
    expect(await countById(tenant)).toEqual({ l1: 1, l2: 1, l3: 1 });
  });

  it('ships segments in order, large and few: appends between seals go in one insert', async () => {
    const dir = logDir();
    const tenant = `order${tenantSeq++}`;
    const opened = openLog(dir, { segmentBytes: 4096 });
    const real = clickHouseSink(stores.clickhouse);
    const order: number[] = [];
    const watching: SegmentSink = { ...real, insert: async (file, token) => {
      order.push(Number(path.basename(file).slice(0, 12)));
      await real.insert(file, token);
    } };
    const appends = Array.from({ length: 60 }, (_, i) => opened.log.append(encodeRows(rows(tenant, [`o${i}`])), 1));
    await Promise.all(appends);
    const shipper = shipperFor(opened, watching, dir);
    shipper.start();
    expect(await shipper.drain(20_000)).toBe(true);
    await shipper.stop();
    expect(Object.keys(await countById(tenant))).toHaveLength(60);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // 60 appends of ~70 bytes at a 4 KiB segment size: one or two segments, not sixty inserts.
    expect(order.length).toBeLessThanOrEqual(3);
    expect(existsSync(path.join(dir, 'node.id'))).toBe(true);
    expect(readFileSync(path.join(dir, 'node.id'), 'utf8')).toBe(opened.log.nodeId);
  });
});

describe('a sync that fails', () => {
  it('refuses its group whole, seals the segment at what was acknowledged, and the next append opens a new one; only acknowledged rows ship', async () => {
    const dir = logDir();
    const tenant = `sync${tenantSeq++}`;
    let syncs = 0;
    const io: LogIo = {
      ...nodeLogIo,
      datasync: async (fd) => {
        // The two syncs (rows, frames) of the second group fail.
        if (++syncs === 3 || syncs === 4) throw Object.assign(new Error('injected: EIO'), { code: 'EIO' });
        await nodeLogIo.datasync(fd);
      },
    };
    const opened = openLog(dir, { io });
    await opened.log.append(encodeRows(rows(tenant, ['f1'])), 1);
    await expect(opened.log.append(encodeRows(rows(tenant, ['f2'])), 1)).rejects.toMatchObject({ code: 'TALLY_ERR_EVENT_LOG_UNAVAILABLE' });
    expect(opened.log.failing).toBe(true);
    await opened.log.append(encodeRows(rows(tenant, ['f3'])), 1);
    expect(opened.log.failing).toBe(false);
    await opened.log.close();
    expect(opened.log.sealedSegments.map((seg) => seg.rows)).toEqual([1, 1]);

    // What is on disk agrees: after a restart only the acknowledged rows ship.
    const again = openLog(dir);
    const shipper = shipperFor(again, clickHouseSink(stores.clickhouse), dir);
    shipper.start();
    expect(await shipper.drain(20_000)).toBe(true);
    await shipper.stop();
    expect(await countById(tenant)).toEqual({ f1: 1, f3: 1 });
  });
});

describe('rows the store refuses, many of them in one segment', () => {
  it("cost only their own request's rows: every other request of the segment ships", async () => {
    const dir = logDir();
    const a = `bad${tenantSeq++}`;
    const b = `good${tenantSeq++}`;
    const real = clickHouseSink(stores.clickhouse);
    const refuses = (file: string) => readFileSync(file).includes('poison');
    const refusing: SegmentSink = {
      ...real,
      insert: async (file, token) => {
        if (refuses(file)) throw Object.assign(new Error('injected: Cannot parse input'), { code: '117', type: 'INCORRECT_DATA' });
        await real.insert(file, token);
      },
      check: async (file) => (refuses(file) ? 'INCORRECT_DATA' : real.check(file)),
    };
    const opened = openLog(dir);
    const appends: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      appends.push(opened.log.append(encodeRows(rows(a, [`poison${i}_0`, `a${i}`, `poison${i}_1`, `poison${i}_2`])), 4));
      appends.push(opened.log.append(encodeRows(rows(b, [`b${i}_0`, `b${i}_1`])), 2));
    }
    await Promise.all(appends);
    await opened.log.sealNow();
    expect(opened.log.sealedSegments).toHaveLength(1);
    const shipper = shipperFor(opened, refusing, dir);
    shipper.start();
    expect(await shipper.drain(120_000)).toBe(true);
    await shipper.stop();
    expect(Object.keys(await countById(b))).toHaveLength(80);
    // The bad requests' good rows ship too, unless their own budget ran out.
    const fromA = Object.keys(await countById(a));
    expect(fromA.every((id) => /^a\d+$/.test(id))).toBe(true);
    expect(fromA.length).toBeGreaterThan(0);
  }, 180_000);
});

describe('a node restarted after everything shipped', () => {
  it('numbers its segments from 1 again, and the store still takes them: each segment is named by a random id too', async () => {
    const dir = logDir();
    const tenant = `again${tenantSeq++}`;
    const real = clickHouseSink(stores.clickhouse);
    for (const id of ['r1', 'r2', 'r3']) {
      const opened = openLog(dir);
      const shipper = shipperFor(opened, real, dir);
      shipper.start();
      await opened.log.append(encodeRows(rows(tenant, [id])), 1);
      expect(await shipper.drain(20_000)).toBe(true);
      await shipper.stop();
      await opened.log.close();
      expect(segmentFiles(dir)).toEqual([]);
    }
    expect(await countById(tenant)).toEqual({ r1: 1, r2: 1, r3: 1 });
  });
});

describe('a rows file cut after a failed write', () => {
  it('ships only the acknowledged bytes even when the file holds more', async () => {
    const dir = logDir();
    const tenant = `cut${tenantSeq++}`;
    const opened = openLog(dir);
    await opened.log.append(encodeRows(rows(tenant, ['k1'])), 1);
    await opened.log.sealNow();
    const [segment] = opened.log.sealedSegments;
    // What a failed write may leave behind after the acknowledged bytes.
    appendFileSync(segment!.rowsPath, encodeRows(rows(tenant, ['never-acknowledged'])));
    const shipper = shipperFor(opened, clickHouseSink(stores.clickhouse), dir);
    shipper.start();
    expect(await shipper.drain(20_000)).toBe(true);
    await shipper.stop();
    expect(await countById(tenant)).toEqual({ k1: 1 });
  });
});
