import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { loadConfig } from '../../core/config.js';
import { openStores } from '../../core/stores.js';
import { checkInvoicesAgainstRated } from '../../demo/check.js';
import { runTally } from '../support/cli.js';
import { freshDatabaseUrl, preparedDataDir } from '../support/stores.js';

/**
 * `tally demo` on a fresh data dir (and, with DATABASE_URL, a fresh server database): it runs
 * the whole pipeline, prints the invoices, and the invoices it made bill exactly the rated
 * usage — checked here again, from the stores, after the process has gone.
 */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('tally demo', () => {
  it('loads the sample data, runs the pipeline and prints invoices that match the rated usage', async () => {
    const dataDir = preparedDataDir();
    dirs.push(dataDir);
    const db = process.env.DATABASE_URL ? await freshDatabaseUrl(process.env.DATABASE_URL) : undefined;
    try {
      const env = { TALLY_DATA_DIR: dataDir, DATABASE_URL: db?.url };
      const r = await runTally(['demo', '--customers', '60'], env);
      expect(r.code, r.stderr).toBe(0);
      const tenant = /tally demo: tenant (ten_\w+)/.exec(r.stdout)?.[1];
      expect(tenant).toBeDefined();
      expect(r.stdout).toMatch(/tally demo: 60 customers, \d+ events, \d+ hourly ratings, 60 invoices/);
      expect(r.stdout).toMatch(/all \d+ usage lines of the 60 invoices equal the rated usage/);
      expect(r.stdout).toMatch(/^customer\s+plan\s+period\s+base fee\s+usage\s+total USD$/m);

      const stores = await openStores(loadConfig({ TALLY_DATA_DIR: dataDir, DATABASE_URL: db?.url, LOG_LEVEL: 'warn' }));
      try {
        const check = await checkInvoicesAgainstRated(stores, tenant!);
        expect(check.mismatches).toEqual([]);
        expect(check.invoices).toBe(60);
        expect(check.usageLines).toBeGreaterThan(60);
        // Every plan is there, and the printed grand total is the invoices' total.
        const { rows } = await stores.postgres.query<{ plan: string; total: string }>(
          `SELECT p.plan_code AS plan, sum(i.total)::text AS total FROM invoices i
             JOIN subscription_plans p ON p.tenant_id = i.tenant_id AND p.subscription_id = i.subscription_id
            WHERE i.tenant_id = $1 GROUP BY p.plan_code ORDER BY p.plan_code`,
          [tenant],
        );
        expect(rows.map((x) => x.plan)).toEqual(['enterprise', 'free', 'pro', 'starter']);
        const grand = rows.reduce((s, x) => s.plus(x.total), new Dec(0)).toFixed(2);
        expect(r.stdout).toMatch(new RegExp(`^all\\s+60\\s+${grand.replace('.', '\\.')}$`, 'm'));
      } finally {
        await stores.close();
      }

      // A second run on the same data dir adds a tenant of its own; the same seed makes the same invoices.
      const again = await runTally(['demo', '--customers', '60'], env);
      expect(again.code, again.stderr).toBe(0);
      const table = (out: string) => out.slice(out.indexOf('customer  '));
      expect(table(again.stdout).split('\n').slice(0, 10)).toEqual(table(r.stdout).split('\n').slice(0, 10));
    } finally {
      await db?.drop();
    }
  });

  it.each([
    [['demo', '--customers', '0'], /--customers must be a whole number from 1 to 5000/],
    [['demo', '--seed', 'x'], /--seed must be a whole number/],
    [['demo', '--customers', '1e2'], /--customers must be a whole number/],
    [['demo', '--customers', '0x10'], /--customers must be a whole number/],
  ])('refuses %j (exit 2)', async (args, message) => {
    const r = await runTally(args, { TALLY_DATA_DIR: preparedDataDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
