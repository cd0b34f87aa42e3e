import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { faultySink, type SinkControl } from '../support/faulty-sink.js';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * One tenant's event that the store cannot take must not fail anyone else's, nor stall the
 * log: segments hold many requests of many tenants, and the shipper sets aside only the rows
 * the store refuses.
 */
let api: TestApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

// A wider seal window than the default makes concurrent requests share segments every time.
const ENV = { TALLY_EVENTLOG_SEAL_MS: '40' };

async function start(control?: SinkControl) {
  api = await startTestApi({ env: ENV, ...(control ? { wrapSink: (s) => faultySink(s, control, (f) => readFileSync(f)) } : {}) });
  const a = await api.tenant('poisoner');
  const b = await api.tenant('bystander');
  const post = async (auth: Record<string, string>, body: string) => {
    const res = await fetch(`${api!.url}/v1/events`, { method: 'POST', headers: auth, body });
    return { status: res.status, body: (await res.json()) as any };
  };
  const countById = async (tenantId: string) => {
    const rs = await api!.stores.clickhouse.client.query({
      query: `SELECT id, count() AS n FROM ${api!.stores.clickhouse.table('raw_events_v1')} WHERE tenant_id = {t:String} GROUP BY id`,
      query_params: { t: tenantId },
      format: 'JSONEachRow',
    });
    return new Map((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)]));
  };
  const refusedDir = path.join(api.stores.dataDir, 'eventlog', 'refused');
  /** The bytes of every row set aside so far. */
  const setAside = () => {
    let names: string[] = [];
    try {
      names = readdirSync(refusedDir);
    } catch {
      return '';
    }
    return names.filter((n) => n.endsWith('.rows')).map((n) => readFileSync(path.join(refusedDir, n)).toString('latin1')).join('');
  };
  return { a, b, post, countById, setAside, refusedDir };
}

const ev = (id: string) => ({ id, customer: 'c', meter: 'm', value: '1' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a row the store refuses', () => {
  it('is set aside alone with its reason: the rest of its segment and every later one ships, and ingest stays up', async () => {
    const control: SinkControl = { refuseIf: (bytes) => bytes.includes('poison') };
    const { a, b, post, countById, setAside, refusedDir } = await start(control);

    const rounds = 6;
    const bystander: Promise<{ status: number; body: any }>[] = [];
    const poisoner: Promise<{ status: number; body: any }>[] = [];
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 4; i++) bystander.push(post(b.auth, JSON.stringify([0, 1, 2].map((j) => ev(`b${round}_${i}_${j}`)))));
      poisoner.push(post(a.auth, JSON.stringify([ev(`a${round}_0`), ev(`poison${round}`), ev(`a${round}_1`), ev(`a${round}_2`), ev(`poison${round}_x`)])));
      await sleep(5);
    }
    // Acknowledged when on disk: the store's refusal comes later, at shipping.
    for (const r of await Promise.all(bystander)) expect(r).toEqual({ status: 202, body: { accepted: 3, duplicates: 0, rejected: [] } });
    for (const r of await Promise.all(poisoner)) expect(r).toEqual({ status: 202, body: { accepted: 5, duplicates: 0, rejected: [] } });
    await api!.drain();

    const bCounts = await countById(b.id);
    expect(bCounts.size).toBe(rounds * 4 * 3);
    for (const n of bCounts.values()) expect(n).toBe(1);
    const aCounts = await countById(a.id);
    expect([...aCounts.keys()].sort()).toEqual(Array.from({ length: rounds }, (_, r) => [`a${r}_0`, `a${r}_1`, `a${r}_2`]).flat().sort());
    for (const n of aCounts.values()) expect(n).toBe(1);

    // Exactly the refused rows are kept, with the store's reason beside them.
    const kept = setAside();
    for (let r = 0; r < rounds; r++) {
      expect(kept).toContain(`poison${r}`);
      expect(kept).toContain(`poison${r}_x`);
    }
    expect(kept).not.toMatch(/a\d_\d|b\d_\d_\d/);
    const reasons = readdirSync(refusedDir).filter((n) => n.endsWith('.json')).map((n) => JSON.parse(readFileSync(path.join(refusedDir, n), 'utf8')) as { reason: string; unit: string });
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) expect(r).toMatchObject({ reason: 'INCORRECT_DATA', unit: 'row' });

    expect((await fetch(`${api!.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${api!.url}/metrics`)).text();
    expect(metrics).toMatch(/^tally_ingest_store_up 1$/m);
    expect(metrics).toMatch(new RegExp(`^tally_eventlog_rows_refused_total\\{reason="INCORRECT_DATA"\\} ${rounds * 2}$`, 'm'));
    expect(metrics).toMatch(/^tally_eventlog_ship_duration_seconds_count\{outcome="refused"\} [1-9]/m);
    expect(metrics).toMatch(/^tally_eventlog_pending_bytes 0$/m);

    // The log goes on: later events ship.
    expect((await post(b.auth, JSON.stringify([ev('after')]))).status).toBe(202);
    await api!.drain();
    expect((await countById(b.id)).get('after')).toBe(1);
  });

  it('a failure that is not about the rows is an outage: ingest keeps acknowledging, the node is degraded, and the segment ships once later', async () => {
    // A ClickHouse error of a kind that says nothing about the data (too many parts: the store is behind).
    const control: SinkControl = { fail: Object.assign(new Error('Too many parts'), { code: '252', type: 'TOO_MANY_PARTS' }) };
    const { a, b, post, countById } = await start(control);
    const results = await Promise.all([post(a.auth, JSON.stringify([ev('x1')])), post(b.auth, JSON.stringify([ev('y1')]))]);
    for (const r of results) expect(r.status).toBe(202);
    let ready: any;
    for (let i = 0; i < 100 && ready?.status !== 'degraded'; i++) {
      await sleep(50);
      ready = await (await fetch(`${api!.url}/readyz`)).json();
    }
    expect(ready).toMatchObject({ status: 'degraded', checks: { shipping: expect.stringMatching(/^unreachable/), postgres: 'ok', eventlog: 'ok' } });
    expect(await (await fetch(`${api!.url}/metrics`)).text()).toMatch(/^tally_ingest_store_up 0$/m);
    control.fail = undefined;
    await api!.drain();
    expect(Object.fromEntries(await countById(a.id))).toEqual({ x1: 1 });
    expect(Object.fromEntries(await countById(b.id))).toEqual({ y1: 1 });
    expect(((await (await fetch(`${api!.url}/readyz`)).json()) as any).status).toBe('ready');
  });

  it('an outage in the middle of the search for a bad row is retried, and the search then ends the same way', async () => {
    const control: SinkControl = {};
    let outages = 0;
    // The first insert is refused for its data; the store then goes down for a while.
    control.refuseIf = (bytes) => {
      if (!bytes.includes('poison')) return false;
      if (outages++ === 0) {
        control.fail = new Error('injected: connection refused');
        setTimeout(() => (control.fail = undefined), 600);
      }
      return true;
    };
    const { a, b, post, countById, setAside } = await start(control);
    const results = await Promise.all([post(a.auth, JSON.stringify([ev('poison'), ev('a1')])), post(b.auth, JSON.stringify([ev('b1')]))]);
    for (const r of results) expect(r.status).toBe(202);
    await api!.drain();
    expect(Object.fromEntries(await countById(a.id))).toEqual({ a1: 1 });
    expect(Object.fromEntries(await countById(b.id))).toEqual({ b1: 1 });
    expect(setAside()).toContain('poison');
  });
});

describe('text that is not well-formed Unicode (the real store)', () => {
  it("a lone surrogate is refused at validation and no longer fails another tenant's concurrent requests", async () => {
    const { a, b, post, countById } = await start();
    // Escapes written by hand, as a hostile client sends them: "\ud800" decodes to a lone surrogate.
    const poisoned = (round: number) =>
      `[{"id":"p${round}\\ud800","customer":"c","meter":"m"},{"id":"p${round}","customer":"c\\udc00","meter":"m"},` +
      `{"id":"q${round}","customer":"c","meter":"m","properties":{"k":"\\ud800"}},{"id":"ok${round}","customer":"c","meter":"m"}]`;
    const bystander: Promise<{ status: number; body: any }>[] = [];
    const poisoner: Promise<{ status: number; body: any }>[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 4; i++) bystander.push(post(b.auth, JSON.stringify([ev(`b${round}_${i}`)])));
      poisoner.push(post(a.auth, poisoned(round)));
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const r of await Promise.all(bystander)) expect(r).toEqual({ status: 202, body: { accepted: 1, duplicates: 0, rejected: [] } });
    for (const r of await Promise.all(poisoner)) {
      expect(r.status).toBe(202);
      expect(r.body.accepted).toBe(1);
      expect((r.body.rejected as { code: string }[]).map((x) => x.code)).toEqual(['TALLY_ERR_ID_INVALID', 'TALLY_ERR_CUSTOMER_INVALID', 'TALLY_ERR_PROPERTIES_INVALID']);
    }
    await api!.drain();
    expect((await countById(b.id)).size).toBe(20);
    expect([...(await countById(a.id)).keys()].sort()).toEqual(['ok0', 'ok1', 'ok2', 'ok3', 'ok4']);
    expect((await fetch(`${api!.url}/readyz`)).status).toBe(200);
  });
});
