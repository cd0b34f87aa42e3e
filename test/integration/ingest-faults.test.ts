import { afterEach, describe, expect, it } from 'vitest';
import { faultyWriter, type FaultControl } from '../support/faulty-writer.js';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * The store fails or slows down behind the writer's fault seam; clients must never get a 202
 * for an event that was not committed, and everything they retry must land once.
 */
let api: TestApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

async function start(control: FaultControl, env: Record<string, string> = {}) {
  api = await startTestApi({ env, wrapWriter: (w) => faultyWriter(w, control) });
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
  return { post, countById };
}

const ev = (id: string) => ({ id, customer: 'c', meter: 'm', value: '1' });

describe('store failure', () => {
  it('answers 503 with Retry-After, goes unready, and recovers when the store does', async () => {
    const control: FaultControl = { fail: new Error('injected: store down'), delayMs: 0 };
    const { post, countById } = await start(control);

    const refused = await post([ev('f1'), ev('f2')]);
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(refused.body.error.code).toBe('TALLY_ERR_STORE_UNAVAILABLE');

    const ready = await fetch(`${api!.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as any).checks.ingest).toMatch(/^unreachable/);
    // While down, requests are refused at once rather than buffered.
    expect((await post([ev('f3')])).status).toBe(503);
    const metrics = await (await fetch(`${api!.url}/metrics`)).text();
    expect(metrics).toMatch(/^tally_ingest_store_up 0$/m);
    expect(metrics).toMatch(/^tally_ingest_store_errors_total [1-9]/m);
    expect(metrics).toMatch(/^tally_ingest_requests_refused_total\{reason="store_unavailable"\} [1-9]/m);

    control.fail = undefined;
    let status = 0;
    for (let i = 0; i < 50 && status !== 202; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await post([ev('f1'), ev('f2'), ev('f3')])).status;
    }
    expect(status).toBe(202);
    expect((await fetch(`${api!.url}/readyz`)).status).toBe(200);
    expect(Object.fromEntries(await countById())).toEqual({ f1: 1, f2: 1, f3: 1 });
  });

  it('clients streaming through an outage: no 202 for an uncommitted event, every retried event lands once', async () => {
    const control: FaultControl = { fail: undefined, delayMs: 0 };
    const { post, countById } = await start(control);
    const acked = new Set<string>();
    const all: string[] = [];
    let stop = false;
    let refusals = 0;

    const client = async (c: number) => {
      for (let batch = 0; !stop && batch < 400; batch++) {
        const ids = Array.from({ length: 5 }, (_, i) => `c${c}_b${batch}_${i}`);
        all.push(...ids);
        for (let attempt = 0; ; attempt++) {
          const r = await post(ids.map(ev));
          if (r.status === 202) {
            // Accepted now, or recognised as already committed from an earlier attempt.
            expect(r.body.accepted + r.body.duplicates).toBe(ids.length);
            ids.forEach((id) => acked.add(id));
            break;
          }
          expect([429, 503]).toContain(r.status);
          expect(r.retryAfter).not.toBeNull();
          refusals++;
          await new Promise((res) => setTimeout(res, 50));
          if (attempt > 200) throw new Error('never recovered');
        }
      }
    };
    const clients = Promise.all([0, 1, 2, 3].map(client));
    await new Promise((r) => setTimeout(r, 300));
    control.fail = new Error('injected outage');
    await new Promise((r) => setTimeout(r, 700));
    control.fail = undefined;
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await clients;

    expect(refusals).toBeGreaterThan(0);
    const counts = await countById();
    expect(acked.size).toBe(all.length);
    for (const id of all) expect(counts.get(id), id).toBe(1);
    expect(counts.size).toBe(all.length);
  });
});

describe('slow store', () => {
  it('answers 429 with Retry-After once the buffer is full, and commits everything it acknowledged', async () => {
    const control: FaultControl = { fail: undefined, delayMs: 300 };
    const { post, countById } = await start(control, { TALLY_INGEST_MAX_BUFFERED: '20', TALLY_INGEST_FLUSH_MS: '1' });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => post([ev(`s${i}_a`), ev(`s${i}_b`), ev(`s${i}_c`), ev(`s${i}_d`), ev(`s${i}_e`)]).then((r) => ({ i, r }))));
    const overloaded = results.filter(({ r }) => r.status === 429);
    const accepted = results.filter(({ r }) => r.status === 202);
    expect(overloaded.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);
    expect(overloaded.length + accepted.length).toBe(12);
    for (const { r } of overloaded) {
      expect(r.body.error.code).toBe('TALLY_ERR_INGEST_OVERLOADED');
      expect(r.retryAfter).toBe('1');
    }
    const counts = await countById();
    for (const { i } of accepted) for (const s of 'abcde') expect(counts.get(`s${i}_${s}`)).toBe(1);
    for (const { i } of overloaded) expect(counts.has(`s${i}_a`)).toBe(false);
  });
});

describe('shutdown during ingest', () => {
  it('requests in flight when the server stops still get their 202, and their events are committed', async () => {
    const control: FaultControl = { fail: undefined, delayMs: 600 };
    const { post, countById } = await start(control);
    const pending = Promise.all([0, 1, 2].map((i) => post([ev(`sd${i}_a`), ev(`sd${i}_b`)])));
    // Stop once all six events are in inserts (each slowed to 600 ms), however busy the machine.
    for (let i = 0; i < 500 && (control.rowsStarted ?? 0) < 6; i++) await new Promise((r) => setTimeout(r, 5));
    expect(control.rowsStarted).toBe(6);
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
