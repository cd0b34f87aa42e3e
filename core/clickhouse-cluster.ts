import { quoteIdent } from './clickhouse.js';

/**
 * Tally's ClickHouse DDL for a cluster (CLICKHOUSE_CLUSTER), as a pure rewrite of the same
 * migrations a single server runs: every CREATE and ALTER runs `ON CLUSTER`, and every
 * MergeTree-family engine becomes its Replicated twin, keyed in Keeper by the `{shard}`,
 * `{database}`, `{table}` and `{replica}` macros each server defines (a Null table keeps no
 * data, so it stays as it is). Tally reads and writes the replicated tables on whichever replica
 * it reaches, so the supported layout is one shard with any number of replicas (every replica
 * holds all the data; see the README's "Running at scale"). A Distributed table over the raw
 * events, `raw_events_v1_all`, serves ad hoc reads across the cluster; `DROP`s run `ON CLUSTER`
 * too.
 */
const CREATE = /^(CREATE\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW|DATABASE)\s+IF\s+NOT\s+EXISTS\s+[^\s(]+)/i;
const ALTER = /^(ALTER\s+TABLE\s+[^\s(]+)/i;
const DROP = /^(DROP\s+(?:TABLE|VIEW)\s+IF\s+EXISTS\s+[^\s(;]+)/i;
const ENGINE = /ENGINE\s*=\s*(Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing)?MergeTree\b(\s*\(([^)]*)\))?/i;

export function forCluster(statement: string, cluster: string): string {
  const on = ` ON CLUSTER ${quoteIdent(cluster)}`;
  let s = statement;
  if (CREATE.test(s)) s = s.replace(CREATE, `$1${on}`);
  else if (ALTER.test(s)) s = s.replace(ALTER, `$1${on}`);
  else if (DROP.test(s)) s = s.replace(DROP, `$1${on}`);
  return s.replace(ENGINE, (_all, family: string | undefined, _parens: string | undefined, args: string | undefined) => {
    const rest = args === undefined || args.trim() === '' ? '' : `, ${args.trim()}`;
    return `ENGINE = Replicated${family ?? ''}MergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}'${rest})`;
  });
}

/** The Distributed table over the raw events, made (idempotently) after the migrations. */
export function distributedRawEvents(database: string, cluster: string): string {
  const db = quoteIdent(database);
  return `CREATE TABLE IF NOT EXISTS ${db}.\`raw_events_v1_all\` ON CLUSTER ${quoteIdent(cluster)} AS ${db}.\`raw_events_v1\`
    ENGINE = Distributed(${quoteIdent(cluster)}, ${db}, \`raw_events_v1\`, cityHash64(tenant_id))`;
}
