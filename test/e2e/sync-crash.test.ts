import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { loadConfig } from '../../core/config.js';
import { createRegistry } from '../../core/metrics.js';
import { migrateAll } from '../../core/migrate.js';
import { openStores } from '../../core/stores.js';
import { createRatingStack } from '../../app/rating-stack.js';
import { startStripeFake, type StripeFake } from '../../stripe-fake/index.js';
import { runTally, startTally } from '../support/cli.js';
import { freshDatabaseUrl, preparedDataDir } from '../support/stores.js';

/**
 * `tally sync` killed with SIGKILL at random points, again and again, then run to the end:
 * every invoice is in Stripe exactly once with Tally's total, every customer once.
 */
const DAY = 86_400_000;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A data dir (and, with DATABASE_URL, a fresh server database) holding 12 closed invoices of 6 customers. */
async function invoicesToSync(): Promise<{ dataDir: string; db: { url: string; drop: () => Promise<void> } | undefined }> {
  const dataDir = preparedDataDir();
  dirs.push(dataDir);
  const db = process.env.DATABASE_URL ? await freshDatabaseUrl(process.env.DATABASE_URL) : undefined;
  const config = loadConfig({ TALLY_DATA_DIR: dataDir, DATABASE_URL: db?.url, LOG_LEVEL: 'warn' });
  const stores = await openStores(config);
  // Closed whatever happens: chDB holds one data directory per process, so a store left open
  // here would fail every later test in this file with an unrelated message.
  try {
    await migrateAll(stores);
    const pg = stores.postgres;
    await pg.query("INSERT INTO tenants (id, name) VALUES ('ten_crash', 'crash')");
    await pg.query("INSERT INTO plans (tenant_id, code, version, name, currency, interval, base_fee, charges) VALUES ('ten_crash', 'p', 1, 'Plan', 'USD', 'month', 12.345, '[]')");
    const start = new Date(Math.floor((Date.now() - 75 * DAY) / DAY) * DAY);
    for (let c = 0; c < 6; c++) {
      await pg.query("INSERT INTO customers (tenant_id, id, name, currency) VALUES ('ten_crash', $1, $2, 'USD')", [`c${c}`, `Customer ${c}`]);
      await pg.query("INSERT INTO subscriptions (tenant_id, id, customer_id, interval, start_date) VALUES ('ten_crash', $1, $2, 'month', $3)", [`s${c}`, `c${c}`, start]);
      await pg.query("INSERT INTO subscription_plans (tenant_id, subscription_id, effective_from, plan_code, plan_version) VALUES ('ten_crash', $1, $2, 'p', 1)", [`s${c}`, start]);
    }
    await pg.query("UPDATE aggregator_state SET watermark = now() WHERE name = 'hourly'");
    const stack = createRatingStack(config, stores, createRegistry());
    try {
      expect((await stack.billing.close(new Date())).invoices).toBe(12);
    } finally {
      await stack.pool.close();
    }
  } finally {
    await stores.close();
  }
  return { dataDir, db };
}

/** Every invoice of the data dir in the fake exactly once, with its total; one Stripe customer per customer; nothing pending. */
async function expectExactlyOnce(dataDir: string, dbUrl: string | undefined, fake: StripeFake): Promise<void> {
  const stores = await openStores(loadConfig({ TALLY_DATA_DIR: dataDir, DATABASE_URL: dbUrl, LOG_LEVEL: 'warn' }));
  const [{ rows }, pending] = await Promise.all([
    stores.postgres.query<{ id: string; total: string; stripe_invoice_id: string | null }>('SELECT id, total::text AS total, stripe_invoice_id FROM invoices ORDER BY id'),
    stores.postgres.query<{ n: string }>("SELECT count(*)::text AS n FROM stripe_outbox WHERE state <> 'done'"),
  ]).finally(() => stores.close());
  expect(pending.rows[0]!.n).toBe('0');
  const invoices = fake.state.invoices();
  expect(invoices.length).toBe(12);
  for (const inv of rows) {
    const copies = invoices.filter((s) => s.metadata.tally_invoice === inv.id);
    expect(copies.length, inv.id).toBe(1);
    expect(copies[0]!.id).toBe(inv.stripe_invoice_id);
    expect(copies[0]!.status).toBe('open');
    expect(copies[0]!.total).toBe(Number(new Dec(inv.total).times(100).toFixed(0)));
  }
  expect(fake.state.customers().length).toBe(6);
}

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('crash during billing sync', () => {
  it('SIGKILL at random points, restarted each time: the end state has no duplicates', async () => {
    const { dataDir, db } = await invoicesToSync();
    const fake = await startStripeFake({ writesPerSecond: 100_000, seed: 7 });
    try {
      // Every Stripe request answered after a short delay (applied first), so kills land in the middle of an invoice's steps.
      fake.faults.set([{ kind: 'timeout', rate: 1, applied: true, delayMs: 80 }]);
      const env = {
        TALLY_DATA_DIR: dataDir,
        DATABASE_URL: db?.url,
        STRIPE_SECRET_KEY: 'sk_test_crash',
        STRIPE_API_BASE: fake.url,
        TALLY_SYNC_INTERVAL_MS: '100',
        TALLY_SYNC_LEASE_SECONDS: '1',
        TALLY_STRIPE_TIMEOUT_MS: '5000',
      };
      // Odd rounds kill at a random moment; even rounds kill while a write Stripe has applied is
      // still unanswered, so the next run must find it through its idempotency key.
      let kills = 0;
      for (let i = 0; i < 6; i++) {
        const seen = fake.requests.length;
        const sync = await startTally(['sync'], env);
        if (i % 2 === 1) {
          await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 600)));
        } else {
          await waitFor(() => fake.requests.slice(seen).some((r) => r.method === 'POST' && r.executed && !r.replayed && r.status === null), 20_000);
        }
        sync.child.kill('SIGKILL');
        expect(await sync.exited).toBe(null);
        kills++;
        await new Promise((r) => setTimeout(r, 1_100)); // the killed worker's lease runs out
      }
      expect(kills).toBe(6);
      fake.faults.clear();
      const last = await runTally(['sync', '--once'], env);
      expect(last.code, last.stderr).toBe(0);

      await expectExactlyOnce(dataDir, db?.url, fake);
      // The writes cut off by the kills were replayed from their idempotency keys, not made twice.
      expect(fake.requests.some((r) => r.replayed)).toBe(true);
    } finally {
      await fake.close();
      await db?.drop();
    }
    // Six process starts and a full sync at 80 ms a request: ~30 s alone, more on a busy machine.
  }, 150_000);
});

describe.runIf(process.env.DATABASE_URL)('two tally sync processes at once', () => {
  it('share the outbox without writing anything twice', async () => {
    const { dataDir, db } = await invoicesToSync();
    const fake = await startStripeFake({ writesPerSecond: 100_000, seed: 11 });
    try {
      // Slow answers keep both processes busy at the same time.
      fake.faults.set([{ kind: 'timeout', rate: 1, applied: true, delayMs: 150 }]);
      // Each process has its own data dir (its embedded ClickHouse); they share the Postgres server.
      const other = preparedDataDir();
      dirs.push(other);
      const env = (dir: string) => ({ TALLY_DATA_DIR: dir, DATABASE_URL: db!.url, STRIPE_SECRET_KEY: 'sk_test_two', STRIPE_API_BASE: fake.url });
      expect((await runTally(['migrate'], env(other))).code).toBe(0);
      const [a, b] = await Promise.all([runTally(['sync', '--once'], env(dataDir)), runTally(['sync', '--once'], env(other))]);
      expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
      fake.faults.clear();
      await expectExactlyOnce(dataDir, db!.url, fake);
      // Between them they synced each invoice once (how they shared it depends on timing).
      const synced = [a.stderr, b.stderr].map((e) => Number(/tally sync: (\d+) synced/.exec(e)?.[1] ?? 'NaN'));
      expect(synced[0]! + synced[1]!).toBe(12);
    } finally {
      await fake.close();
      await db?.drop();
    }
  });
});
