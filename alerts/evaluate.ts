import type { Counter } from 'prom-client';
import { errorSummary, isolate, storesDown } from '../core/isolate.js';
import type { Logger } from '../core/log.js';
import type { PostgresStore } from '../core/postgres.js';
import { emit } from '../webhooks/events.js';
import { Dec } from '../core/money.js';
import { meterTotals } from '../invoicing/compose.js';
import { usageParts } from '../invoicing/parts.js';
import type { PeriodRating } from '../invoicing/rate-periods.js';
import { crossings, DEFAULT_INCLUDED_PERCENTS, type Crossing } from './core.js';
import { settingsFor } from './settings.js';

/**
 * Fires the usage alerts of freshly rated open periods: the thresholds each period's usage has
 * reached (core.ts) that have not fired for that period yet are recorded in alert_firings and
 * emitted as `usage.threshold_reached` in one transaction. The firing's primary key (one per
 * subscription, period, meter, kind and threshold) makes each fire once, however many rating
 * runs see it — concurrent ones and runs after a restart included.
 *
 * The evaluations of a batch are written together; when that fails, each subscription's are
 * tried alone (core/isolate.ts), and a subscription whose evaluation fails on its own is logged,
 * counted in `tally_loop_item_failures_total{loop="alerts"}` and skipped: the others' alerts
 * fire, and its own are evaluated again when it is next rated (a firing is never lost, as the
 * threshold stays reached). A failure with Postgres down is thrown to the rater.
 */
export interface AlertIsolation {
  logger?: Logger | undefined;
  itemFailures?: Counter<'loop'> | undefined;
}

export async function fireAlerts(pg: PostgresStore, all: readonly PeriodRating[], now: number, fired?: Counter<'kind'>, o: AlertIsolation = {}): Promise<number> {
  // Alerts are about the period running now: a re-rate of past periods tells no one anything.
  const ratings = all.filter((r) => r.work.period.end.getTime() > now && r.work.period.start.getTime() <= now);
  if (ratings.length === 0) return 0;
  const bySub = new Map<string, PeriodRating[]>();
  for (const r of ratings) {
    const key = `${r.work.sub.tenantId}\n${r.work.sub.id}`;
    bySub.set(key, [...(bySub.get(key) ?? []), r]);
  }
  let n = 0;
  await isolate(
    [...bySub.values()],
    async (groups) => {
      n += await fireBatch(pg, groups.flat(), fired);
    },
    {
      systemic: storesDown(pg),
      setAside: (group, error) => {
        o.itemFailures?.inc({ loop: 'alerts' });
        o.logger?.warn({ tenant: group[0]!.work.sub.tenantId, subscription: group[0]!.work.sub.id, ...errorSummary(error) }, 'usage alerts of a subscription failed; skipped until it is next rated');
      },
    },
  );
  return n;
}

async function fireBatch(pg: PostgresStore, ratings: readonly PeriodRating[], fired?: Counter<'kind'>): Promise<number> {
  const refs = ratings.map((r) => ({ tenantId: r.work.sub.tenantId, subscriptionId: r.work.sub.id }));
  const settings = await settingsFor(pg, refs);
  const candidates: { r: PeriodRating; c: Crossing }[] = [];
  for (const r of ratings) {
    const s = settings.get(`${r.work.sub.tenantId}\n${r.work.sub.id}`) ?? { includedPercents: DEFAULT_INCLUDED_PERCENTS, spend: [] };
    for (const c of crossings(meterTotals(usageParts(r)), s)) candidates.push({ r, c });
  }
  if (candidates.length === 0) return 0;
  return pg.transaction(async (tx) => {
    const key = (t: string, sub: string, ps: number, m: string, k: string, th: string) => `${t}\n${sub}\n${ps}\n${m}\n${k}\n${new Dec(th).toFixed()}`;
    const { rows } = await tx.query<{ tenant_id: string; subscription_id: string; period_start: Date; meter: string; kind: string; threshold: string }>(
      `INSERT INTO alert_firings (tenant_id, subscription_id, period_start, meter, kind, threshold, quantity, amount)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::numeric[])
       ON CONFLICT DO NOTHING
       RETURNING tenant_id, subscription_id, period_start, meter, kind, threshold::text AS threshold`,
      [
        candidates.map((x) => x.r.work.sub.tenantId),
        candidates.map((x) => x.r.work.sub.id),
        candidates.map((x) => x.r.work.period.start),
        candidates.map((x) => x.c.meter),
        candidates.map((x) => x.c.kind),
        candidates.map((x) => x.c.threshold),
        candidates.map((x) => x.c.quantity ?? '0'),
        candidates.map((x) => x.c.amount),
      ],
    );
    const inserted = new Set(rows.map((r) => key(r.tenant_id, r.subscription_id, r.period_start.getTime(), r.meter, r.kind, r.threshold)));
    const news = candidates.filter(({ r, c }) => inserted.has(key(r.work.sub.tenantId, r.work.sub.id, r.work.period.start.getTime(), c.meter, c.kind, c.threshold)));
    await emit(
      tx,
      news.map(({ r, c }) => ({
        tenantId: r.work.sub.tenantId,
        type: 'usage.threshold_reached' as const,
        key: `usage.threshold_reached:${r.work.sub.id}:${r.work.period.start.toISOString()}:${c.meter}:${c.kind}:${c.threshold}`,
        data: {
          subscription: r.work.sub.id,
          customer: r.work.sub.customer,
          currency: r.work.sub.currency,
          period: { start: r.work.period.start.toISOString(), end: r.work.period.end.toISOString() },
          meter: c.meter === '' ? null : c.meter,
          threshold: { kind: c.kind, value: c.threshold },
          included: c.included,
          quantity: c.quantity,
          amount: c.amount,
        },
      })),
    );
    for (const { c } of news) fired?.inc({ kind: c.kind });
    return news.length;
  });
}

/**
 * A firing matters while its period runs: it keeps the threshold from firing twice, and
 * `GET .../alerts` shows the current period's. Periods last a year at most (366 days), so
 * firings of periods that started more than 367 days ago belong to ended periods and are
 * deleted (their `usage.threshold_reached` events have their own retention).
 */
export const FIRING_RETENTION_MS = 367 * 86_400_000;

export async function pruneFirings(pg: PostgresStore, now: number): Promise<number> {
  const r = await pg.query('DELETE FROM alert_firings WHERE period_start < $1', [new Date(now - FIRING_RETENTION_MS)]);
  return r.rowCount ?? 0;
}
