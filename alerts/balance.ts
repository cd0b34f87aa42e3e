import type { Counter } from 'prom-client';
import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { errorSummary, isolate, storesDown } from '../core/isolate.js';
import type { Logger } from '../core/log.js';
import { Dec, plain } from '../core/money.js';
import { minorUnits } from '../core/currency.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import type { BalanceView } from '../invoicing/balance.js';
import type { PeriodRating } from '../invoicing/rate-periods.js';
import { emit } from '../webhooks/events.js';

/**
 * Prepaid balance alerts (see the 0032 migration). A customer with a `low_balance_threshold`
 * gets `balance.low` when its balance (invoicing/balance.ts) is at or below that level, and
 * `balance.depleted` when it is at or below zero, each once per period: the period of its
 * earliest-started live subscription, so a customer with several subscriptions has one window.
 * They are evaluated after each rated batch, for the customers whose open periods were rated,
 * and a firing is recorded in balance_firings in the transaction that emits its event. A
 * customer without a level set gets neither (level `"0"`: only `balance.depleted`).
 */
export const SetBalanceAlerts = z.strictObject({
  /** null: no balance alerts any more. */
  low_balance_threshold: z
    .string()
    .regex(/^\d{1,20}(\.\d{1,6})?$/, 'must be a decimal string at or above zero such as "10.00"')
    .nullable(),
});

export interface BalanceAlertsView {
  customer: string;
  low_balance_threshold: string | null;
  /** What fired, newest periods first. */
  fired: { kind: 'low' | 'depleted'; period_start: string; threshold: string; balance: string; fired_at: string }[];
}

export class BalanceAlertService {
  constructor(private readonly pg: PostgresStore) {}

  async set(tenantId: string, customerId: string, input: z.output<typeof SetBalanceAlerts>, actor: string): Promise<BalanceAlertsView> {
    const currency = await this.customer(tenantId, customerId);
    const level = input.low_balance_threshold;
    if (level === null) {
      await this.pg.query('DELETE FROM balance_alert_settings WHERE tenant_id = $1 AND customer_id = $2', [tenantId, customerId]);
      return this.get(tenantId, customerId);
    }
    // A balance is in the currency's minor units: a level finer than that is a mistake.
    if (new Dec(level).decimalPlaces() > minorUnits(currency)) {
      throw new TallyError('TALLY_ERR_INVALID_VALUE', `${currency} has ${minorUnits(currency)} decimal places; low_balance_threshold has more`, { field: 'low_balance_threshold' });
    }
    await this.pg.query(
      `INSERT INTO balance_alert_settings (tenant_id, customer_id, low_balance_threshold, actor) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, customer_id) DO UPDATE SET low_balance_threshold = EXCLUDED.low_balance_threshold, actor = EXCLUDED.actor, updated_at = now()`,
      [tenantId, customerId, level, actor],
    );
    return this.get(tenantId, customerId);
  }

  async get(tenantId: string, customerId: string): Promise<BalanceAlertsView> {
    await this.customer(tenantId, customerId);
    const level = (await levelsOf(this.pg, [{ tenantId, customerId }])).get(`${tenantId}\n${customerId}`);
    const { rows } = await this.pg.query<{ kind: 'low' | 'depleted'; period_start: Date; threshold: string; balance: string; fired_at: Date }>(
      `SELECT kind, period_start, threshold::text AS threshold, balance::text AS balance, fired_at FROM balance_firings
        WHERE tenant_id = $1 AND customer_id = $2 ORDER BY period_start DESC, fired_at, kind LIMIT 100`,
      [tenantId, customerId],
    );
    return {
      customer: customerId,
      low_balance_threshold: level ?? null,
      fired: rows.map((r) => ({ kind: r.kind, period_start: r.period_start.toISOString(), threshold: plain(r.threshold), balance: plain(r.balance), fired_at: r.fired_at.toISOString() })),
    };
  }

  /** The customer's currency; 404 for a customer the tenant does not have. */
  private async customer(tenantId: string, id: string): Promise<string> {
    const { rows } = await this.pg.query<{ currency: string }>('SELECT currency FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [tenantId, id]);
    if (rows[0] === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no customer ${JSON.stringify(id)}`, { field: 'id' });
    return rows[0].currency;
  }
}

/** The low-balance levels of these customers that have one, keyed by tenant and id joined by a newline. */
async function levelsOf(q: Queryable, refs: readonly { tenantId: string; customerId: string }[]): Promise<Map<string, string>> {
  if (refs.length === 0) return new Map();
  const { rows } = await q.query<{ tenant_id: string; customer_id: string; level: string }>(
    'SELECT tenant_id, customer_id, low_balance_threshold::text AS level FROM balance_alert_settings WHERE tenant_id = ANY($1) AND customer_id = ANY($2)',
    [[...new Set(refs.map((r) => r.tenantId))], [...new Set(refs.map((r) => r.customerId))]],
  );
  return new Map(rows.map((r) => [`${r.tenant_id}\n${r.customer_id}`, plain(r.level)]));
}

/** Which balance alerts a balance reaches at a level, as a pure rule. */
export function balanceCrossings(balance: string, level: string): { kind: 'low' | 'depleted'; threshold: string }[] {
  const out: { kind: 'low' | 'depleted'; threshold: string }[] = [];
  if (new Dec(level).gt(0) && new Dec(balance).lte(level)) out.push({ kind: 'low', threshold: plain(level) });
  if (new Dec(balance).lte(0)) out.push({ kind: 'depleted', threshold: '0' });
  return out;
}

export interface BalanceAlertDeps {
  pg: PostgresStore;
  /** The customer's balance now (invoicing/balance.ts customerBalance). */
  balance: (tenantId: string, customerId: string, now: Date) => Promise<BalanceView | undefined>;
  logger?: Logger | undefined;
  itemFailures?: Counter<'loop'> | undefined;
}

/**
 * Fires the balance alerts of the customers whose open periods were just rated and who have a
 * level set. A customer whose evaluation fails alone is logged, counted in
 * `tally_loop_item_failures_total{loop="balance_alerts"}` and skipped until it is next rated (the
 * balance stays below the level, so nothing is lost); a failure with Postgres down is thrown.
 */
export async function fireBalanceAlerts(deps: BalanceAlertDeps, all: readonly PeriodRating[], now: number): Promise<number> {
  const open = all.filter((r) => r.work.period.end.getTime() > now && r.work.period.start.getTime() <= now);
  const customers = new Map(open.map((r) => [`${r.work.sub.tenantId}\n${r.work.sub.customer}`, { tenantId: r.work.sub.tenantId, customerId: r.work.sub.customer }]));
  if (customers.size === 0) return 0;
  const levels = await levelsOf(deps.pg, [...customers.values()]);
  const watched = [...customers.entries()].filter(([key]) => levels.has(key)).map(([key, c]) => ({ ...c, level: levels.get(key)! }));
  let n = 0;
  await isolate(
    watched,
    async (items) => {
      for (const c of items) n += await fireOne(deps, c, new Date(now));
    },
    {
      systemic: storesDown(deps.pg),
      setAside: (c, error) => {
        deps.itemFailures?.inc({ loop: 'balance_alerts' });
        deps.logger?.warn({ tenant: c.tenantId, customer: c.customerId, ...errorSummary(error) }, 'balance alerts of a customer failed; skipped until it is next rated');
      },
    },
  );
  return n;
}

async function fireOne(deps: BalanceAlertDeps, c: { tenantId: string; customerId: string; level: string }, now: Date): Promise<number> {
  const view = await deps.balance(c.tenantId, c.customerId, now);
  if (view === undefined || view.subscriptions.length === 0) return 0;
  const periodStart = view.subscriptions.map((s) => s.period_start).sort()[0]!;
  const crossings = balanceCrossings(view.balance, c.level);
  if (crossings.length === 0) return 0;
  return deps.pg.transaction(async (tx) => {
    const { rows } = await tx.query<{ kind: 'low' | 'depleted' }>(
      `INSERT INTO balance_firings (tenant_id, customer_id, kind, period_start, threshold, balance)
       SELECT $1, $2, k, $3, th, $4 FROM unnest($5::text[], $6::numeric[]) AS x(k, th)
       ON CONFLICT DO NOTHING RETURNING kind`,
      [c.tenantId, c.customerId, periodStart, view.balance, crossings.map((x) => x.kind), crossings.map((x) => x.threshold)],
    );
    const fresh = crossings.filter((x) => rows.some((r) => r.kind === x.kind));
    await emit(
      tx,
      fresh.map((x) => ({
        tenantId: c.tenantId,
        type: x.kind === 'low' ? ('balance.low' as const) : ('balance.depleted' as const),
        key: `balance.${x.kind}:${c.customerId}:${periodStart}`,
        data: { customer: c.customerId, currency: view.currency, threshold: x.threshold, credit: view.credit, spend: view.spend, balance: view.balance, period_start: periodStart, as_of: view.as_of },
      })),
    );
    return fresh.length;
  });
}

/** Deletes the balance firings of long-ended periods (as pruneFirings does for usage alerts). */
export async function pruneBalanceFirings(pg: PostgresStore, now: number, retentionMs: number): Promise<number> {
  const r = await pg.query('DELETE FROM balance_firings WHERE period_start < $1', [new Date(now - retentionMs)]);
  return r.rowCount ?? 0;
}
