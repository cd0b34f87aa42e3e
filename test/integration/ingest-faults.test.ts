import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeLogIo } from '../../ingest/log-io.js';
import { faultyIo, faultySink, type DiskControl, type SinkControl } from '../support/faulty-sink.js';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * Faults on both sides of the event log. The disk: a failing fdatasync or a full disk is a 503
 * for the requests it affects and never an acknowledged loss. ClickHouse: while it is down the
 * node keeps acknowledging into its log up to TALLY_EVENTLOG_MAX_PENDING_BYTES, then answers
 * 429; once it is back everything ships once.
 */
let api: TestApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

async function start(opts: { sink?: SinkControl; disk?: DiskControl; env?: Record<string, string> } = {}) {
  api = await startTestApi({
    env: opts.env ?? {},
    ...(opts.sink ? { wrapSink: (s) => faultySink(s, opts.sink!, (f) => readFileSync(f)) } : {}),
    ...(opts.disk ? { logIo: faultyIo(nodeLogIo, opts.disk) } : {}),
  });
  const tenant = await api.tenant('faults');
  const post = async (events: object[]) => {
    const res = await fetch(`${api!.url}/v1/events`, { method: 'POST', headers: tenant.auth, body: JSON.stringify(events) });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any };
  };
  const countById = async () => {
    const rs = await api!.stores.clickhouse.client.query({
      query: `SELECT id, count() AS n FROM ${api!.stores.clickhouse.table('raw_events_v1')} WHERE tenant_id = {t:String} GROUP BY id`,
      query_params: { t: tenant.id },
      format: 'JSONEachRow',
    });
    return new Map((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)]));
  };
  const readyz = async () => {
    const res = await fetch(`${api!.url}/readyz`);
    return { status: res.status, body: (await res.json()) as any };
  };
  const metrics = async () => (await fetch(`${api!.url}/metrics`)).text();
  return { post, countById, readyz, metrics };
}

const ev = (id: string, pad = '') => ({ id, customer: 'c', meter: 'm', value: '1', ...(pad ? { properties: { pad } } : {}) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ClickHouse down', () => {
  it('keeps acknowledging into the log up to the bound, then 429; reports degraded; ships everything once when it is back', async () => {
    const sink: SinkControl = { fail: new Error('injected: connection refused') };
    const { post, countById, readyz, metrics } = await start({ sink, env: { TALLY_EVENTLOG_MAX_PENDING_BYTES: String(1024 * 1024), TALLY_EVENTLOG_SEAL_MS: '20' } });
    const pad = 'x'.repeat(900);
    const acked: string[] = [];
    const refused: string[] = [];
    let overloaded: Awaited<ReturnType<typeof post>> | undefined;
    // ~1 KB a row: the 1 MiB bound is reached after about a thousand rows.
    for (let batch = 0; batch < 40; batch++) {
      const ids = Array.from({ length: 50 }, (_, i) => `d${batch}_${i}`);
      const r = await post(ids.map((id) => ev(id, pad)));
      if (r.status === 202) {
        expect(r.body.accepted).toBe(ids.length);
        acked.push(...ids);
      } else {
        overloaded ??= r;
        refused.push(...ids);
      }
    }
    expect(acked.length).toBeGreaterThan(800);
    expect(overloaded).toMatchObject({ status: 429, retryAfter: '1', body: { error: { code: 'TALLY_ERR_INGEST_OVERLOADED' } } });
    expect(overloaded!.body.error.message).toMatch(/TALLY_EVENTLOG_MAX_PENDING_BYTES/);

    const ready = await readyz();
    expect(ready).toMatchObject({ status: 200, body: { status: 'degraded', checks: { shipping: expect.stringMatching(/^unreachable/) } } });
    const m = await metrics();
    expect(m).toMatch(/^tally_ingest_store_up 0$/m);
    expect(m).toMatch(/^tally_eventlog_ship_errors_total [1-9]/m);
    expect(m).toMatch(/^tally_ingest_requests_refused_total\{reason="overloaded"\} [1-9]/m);
    expect(Number(/^tally_eventlog_pending_bytes (\d+)$/m.exec(m)?.[1])).toBeGreaterThan(900_000);
    expect(Number(/^tally_eventlog_oldest_unshipped_seconds (\S+)$/m.exec(m)?.[1])).toBeGreaterThan(0);

    sink.fail = undefined;
    await api!.drain();
    const counts = await countById();
    for (const id of acked) expect(counts.get(id), id).toBe(1);
    for (const id of refused) expect(counts.has(id), id).toBe(false);
    expect(counts.size).toBe(acked.length);
    expect((await readyz()).body.status).toBe('ready');
    // Room again: the rest is accepted.
    expect((await post(refused.slice(0, 50).map((id) => ev(id, pad)))).status).toBe(202);
  });
});

describe('the disk fails', () => {
  it.each([
    ['fdatasync fails (EIO)', { failSync: true }],
    ['the disk is full (ENOSPC)', { full: true }],
  ] as const)('%s: 503 with Retry-After, unready, nothing of it acknowledged or shipped; back once writes succeed', async (_what, fault) => {
    const disk: DiskControl = {};
    const { post, countById, readyz, metrics } = await start({ disk });
    expect((await post([ev('before')])).status).toBe(202);
    Object.assign(disk, fault);
    const failed = await post([ev('during1'), ev('during2')]);
    expect(failed).toMatchObject({ status: 503, retryAfter: '1', body: { error: { code: 'TALLY_ERR_EVENT_LOG_UNAVAILABLE' } } });
    expect(await readyz()).toMatchObject({ status: 503, body: { status: 'unready', checks: { eventlog: expect.stringMatching(/^unreachable/) } } });
    const m = await metrics();
    expect(m).toMatch(/^tally_eventlog_up 0$/m);
    expect(m).toMatch(/^tally_eventlog_write_errors_total [1-9]/m);
    expect(m).toMatch(/^tally_ingest_requests_refused_total\{reason="log_unavailable"\} [1-9]/m);

    disk.failSync = false;
    disk.full = false;
    // The log probes the disk by itself: readiness comes back without a request.
    let ready = await readyz();
    for (let i = 0; i < 60 && ready.status !== 200; i++) {
      await sleep(100);
      ready = await readyz();
    }
    expect(ready.body.status).toBe('ready');
    expect((await post([ev('after')])).status).toBe(202);
    await api!.drain();
    expect(Object.fromEntries(await countById())).toEqual({ before: 1, after: 1 });
  });

  it('clients streaming through disk failures: no 202 for an event not on disk, every retried event lands once', async () => {
    const disk: DiskControl = {};
    const { post, countById } = await start({ disk, env: { TALLY_EVENTLOG_SEAL_MS: '30' } });
    const acked = new Set<string>();
    const all: string[] = [];
    let stop = false;
    let refusals = 0;
    const client = async (c: number) => {
      for (let batch = 0; !stop && batch < 400; batch++) {
        const ids = Array.from({ length: 5 }, (_, i) => `c${c}_b${batch}_${i}`);
        all.push(...ids);
        for (let attempt = 0; ; attempt++) {
          const r = await post(ids.map((id) => ev(id)));
          if (r.status === 202) {
            // Accepted now, or recognised as already on disk from an earlier attempt.
            expect(r.body.accepted + r.body.duplicates).toBe(ids.length);
            ids.forEach((id) => acked.add(id));
            break;
          }
          expect([429, 503]).toContain(r.status);
          expect(r.retryAfter).not.toBeNull();
          refusals++;
          await sleep(30);
          if (attempt > 300) throw new Error('never recovered');
        }
      }
    };
    const clients = Promise.all([0, 1, 2, 3].map(client));
    await sleep(300);
    disk.failSync = true;
    await sleep(400);
    disk.failSync = false;
    await sleep(300);
    disk.full = true;
    await sleep(400);
    disk.full = false;
    await sleep(300);
    stop = true;
    await clients;
    await api!.drain();

    expect(refusals).toBeGreaterThan(0);
    const counts = await countById();
    expect(acked.size).toBe(all.length);
    for (const id of all) expect(counts.get(id), id).toBe(1);
    expect(counts.size).toBe(all.length);
  });
});

describe('shutdown during ingest', () => {
  it('requests in flight when the server stops still get their 202, and their events ship before it exits', async () => {
    const disk: DiskControl = { syncDelayMs: 400 };
    const { post, countById } = await start({ disk });
    const pending = Promise.all([0, 1, 2].map((i) => post([ev(`sd${i}_a`), ev(`sd${i}_b`)])));
    // Stop once the requests wait on a (slowed) sync, however busy the machine.
    for (let i = 0; i < 500 && (disk.syncs ?? 0) === 0; i++) await sleep(5);
    const stopped = api!.server.stop();
    const results = await pending;
    await stopped;
    for (const r of results) expect(r.status).toBe(202);
    const counts = await countById();
    for (const i of [0, 1, 2]) for (const s of ['a', 'b']) expect(counts.get(`sd${i}_${s}`)).toBe(1);
    await api!.stores.cleanup();
    api = undefined;
  });
});
