import type { ClickHouseStore } from '../core/clickhouse.js';
import { copyKey, memorySettings, type StatementLimits } from './rollup.js';
import { chTime } from './sql.js';

/**
 * The record of later copies (`later_copy_keys_v1`, migration 0012): every raw row that is not
 * its event's first accepted copy, by the (tenant, meter, hour) it would count in, so that a
 * recompute of some hours leaves out just those hours' recorded keys. Before it, every
 * recompute looked up the copies of every id of its hours among all of the tenant's ids, so a
 * run late in a busy hour paid for the whole hour (3.5 to 4.2 s for a 5.5 M-event hour, of
 * which 0.4 s aggregating it); now each run looks up the ids of its own window once, for every
 * meter and tenant.
 *
 * What a run records, for the rows made visible in its window (`from`, `upper`], in one
 * statement:
 *  1. the later copies of the window's ids, among every copy `event_ids_v1` holds (the copy
 *     order is fixed at acceptance, so a copy found later than another stays so), as a set of
 *     copy keys;
 *  2. the raw rows whose copy key is in that set, with their meter and hour: the window's own
 *     rows, and the rows made visible before it that a copy in the window now precedes (a late
 *     first copy, A, displacing a copy B already counted). Such a B was accepted after A, so
 *     B.visible_at >= A.ingested_at - CLOCK_ALLOWANCE_MS, and only window rows accepted before
 *     the window began (plus the allowance) can be an A: the raw rows read start that far
 *     before the window (a second or two in steady state; further after an outage's backlog).
 * Every later copy is recorded by the run whose window holds the later-visible of it and the
 * copy before it: whichever came second finds the other in `event_ids_v1` (provided inserts
 * commit within the overlap the runs re-read, which the window itself needs; the aggregator
 * counts the window again after its recomputes for rows that committed meanwhile). A tenant
 * whose record fails is recorded again from where it failed, its meters waiting with it (see
 * the aggregator), and a row recorded twice (the window's overlap) is one key to the probes.
 */
export interface RecordWindow {
  /** Rows made visible after this instant; undefined: every row of the tenants (the whole history). */
  readonly from: Date | undefined;
  readonly upper: Date;
  /** How far an ingest node's clock may be ahead of the store's, in ms. */
  readonly clockAllowanceMs: number;
}

/**
 * Above this many window rows, the window's ids are found among the tenants' ids by their hash
 * (a scan of the ids, with a set of numbers) rather than by the ids' strings through the
 * primary key, whose analysis of a large set costs more than the scan (for the 5.5 M ids of a
 * busy hour, 2.5 to 3.2 s by hash against 4.9 to 5.2 s by the strings).
 */
const ID_SET_MAX = 100_000;

const TIME = "DateTime64(6, 'UTC')";

/**
 * Records the later copies of the rows made visible in a window, for one tenant or all of them
 * (`tenantId` undefined).
 */
export async function recordLaterCopies(
  ch: ClickHouseStore,
  tenantId: string | undefined,
  window: RecordWindow,
  limits: StatementLimits,
): Promise<void> {
  const raw = ch.table('raw_events_v1');
  const tenant = tenantId === undefined ? '1' : 'tenant_id = {t:String}';
  const params: Record<string, unknown> = { upper: chTime(window.upper), ...(tenantId === undefined ? {} : { t: tenantId }) };
  let ids: string;
  let rows: number;
  if (window.from === undefined) {
    // The whole history: every id of the tenants, counted by hash (a store's first run, or the
    // run after an upgrade that brought the record).
    rows = await count(ch, `${tenant} AND visible_at <= {upper:${TIME}}`, params);
    ids = repeatedIds(ch, tenant, '');
    params.low = chTime(new Date(0));
  } else {
    params.from = chTime(window.from);
    const visible = `${tenant} AND visible_at > {from:${TIME}} AND visible_at <= {upper:${TIME}}`;
    const stats = await windowStats(ch, visible, params, window.from, window.clockAllowanceMs);
    rows = stats.rows;
    // By id alone, not (tenant, id), even for all tenants at once: a set of strings is probed
    // twice as fast (0.27 against 0.59 s for 50,000 ids among 11 M), and an id another tenant
    // also uses only adds that tenant's copies of it, whose later ones are later copies all the same.
    ids =
      rows > ID_SET_MAX
        ? repeatedIds(ch, tenant, ` AND cityHash64(id) IN (SELECT id_hash FROM ${raw} WHERE ${visible})`)
        : ` AND id IN (SELECT id FROM ${raw} WHERE ${visible})`;
    params.low = stats.low ?? params.from;
  }
  if (rows === 0) return;

  // groupUniqArray: one copy may be recorded twice in event_ids_v1 (a segment shipped again
  // before migration 0010 gave it a window of insert tokens, or migration 0003 run again), and
  // its second record is not a later copy. The later copies are a set the raw rows probe, not
  // rows of a table of their own: written to a scratch table (migration 0008) and read back,
  // they cost 0.4 s more for the 1 M later copies of an 11 M-event history.
  const later = `
      SELECT tenant_id, id, arrayJoin(arrayPopFront(arraySort(groupUniqArray(ord)))) AS o FROM ${ch.table('event_ids_v1')}
      WHERE ${tenant}${ids} GROUP BY tenant_id, id HAVING count() > 1`;
  const rowKey = copyKey('id_hash', 'ingested_at', 'copy_hash');
  const laterKey = copyKey('cityHash64(id)', 'tupleElement(o, 1)', 'tupleElement(o, 2)');
  await ch.client.command({
    query: `INSERT INTO ${ch.table('later_copy_keys_v1')} (tenant_id, meter, hour, key)
            SETTINGS optimize_on_insert = 0, optimize_aggregation_in_order = 1${memorySettings(limits, true)}
            SELECT tenant_id, meter, toStartOfHour(timestamp), ${rowKey} AS k FROM ${raw}
            WHERE ${tenant} AND visible_at >= {low:${TIME}} AND visible_at <= {upper:${TIME}}
              AND ${tenantId === undefined ? withTenant('k') : 'k'} IN (SELECT ${tenantId === undefined ? withTenant(laterKey) : laterKey} FROM (${later}))`,
    query_params: params,
  });
}

/**
 * A copy key told apart by its tenant, for recording several tenants at once: the same event
 * sent to two tenants in the same microsecond has the same key, and one tenant's later copy
 * must not take the other's only copy for one. The tenant's hash XORed into the key's low half
 * keeps the probe a set of numbers: matched as (tenant, key) pairs instead, the record of a
 * whole 11 M-event history took 2.0 s against 0.6 s. Two copies of one id in two tenants then
 * match only if their content and acceptance halves differ by exactly the XOR of the tenants'
 * hashes, once in 2^64, as for the copy key itself.
 */
function withTenant(key: string): string {
  return `bitXor(${key}, toUInt128(cityHash64(tenant_id)))`;
}

/**
 * The ids of the tenants (narrowed by `among`) seen more than once, as a condition on
 * event_ids_v1: their hashes are counted in a hash table of numbers first, so that only those
 * ids' copies are gathered and sorted (a colliding id, or one id of two tenants, joins them
 * only to be found with one copy per tenant). Counted per id in the table's order instead, the
 * engine merges the sorted parts' string ids on the way: 1.8 s against 0.6 s for 11 M ids.
 */
function repeatedIds(ch: ClickHouseStore, tenant: string, among: string): string {
  return ` AND cityHash64(id) IN (SELECT h FROM (SELECT cityHash64(id) AS h FROM ${ch.table('event_ids_v1')} WHERE ${tenant}${among} GROUP BY h HAVING count() > 1))`;
}

async function count(ch: ClickHouseStore, where: string, params: Record<string, unknown>): Promise<number> {
  const rs = await ch.client.query({ query: `SELECT count() AS n FROM ${ch.table('raw_events_v1')} WHERE ${where}`, query_params: params, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string | number }>())[0]?.n ?? 0);
}

/**
 * How many rows the window holds, and from when the raw rows must be read to find the copies
 * its rows may displace: the earliest acceptance among the rows accepted before the window's
 * start (plus the allowance), less the allowance; undefined when there are none.
 */
async function windowStats(
  ch: ClickHouseStore,
  visible: string,
  params: Record<string, unknown>,
  from: Date,
  allowanceMs: number,
): Promise<{ rows: number; low: string | undefined }> {
  const rs = await ch.client.query({
    query: `SELECT count() AS n, countIf(ingested_at <= {edge:${TIME}}) AS early,
              toString(minIf(ingested_at, ingested_at <= {edge:${TIME}}) - toIntervalMillisecond({allowance:UInt32})) AS low
            FROM ${ch.table('raw_events_v1')} WHERE ${visible}`,
    query_params: { ...params, edge: chTime(new Date(from.getTime() + allowanceMs)), allowance: allowanceMs },
    format: 'JSONEachRow',
  });
  const row = (await rs.json<{ n: string | number; early: string | number; low: string }>())[0];
  const rows = Number(row?.n ?? 0);
  return { rows, low: row === undefined || Number(row.early) === 0 ? undefined : row.low };
}
