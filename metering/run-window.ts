import type { ClickHouseStore } from '../core/clickhouse.js';
import type { MeterRecord } from './meters.js';
import { chTime } from './sql.js';

/*
 * What an aggregator run reads of its window, the raw rows made visible in (from, upper]:
 * how many there are, their tenants, and the hours to recompute for them, with the hours of
 * the copies a late first copy among them displaces.
 */

/** How many rows the store holds made visible in (from, upper]. */
export async function visibleRows(ch: ClickHouseStore, from: Date, upper: Date): Promise<number> {
  const rs = await ch.client.query({
    query: `SELECT count() AS n FROM ${ch.table('raw_events_v1')} WHERE ${VISIBLE}`,
    query_params: { from: chTime(from), upper: chTime(upper) },
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string | number }>())[0]?.n ?? 0);
}

/** The tenants with rows made visible in (from, upper]. */
export async function windowTenants(ch: ClickHouseStore, from: Date, upper: Date): Promise<string[]> {
  const rs = await ch.client.query({
    query: `SELECT DISTINCT tenant_id FROM ${ch.table('raw_events_v1')} WHERE ${VISIBLE}`,
    query_params: { from: chTime(from), upper: chTime(upper) },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ tenant_id: string }>()).map((r) => r.tenant_id);
}

/**
 * The hours of one meter to recompute for events made visible in (from, upper]: their own
 * hours, and those of the copies they may have displaced (see `displaced`).
 */
export async function hoursOf(ch: ClickHouseStore, meter: MeterRecord, from: Date, upper: Date): Promise<string[]> {
  const raw = ch.table('raw_events_v1');
  const rs = await ch.client.query({
    query: `SELECT ${HOUR_LIST} AS hours FROM (
              SELECT toStartOfHour(timestamp) AS h FROM ${raw}
              WHERE tenant_id = {t:String} AND meter = {m:String} AND ${VISIBLE}
              UNION ALL
              ${displaced(ch, false, 'AND tenant_id = {t:String} AND meter = {m:String}', 'AND tenant_id = {t:String}')})`,
    query_params: { t: meter.tenant_id, m: meter.key, ...windowParams(from, upper) },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ hours: string[] }>())[0]?.hours ?? [];
}

/** The (tenant, meter)s with hours to recompute for events made visible in (from, upper]. */
export async function affectedMeters(ch: ClickHouseStore, from: Date, upper: Date): Promise<{ tenant_id: string; meter: string; hours: string[] }[]> {
  const raw = ch.table('raw_events_v1');
  const rs = await ch.client.query({
    query: `SELECT tenant_id, meter, ${HOUR_LIST} AS hours FROM (
              SELECT tenant_id, meter, toStartOfHour(timestamp) AS h FROM ${raw} WHERE ${VISIBLE}
              UNION ALL
              ${displaced(ch, true, '', '')})
            GROUP BY tenant_id, meter`,
    query_params: windowParams(from, upper),
    format: 'JSONEachRow',
  });
  return rs.json();
}

/** Raw rows made visible in the run's window. */
const VISIBLE = "visible_at > {from:DateTime64(6, 'UTC')} AND visible_at <= {upper:DateTime64(6, 'UTC')}";

/**
 * The distinct hours `h` of a group as sorted text, turned into text once per hour rather than
 * once per row (a run's window can hold millions of rows).
 */
const HOUR_LIST = 'arrayMap(x -> toString(x), arraySort(groupUniqArray(h)))';

/**
 * How far ahead of the event store's clock an ingest node's clock may be. A copy is accepted
 * (`ingested_at`, the node's clock) before it becomes visible (`visible_at`, the store's), so
 * a copy already visible when the window began was accepted before that instant plus this.
 */
export const CLOCK_ALLOWANCE_MS = 1_000;

/**
 * Copies of the window's events accepted up to this long before the window began are matched
 * against the raw rows made visible just before it; older ones (a log that shipped after an
 * outage) are looked up by id in event_hours_v1. See `displaced`.
 */
const RECENT_MS = 10_000;

function windowParams(from: Date, upper: Date): Record<string, string> {
  const at = (ms: number) => chTime(new Date(from.getTime() + ms));
  return { from: chTime(from), upper: chTime(upper), edge: at(CLOCK_ALLOWANCE_MS), recent: at(-RECENT_MS), before: at(-RECENT_MS - CLOCK_ALLOWANCE_MS) };
}

/**
 * The hours (with tenant and meter) of the other copies of the events made visible in the
 * window that were accepted before it began. Such a copy A can come before a copy B counted by
 * an earlier run (A's node's log shipped late) and so take its place as the first copy: the
 * hour that counted B, which may be another hour or meter, must be recomputed too. Only B
 * visible before the window began matters (otherwise its hour is in the window), and then
 * A.ingested_at <= B.ingested_at <= B.visible_at + CLOCK_ALLOWANCE_MS <= from + the allowance,
 * which is what picks the candidates A: in steady state the window's first second or so.
 *
 * B was also made visible after A.ingested_at - CLOCK_ALLOWANCE_MS. So for a candidate
 * accepted at most RECENT_MS before the window, B is among the raw rows made visible in the
 * RECENT_MS and a second before the window: a small, recent slice found by `visible_at`. Only
 * for candidates accepted earlier than that (a backlog) is every copy looked up by id in
 * event_hours_v1 (migration 0010), which costs about a block read per id. (Copies written
 * before migration 0010 are not in that table.) `copyWhere` and `freshWhere` narrow the copies
 * and the window's rows; `withKeys` adds tenant and meter to each hour.
 */
function displaced(ch: ClickHouseStore, withKeys: boolean, copyWhere: string, freshWhere: string): string {
  const raw = ch.table('raw_events_v1');
  const keys = withKeys ? 'tenant_id, meter, ' : '';
  const candidates = (accepted: string) => `(tenant_id, id) IN (
                  SELECT tenant_id, id FROM ${raw}
                  WHERE ${VISIBLE} AND ${accepted} ${freshWhere})`;
  return `SELECT ${keys}toStartOfHour(timestamp) AS h FROM ${raw}
                WHERE visible_at > {before:DateTime64(6, 'UTC')} AND visible_at <= {from:DateTime64(6, 'UTC')} ${copyWhere}
                  AND ${candidates("ingested_at >= {recent:DateTime64(6, 'UTC')} AND ingested_at <= {edge:DateTime64(6, 'UTC')}")}
                UNION ALL
                SELECT ${keys}hour AS h FROM ${ch.table('event_hours_v1')}
                WHERE ${candidates("ingested_at < {recent:DateTime64(6, 'UTC')}")} ${copyWhere}`;
}
