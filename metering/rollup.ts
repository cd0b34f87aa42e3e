import type { ClickHouseStore } from '../core/clickhouse.js';
import type { Aggregation, Meter, MeterRecord } from './meters.js';
import { COPY_ORDER, EPOCH_KEY, groupsExpr, numberExpr, propertyText, uniqueExpr } from './sql.js';

/**
 * The first accepted copy of every event matching `where` (SQL over the raw table's columns,
 * with `{t:String}` the tenant), as rows of customer, group values, hour, the event's number,
 * its unique-count text, timestamp and ordering key. Both the rollup and the rater's partial
 * hours read events through this one definition of "first copy".
 */
export function firstCopies(ch: ClickHouseStore, meter: Pick<Meter, 'value_property'>, where: string, groups: number): string {
  const raw = ch.table('raw_events_v1');
  const hasVp = meter.value_property !== null;
  return `
      SELECT customer, ${groupsExpr(groups)} AS groups, toStartOfHour(timestamp) AS hour,
        ${numberExpr(hasVp)} AS num, ${uniqueExpr(hasVp)} AS u, timestamp AS ts, toUnixTimestamp64Milli(timestamp) AS ts_ms,
        tuple(timestamp, ingested_at, copy_hash) AS key
      FROM ${raw}
      WHERE ${where}
        AND (id, ${COPY_ORDER}) IN (
          SELECT id, min(ord) FROM ${ch.table('event_ids_v1')}
          WHERE tenant_id = {t:String} AND id IN (SELECT id FROM ${raw} WHERE ${where})
          GROUP BY id)`;
}

/** Query parameters `firstCopies` needs for a meter (its key, value property and group names). */
export function eventParams(meter: Pick<Meter, 'key' | 'value_property' | 'group_by'>): Record<string, unknown> {
  const params: Record<string, unknown> = { m: meter.key };
  if (meter.value_property !== null) params.vp = meter.value_property;
  meter.group_by.forEach((g, i) => (params[`g${i}`] = g));
  return params;
}

/**
 * One hour's rollup columns from first-copy events (`num`, `u`, `key`, `ts`, and `next_ms`
 * for gauges). unique_count states only for unique_count meters: they are the costly column.
 */
export function hourlyColumns(isUnique: boolean): string {
  return `count() AS events,
      sum(ifNull(num, toDecimal128(0, 6))) AS sum_value,
      max(num) AS max_value,
      min(num) AS min_value,
      argMax(num, key) AS latest_value,
      maxIf(key, isNotNull(num)) AS latest_key,
      arraySort(groupUniqArrayIf(u, ${isUnique ? "u != ''" : '0'})) AS uniq_values`;
}

/**
 * Which hours a recompute covers: a list of hours, or every hour of the meter (a backfill).
 * Either way it reads only rows visible by the run's upper bound (`visibleThrough`), through
 * which the run has recorded the later copies: a later copy made visible after the record was
 * taken would otherwise count beside its first copy until the next run, and a period closed
 * meanwhile would bill it. The next run records it and recomputes its hour.
 */
export type HourScope = { readonly visibleThrough: string } & ({ readonly hours: readonly string[] } | { readonly all: true });

/**
 * Engine settings of a recompute. The rollup is grouped by (customer, groups, hour) and the raw
 * table is sorted by (tenant, meter, customer, timestamp): without group values, aggregating in
 * that order keeps one customer's hours in memory at a time instead of a hash table of every
 * row of the meter. With group values the keys follow that order only for their customer
 * prefix, and the engine then aggregates each customer's few rows as a group of its own, at a
 * fixed cost per customer that made a grouped meter's backfill take twice as long as a hash
 * table of all its rows (8.0 against 4.4 to 5.1 s for 3.7 M events of 10k customers); grouped
 * meters aggregate in a hash table, which spills to disk beyond HASH_SPILL_BYTES so that a
 * large tenant's backfill stays bounded. The rows an insert writes have distinct keys (one per
 * group, or per stale row), so the ReplacingMergeTree's merge of each inserted block
 * (optimize_on_insert), which costs more than sorting and writing it, would find nothing to
 * replace and is skipped.
 * The in-order aggregation of ungrouped meters hands the insert one stream; two insert threads
 * sort and write its blocks side by side (a fifth of a backfill's time). The settings are
 * written in the statement: chDB's connection turns request settings into session-wide SETs,
 * which would then hold for every later query of the process.
 */
const RECOMPUTE_SETTINGS = 'optimize_on_insert = 0, max_insert_threads = 2';
/** What a statement's hash-table aggregation holds in memory before it spills to disk, at most. */
const HASH_SPILL_BYTES = 1024 ** 3;

/**
 * What one recompute or snapshot statement may hold in memory (`undefined`: only the engine's
 * own bound). Beyond it the statement fails, and the aggregator sets that meter aside, instead
 * of one tenant's large hours taking the memory every other query (and on the embedded engine,
 * the process) needs. Aggregations and sorts spill to disk at half of it (at most
 * HASH_SPILL_BYTES), so that only what cannot spill (the sets of ids probed) can reach it.
 * `ratioSettings`: the engine has the `max_bytes_ratio_before_external_*` settings (newer
 * versions), whose default (spill at half of the memory available) takes precedence over the
 * byte thresholds and, for sorts, did not spill at all under a bound: they are set to 0 so that
 * the byte thresholds apply. Older servers do not know them, and a setting a server does not
 * know fails the statement.
 */
export interface StatementLimits {
  readonly maxMemoryBytes: number | undefined;
  readonly ratioSettings: boolean;
}

/**
 * The memory settings of a statement; `hashAggregation` when it aggregates in a hash table.
 * Under a bound every statement gets both spill thresholds: an ungrouped meter's aggregation
 * is in the table's order unless a window function (weighted_sum) comes first, and then it is
 * a hash table too; the threshold does not turn the in-order aggregation off.
 */
export function memorySettings(limits: StatementLimits, hashAggregation: boolean): string {
  const bound = limits.maxMemoryBytes;
  if (bound === undefined) return hashAggregation ? `, max_bytes_before_external_group_by = ${HASH_SPILL_BYTES}` : '';
  const spill = Math.min(HASH_SPILL_BYTES, Math.floor(bound / 2));
  const settings = [`max_memory_usage = ${bound}`, `max_bytes_before_external_group_by = ${spill}`, `max_bytes_before_external_sort = ${spill}`];
  if (limits.ratioSettings) settings.push('max_bytes_ratio_before_external_group_by = 0', 'max_bytes_ratio_before_external_sort = 0');
  return `, ${settings.join(', ')}`;
}

function recomputeSettings(grouped: boolean, limits: StatementLimits): string {
  const aggregation = grouped ? 'optimize_aggregation_in_order = 0' : 'optimize_aggregation_in_order = 1';
  return `SETTINGS ${aggregation}${memorySettings(limits, grouped)}, ${RECOMPUTE_SETTINGS}`;
}

/**
 * A raw row is a later copy when its copy key is among the recorded later copies of its
 * (tenant, meter, hour) (later-copies.ts): one 128-bit number, the id's 64-bit hash above the
 * content hash XOR the acceptance microsecond. A set of numbers is several times cheaper to
 * build and probe than one of strings, and a 16-byte key cheaper than the 24-byte (id hash,
 * acceptance time, content hash) tuple (1.3 against 1.7 s for one meter's 3.7 M events). Two
 * copies of one id with the same content (a retried send) differ in acceptance time, so their
 * keys differ in the low half by the XOR of the two instants; with other content the low halves
 * are equal once in 2^64. So a first copy could only be taken for a later one if a later copy
 * recorded for the same hour matched it in both 64-bit halves. (Two copies alike in content
 * and acceptance microsecond are one copy to event_ids_v1 and here.)
 */
export function copyKey(idHash: string, acceptedAt: string, contentHash: string): string {
  return `bitOr(bitShiftLeft(toUInt128(${idHash}), 64), toUInt128(bitXor(${contentHash}, toUInt64(toUnixTimestamp64Micro(${acceptedAt})))))`;
}

/**
 * Recomputes whole hours of one tenant's meter from the raw events, counting each event's
 * first accepted copy only, and writes them as a new version of those hours' rows. Rows of
 * those hours that the recompute no longer produces are then overwritten with empty ones, so
 * the newest version of an hour is always exactly what the raw events say. Running it twice,
 * or again after a crash half-way (a later run's version is greater), gives the same rows.
 *
 * Only the columns the meter's aggregation reads are computed (READS); the others hold
 * constants. The gauge integral's window function, which sorts every event of the hours, runs
 * for weighted_sum meters only.
 */
export async function recomputeHours(ch: ClickHouseStore, meter: MeterRecord, scope: HourScope, version: bigint, limits: StatementLimits): Promise<void> {
  if ('hours' in scope && scope.hours.length === 0) return;
  const hourly = ch.table('usage_hourly_v1');
  const raw = ch.table('raw_events_v1');
  const hasVp = meter.value_property !== null;
  const isUnique = meter.aggregation === 'unique_count';
  const isGauge = meter.aggregation === 'weighted_sum';
  const params: Record<string, unknown> = { ...eventParams(meter), t: meter.tenant_id, version: version.toString() };
  let where = 'tenant_id = {t:String} AND meter = {m:String}';
  let hourWhere = where;
  let later = `SELECT key FROM ${ch.table('later_copy_keys_v1')} WHERE ${hourWhere}`;
  if ('hours' in scope) {
    params.hours = scope.hours;
    where += ' AND toStartOfHour(timestamp) IN {hours:Array(DateTime)}';
    hourWhere += ' AND hour IN {hours:Array(DateTime)}';
    later += ' AND hour IN {hours:Array(DateTime)}';
  }
  params.through = scope.visibleThrough;
  where += " AND visible_at <= {through:DateTime64(6, 'UTC')}";

  // Group values as separate String keys (cheaper to group by than an array), the array built after.
  const groupKeys = meter.group_by.map((_, i) => `${propertyText(`g${i}`)} AS g${i}`);
  const groupNames = meter.group_by.map((_, i) => `g${i}`);
  const events = `
      SELECT customer, ${groupKeys.map((g) => `${g}, `).join('')}toStartOfHour(timestamp) AS hour,
        ${numberExpr(hasVp)} AS num, ${isUnique ? uniqueExpr(hasVp) : "''"} AS u, timestamp AS ts, toUnixTimestamp64Milli(timestamp) AS ts_ms,
        ${PACKED_KEY} AS key
      FROM ${raw}
      WHERE ${where} AND ${copyKey('id_hash', 'ingested_at', 'copy_hash')} NOT IN (${later})`;
  const keys = ['customer', ...groupNames, 'hour'].join(', ');
  const source = isGauge
    ? `SELECT *,
        -- The gauge holds each number until the next numbered event of the hour, the last one to the end of the hour.
        leadInFrame(ts_ms, 1, toInt64(toUnixTimestamp(hour)) * 1000 + 3600000)
          OVER (PARTITION BY ${keys}, isNull(num) ORDER BY key ASC ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
      FROM (${events})`
    : events;
  const columns = 'tenant_id, meter, customer, groups, hour, events, sum_value, max_value, min_value, latest_value, latest_key, uniq_values, gauge_first, gauge_integral, version';

  const stored = new Set<RollupColumn>(READS[meter.aggregation]);
  const aggregates = ROLLUP_COLUMNS.filter((c) => stored.has(c)).map((c) => AGGREGATE[c]);
  const values = ROLLUP_COLUMNS.map((c) => (stored.has(c) ? (c === 'latest_key' ? unpackKey('latest') : c) : CONSTANT[c]));
  await ch.client.command({
    query: `
      INSERT INTO ${hourly} (${columns}) ${recomputeSettings(meter.group_by.length > 0, limits)}
      SELECT {t:String}, {m:String}, customer, CAST([${groupNames.join(', ')}] AS Array(String)), hour, events, ${values.join(', ')}, {version:UInt64}
      FROM (
        SELECT ${keys}, ${['count() AS events', ...aggregates].join(', ')}
        FROM (${source})
        GROUP BY ${keys})`,
    query_params: params,
  });
  // Rows of these hours whose newest version is older than this one and not empty: the
  // recompute above no longer produced them, so an empty row replaces them. (A meter's first
  // backfill usually has no older rows at all, which one look at the primary key tells.)
  if (!(await hasOlderRows(ch, hourWhere, params))) return;
  await ch.client.command({
    query: `
      INSERT INTO ${hourly} (${columns}) ${recomputeSettings(false, limits)}
      SELECT {t:String}, {m:String}, customer, groups, hour, toUInt64(0), ${ROLLUP_COLUMNS.map((c) => CONSTANT[c]).join(', ')}, {version:UInt64}
      FROM ${hourly}
      WHERE ${hourWhere}
      GROUP BY customer, groups, hour
      HAVING max(version) < {version:UInt64} AND argMax(events, version) > 0`,
    query_params: params,
  });
}

type RollupColumn = 'sum_value' | 'max_value' | 'min_value' | 'latest_value' | 'latest_key' | 'uniq_values' | 'gauge_first' | 'gauge_integral';

/** The value columns of a rollup row, in the table's order (between `events` and `version`). */
const ROLLUP_COLUMNS: readonly RollupColumn[] = ['sum_value', 'max_value', 'min_value', 'latest_value', 'latest_key', 'uniq_values', 'gauge_first', 'gauge_integral'];

/**
 * The columns each aggregation's reads use (metering/sql.ts valueExpr, cumulative.ts, the gauge
 * reads in usage.ts), besides `events`, which every read filters on. With most (customer, hour)s
 * holding a handful of events, a recompute writes nearly a row per event, and each aggregate
 * costs a state per row: a meter computes only its own columns and stores the others as
 * constants (a meter's aggregation never changes).
 */
const READS: Record<Aggregation, readonly RollupColumn[]> = {
  count: [],
  sum: ['sum_value'],
  max: ['max_value'],
  min: ['min_value'],
  latest: ['latest_value', 'latest_key'],
  unique_count: ['uniq_values'],
  weighted_sum: ['latest_value', 'latest_key', 'gauge_first', 'gauge_integral'],
};

/** Each column's aggregate over first-copy events (`latest` is the packed key, unpacked into latest_key). */
const AGGREGATE: Record<RollupColumn, string> = {
  sum_value: 'sum(ifNull(num, toDecimal128(0, 6))) AS sum_value',
  max_value: 'max(num) AS max_value',
  min_value: 'min(num) AS min_value',
  latest_value: 'argMax(num, key) AS latest_value',
  latest_key: 'maxIf(key, isNotNull(num)) AS latest',
  uniq_values: "arraySort(groupUniqArrayIf(u, u != '')) AS uniq_values",
  gauge_first: 'minIf(ts, isNotNull(num)) AS gauge_first',
  gauge_integral: 'sumIf(num * (next_ms - ts_ms), isNotNull(num)) AS gauge_integral',
};

/** What a column holds when its meter does not read it (also an emptied row's values). */
const CONSTANT: Record<RollupColumn, string> = {
  sum_value: 'toDecimal128(0, 6)',
  max_value: 'CAST(NULL AS Nullable(Decimal(38, 6)))',
  min_value: 'CAST(NULL AS Nullable(Decimal(38, 6)))',
  latest_value: 'CAST(NULL AS Nullable(Decimal(38, 6)))',
  latest_key: EPOCH_KEY,
  uniq_values: 'CAST([] AS Array(String))',
  gauge_first: "toDateTime64(0, 3, 'UTC')",
  gauge_integral: 'toDecimal128(0, 6)',
};

/** Whether the rollup has rows matching `where` written before this recompute's version. */
async function hasOlderRows(ch: ClickHouseStore, where: string, params: Record<string, unknown>): Promise<boolean> {
  const rs = await ch.client.query({
    query: `SELECT count() AS n FROM (SELECT 1 FROM ${ch.table('usage_hourly_v1')} WHERE ${where} AND version < {version:UInt64} LIMIT 1)`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ n: string | number }>())[0]?.n?.toString() !== '0';
}

/**
 * The latest-value key (timestamp, acceptance time, content hash) packed into one UInt256 that
 * orders exactly as the tuple does: the two instants as Int64 milli/microseconds shifted to be
 * positive, above the hash. argMax and max over a number keep a fixed-size state per group,
 * where a tuple key keeps a generic value (several times slower with a row per group).
 */
const SHIFT = '4611686018427387904'; // 2^62
const LOW64 = "toUInt256('18446744073709551615')";
const PACKED_KEY = `bitOr(bitOr(bitShiftLeft(toUInt256(toUnixTimestamp64Milli(timestamp) + ${SHIFT}), 128),
          bitShiftLeft(toUInt256(toUnixTimestamp64Micro(ingested_at) + ${SHIFT}), 64)), toUInt256(copy_hash))`;

/** The key tuple back from a packed key; 0 (no numbered event) gives the epoch key, as max over no tuple did. */
function unpackKey(packed: string): string {
  return `if(${packed} = 0, ${EPOCH_KEY}, tuple(fromUnixTimestamp64Milli(toInt64(bitShiftRight(${packed}, 128)) - ${SHIFT}, 'UTC'),
          fromUnixTimestamp64Micro(toInt64(bitAnd(bitShiftRight(${packed}, 64), ${LOW64})) - ${SHIFT}, 'UTC'), toUInt64(bitAnd(${packed}, ${LOW64}))))`;
}
