import { afterEach, describe, expect, it } from 'vitest';
import { faultyWriter, type FaultControl } from '../support/faulty-writer.js';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * One tenant's event that the store cannot take must not fail anyone else's: concurrent
 * requests share insert batches, and a batch the store refused used to fail every request in
 * it with 503 and mark ingest down.
 */
let api: TestApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

// A wider flush window than the default makes concurrent requests share batches every time.
const ENV = { TALLY_INGEST_FLUSH_MS: '15' };

async function start(control?: FaultControl) {
  api = await startTestApi({ env: ENV, ...(control ? { wrapWriter: (w) => faultyWriter(w, control) } : {}) });
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
  return { a, b, post, countById };
}

const ev = (id: string) => ({ id, customer: 'c', meter: 'm', value: '1' });

describe('a row the store refuses', () => {
  it('is refused alone: the rest of its request and every other request sharing the batch commit, and ingest stays up', async () => {
    const control: FaultControl = { fail: undefined, delayMs: 0, refuseRow: (row) => row.id.startsWith('poison') };
    const { a, b, post, countById } = await start(control);

    const rounds = 6;
    const bystander: Promise<{ status: number; body: any }>[] = [];
    const poisoner: Promise<{ status: number; body: any }>[] = [];
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 4; i++) bystander.push(post(b.auth, JSON.stringify([0, 1, 2].map((j) => ev(`b${round}_${i}_${j}`)))));
      poisoner.push(post(a.auth, JSON.stringify([ev(`a${round}_0`), ev(`poison${round}`), ev(`a${round}_1`), ev(`a${round}_2`), ev(`poison${round}_x`)])));
      await new Promise((r) => setTimeout(r, 5));
    }

    for (const r of await Promise.all(bystander)) expect(r).toEqual({ status: 202, body: { accepted: 3, duplicates: 0, rejected: [] } });
    for (const [round, r] of (await Promise.all(poisoner)).entries()) {
      expect(r.status).toBe(202);
      expect(r.body.accepted).toBe(3);
      expect(r.body.rejected).toEqual([
        { index: 1, id: `poison${round}`, code: 'TALLY_ERR_EVENT_REFUSED_BY_STORE', message: expect.stringContaining('INCORRECT_DATA') },
        { index: 4, id: `poison${round}_x`, code: 'TALLY_ERR_EVENT_REFUSED_BY_STORE', message: expect.stringContaining('INCORRECT_DATA') },
      ]);
    }
    // The store did refuse batches (the refusals were found inside shared inserts).
    expect(control.rowRefusals).toBeGreaterThanOrEqual(rounds);

    const bCounts = await countById(b.id);
    expect(bCounts.size).toBe(rounds * 4 * 3);
    for (const n of bCounts.values()) expect(n).toBe(1);
    const aCounts = await countById(a.id);
    expect([...aCounts.keys()].sort()).toEqual(Array.from({ length: rounds }, (_, r) => [`a${r}_0`, `a${r}_1`, `a${r}_2`]).flat().sort());
    for (const n of aCounts.values()) expect(n).toBe(1);

    expect((await fetch(`${api!.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${api!.url}/metrics`)).text();
    expect(metrics).toMatch(/^tally_ingest_store_up 1$/m);
    expect(metrics).toMatch(/^tally_ingest_events_total\{result="rejected",code="TALLY_ERR_EVENT_REFUSED_BY_STORE"\} 12$/m);
    expect(metrics).not.toMatch(/^tally_ingest_requests_refused_total\{reason="store_unavailable"\}/m);

    // A resend of the refused event is refused again.
    const again = await post(a.auth, JSON.stringify([ev('a0_0'), ev('poison0')]));
    expect(again.body).toMatchObject({ rejected: [{ index: 1, code: 'TALLY_ERR_EVENT_REFUSED_BY_STORE' }] });
    expect(again.body.accepted + again.body.duplicates).toBe(1);
  });

  it('a failure that is not about the rows is still an outage: 503 for everyone in the batch, ingest marked down', async () => {
    // A ClickHouse error of a kind that says nothing about the data (too many parts: the store is behind).
    const control: FaultControl = { fail: Object.assign(new Error('Too many parts'), { code: '252', type: 'TOO_MANY_PARTS' }), delayMs: 0 };
    const { a, b, post } = await start(control);
    const results = await Promise.all([post(a.auth, JSON.stringify([ev('x1')])), post(b.auth, JSON.stringify([ev('y1')]))]);
    for (const r of results) {
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('TALLY_ERR_STORE_UNAVAILABLE');
    }
    expect((await fetch(`${api!.url}/readyz`)).status).toBe(503);
  });

  it('an outage in the middle of the search for a bad row fails what is not yet committed with 503 and marks ingest down', async () => {
    const control: FaultControl = { fail: undefined, delayMs: 0 };
    // The first insert is refused for its data; the store then goes down.
    control.refuseRow = (row) => {
      if (!row.id.startsWith('poison')) return false;
      control.fail = new Error('injected: connection refused');
      return true;
    };
    const { a, b, post, countById } = await start(control);
    const results = await Promise.all([post(a.auth, JSON.stringify([ev('poison'), ev('a1')])), post(b.auth, JSON.stringify([ev('b1')]))]);
    for (const r of results) expect(r.status).toBe(503);
    expect((await fetch(`${api!.url}/readyz`)).status).toBe(503);
    control.fail = undefined;
    expect((await countById(b.id)).size).toBe(0);
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
    expect((await countById(b.id)).size).toBe(20);
    expect([...(await countById(a.id)).keys()].sort()).toEqual(['ok0', 'ok1', 'ok2', 'ok3', 'ok4']);
    expect((await fetch(`${api!.url}/readyz`)).status).toBe(200);
  });
});
