import { Dec } from '../core/money.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import { migrateAll } from '../core/migrate.js';
import { openStores } from '../core/stores.js';
import { pgTenantRepository } from '../core/tenants.js';
import { createApi } from '../app/api.js';
import { closeNow, createRatingStack } from '../app/rating-stack.js';
import { DEMO_METERS, DEMO_PLANS } from '../demo/catalog.js';
import { checkInvoicesAgainstRated } from '../demo/check.js';
import { demoCustomers, demoUsage } from '../demo/usage.js';
import { createAggregator } from '../app/aggregator-loop.js';
import { progressReporter } from './progress.js';
import { EXIT } from './exit.js';

/**
 * `tally demo`: the whole pipeline on sample data, through the same HTTP API and workers a
 * deployment runs. A new tenant gets the sample meters and plans, a few hundred customers each
 * subscribed since 33 days ago (so one monthly period has ended), and that month of usage;
 * then aggregation, rating and period close run, and the invoices are printed — after checking
 * that every invoice bills exactly the rated usage.
 */
const DAY = 86_400_000;
const BATCH = 5_000;

export async function runDemo(config: Config, logger: Logger, out: (line: string) => void, opts: { customers: number; seed: number; now?: number }): Promise<number> {
  const stores = await openStores(config);
  try {
    await migrateAll(stores);
    const registry = createRegistry();
    const rating = createRatingStack(config, stores, registry);
    const api = createApi({ config: { ...config, host: '127.0.0.1', port: 0 }, stores, logger, registry, adminKey: undefined, rating });
    const port = await api.listen();
    try {
      const tenant = await pgTenantRepository(stores.postgres).create(`Demo ${new Date().toISOString().slice(0, 16)}`);
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: { authorization: `Bearer ${tenant.api_key}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
        return JSON.parse(text) as unknown;
      };
      const progress = progressReporter(logger, process.stderr);
      const now = opts.now ?? Date.now();
      const start = Math.floor((now - 33 * DAY) / DAY) * DAY;

      out(`tally demo: tenant ${tenant.id} (API key ${tenant.api_key})`);
      for (const m of DEMO_METERS) await call('POST', '/v1/meters', m);
      for (const p of DEMO_PLANS) await call('POST', '/v1/plans', p);
      const customers = demoCustomers(opts.customers, opts.seed);
      progress.start(customers.length, 'customers');
      for (const c of customers) {
        await call('POST', '/v1/customers', { id: c.id, name: c.name, currency: 'USD' });
        await call('POST', '/v1/subscriptions', { customer: c.id, plan: c.plan, start_date: new Date(start).toISOString(), trial_days: 0 });
        progress.tick(1);
      }
      progress.stop();

      const events = demoUsage(customers, start, Math.floor((now - start) / DAY), opts.seed + 1);
      progress.start(events.length, 'events');
      for (let i = 0; i < events.length; i += BATCH) {
        const batch = events.slice(i, i + BATCH);
        const r = (await call('POST', '/v1/events', batch)) as { accepted: number; rejected: unknown[] };
        if (r.rejected.length > 0) throw new Error(`events refused: ${JSON.stringify(r.rejected.slice(0, 3))}`);
        progress.tick(batch.length);
      }
      progress.stop();

      // Every event is in the store once the log has shipped: nothing needs to settle.
      if (!(await api.drainEventLog(120_000))) throw new Error('the event log did not ship to ClickHouse within 120 s');
      const aggregator = createAggregator({ ...config, aggregator: { ...config.aggregator, settleMs: 0 } }, stores, logger, registry);
      await aggregator.runOnce(progress);
      const rated = await rating.rater.runOnce(progress);
      const closed = await closeNow(rating, new Date(now), progress);
      out(`tally demo: ${customers.length} customers, ${events.length} events, ${rated.ratings} hourly ratings, ${closed.invoices} invoices`);

      const check = await checkInvoicesAgainstRated(stores, tenant.id);
      if (check.mismatches.length > 0) {
        for (const m of check.mismatches.slice(0, 20)) out(`  mismatch: ${m}`);
        out(`tally demo: ${check.mismatches.length} of ${check.usageLines} usage lines differ from the rated usage`);
        return EXIT.FAILURE;
      }
      out(`tally demo: all ${check.usageLines} usage lines of the ${check.invoices} invoices equal the rated usage`);
      const invoices = await allInvoices(call);
      for (const line of invoiceTable(invoices, customers)) out(line);
      out('');
      out(`See it: npm start (same TALLY_DATA_DIR), open http://localhost:${config.port}/console and sign in with the API key ${tenant.api_key}`);
      out(`or ask the API: curl -H 'Authorization: Bearer ${tenant.api_key}' http://localhost:${config.port}/v1/invoices`);
      return EXIT.OK;
    } finally {
      await api.stop();
      await rating.pool.close();
    }
  } finally {
    await stores.close();
  }
}

interface InvoiceRow {
  id: string;
  customer: string;
  period_start: string;
  period_end: string;
  subtotal: string;
  total: string;
  lines: { type: string; meter: string | null; amount: string }[];
}

async function allInvoices(call: (m: string, p: string) => Promise<unknown>): Promise<InvoiceRow[]> {
  const all: InvoiceRow[] = [];
  let after: string | undefined;
  for (;;) {
    const page = (await call('GET', `/v1/invoices?limit=1000${after === undefined ? '' : `&starting_after=${after}`}`)) as { data: InvoiceRow[]; has_more: boolean };
    all.push(...page.data);
    if (!page.has_more || page.data.length === 0) return all;
    after = page.data.at(-1)!.id;
  }
}

/** The invoices as a text table: the 20 largest, then totals per plan. */
export function invoiceTable(invoices: readonly InvoiceRow[], customers: readonly { id: string; name: string; plan: string }[]): string[] {
  const byId = new Map(customers.map((c) => [c.id, c]));
  const usage = (i: InvoiceRow) => i.lines.filter((l) => l.type === 'usage' || l.type === 'minimum').reduce((s, l) => s.plus(l.amount), new Dec(0));
  const base = (i: InvoiceRow) => i.lines.filter((l) => l.type === 'base_fee' || l.type === 'proration').reduce((s, l) => s.plus(l.amount), new Dec(0));
  const sorted = [...invoices].sort((a, b) => new Dec(b.total).cmp(a.total) || a.customer.localeCompare(b.customer));
  const rows = sorted.slice(0, 20).map((i) => [byId.get(i.customer)?.name ?? i.customer, byId.get(i.customer)?.plan ?? '', `${i.period_start.slice(0, 10)} – ${i.period_end.slice(0, 10)}`, base(i).toFixed(2), usage(i).toFixed(2), i.total]);
  const head = ['customer', 'plan', 'period', 'base fee', 'usage', 'total USD'];
  const lines = table(head, rows, [false, false, false, true, true, true]);
  if (sorted.length > rows.length) lines.push(`… and ${sorted.length - rows.length} more invoices (GET /v1/invoices)`);
  const plans = new Map<string, { n: number; total: Dec }>();
  for (const i of invoices) {
    const p = byId.get(i.customer)?.plan ?? '?';
    const t = plans.get(p) ?? { n: 0, total: new Dec(0) };
    plans.set(p, { n: t.n + 1, total: t.total.plus(i.total) });
  }
  const grand = invoices.reduce((s, i) => s.plus(i.total), new Dec(0));
  lines.push('');
  const order = (p: string) => DEMO_PLANS.findIndex((x) => x.code === p);
  lines.push(...table(['plan', 'invoices', 'total USD'], [...[...plans].sort(([a], [b]) => order(a) - order(b)).map(([p, t]) => [p, String(t.n), t.total.toFixed(2)]), ['all', String(invoices.length), grand.toFixed(2)]], [false, true, true]));
  return lines;
}

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const width = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]) => r.map((v, c) => (right[c] ? v.padStart(width[c]!) : v.padEnd(width[c]!))).join('  ');
  return [fmt(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)];
}
