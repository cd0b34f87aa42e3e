import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { MemoryBound } from './config/kinds.js';

/**
 * ClickHouse behind one small interface. With a URL it is a server reached over HTTP; without,
 * chDB runs the same engine in-process under the data dir. Both are driven through
 * `@clickhouse/client`, so callers cannot tell which they have.
 *
 * Table names are always qualified with the database (`store.table('raw_events_v1')`): the
 * chDB connection ignores the client's `database` option, and qualified names also let tests
 * give every case its own database inside one process.
 */
export interface ClickHouseStore {
  readonly client: ClickHouseClient;
  readonly database: string;
  readonly kind: 'server' | 'embedded';
  /** The cluster its DDL runs on (CLICKHOUSE_CLUSTER), if any. */
  readonly cluster?: string | undefined;
  /** `` `db`.`name` `` for use in SQL text. */
  table(name: string): string;
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface ClickHouseOptions {
  url: string | undefined;
  database: string;
  /** Where chDB keeps its data when there is no URL. */
  dataDir: string;
  cluster?: string | undefined;
  /**
   * What the embedded engine may hold in all (a share of the memory the process may use, as
   * the engine reads it, cgroup limits included; it holds any bound to at most 90 % of that).
   * Its own default, 90 %, is meant for a server with the machine to itself; here Node and the
   * embedded Postgres share the process, and a statement the engine let grow to that would
   * have the kernel kill the whole process.
   */
  embeddedMaxMemory?: MemoryBound;
}

/** Decimals and 64-bit integers leave the engine as JSON strings, never as lossy numbers. */
export const EXACT_JSON_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_decimals: 1,
  output_format_json_quote_64bit_integers: 1,
};

export async function openClickHouse(opts: ClickHouseOptions): Promise<ClickHouseStore> {
  let client: ClickHouseClient;
  let kind: ClickHouseStore['kind'];
  let closeEngine = (): void => undefined;
  if (opts.url !== undefined) {
    client = createClient({
      url: opts.url,
      clickhouse_settings: EXACT_JSON_SETTINGS,
      request_timeout: 60_000,
      compression: { request: false, response: true },
      // Failures reach the caller as exceptions and are logged there, with context.
      log: { level: ClickHouseLogLevel.OFF },
    });
    kind = 'server';
  } else {
    const dir = path.join(opts.dataDir, 'clickhouse');
    mkdirSync(dir, { recursive: true });
    // Imported lazily: the native library is ~550 MB and server deployments never load it.
    const { createChdbConnection } = await import('chdb/connection');
    const { Session } = await import('chdb');
    // The engine is one per process, configured by the first session opened on it: this one,
    // held open as long as the store, carries the memory bound (the client's connection below
    // cannot pass engine arguments, and shares the engine this session started).
    const bound = opts.embeddedMaxMemory ?? { percent: 50 };
    // (A store opened while another is open in the process shares its engine and its bound.)
    const session = new Session(dir, { connectionArgs: [engineMemoryArg(bound)] });
    try {
      // chdb compiles against its own copy of @clickhouse/client-common; the runtime contract is
      // the same, only the nominal types differ.
      const connection = createChdbConnection({ path: dir }) as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'] & object;
      client = createClient({ connection, clickhouse_settings: EXACT_JSON_SETTINGS, log: { level: ClickHouseLogLevel.OFF } });
    } catch (e) {
      session.close();
      throw e;
    }
    closeEngine = () => session.close();
    kind = 'embedded';
  }
  const quotedDb = quoteIdent(opts.database);
  return {
    client,
    database: opts.database,
    kind,
    cluster: opts.cluster,
    table: (name) => `${quotedDb}.${quoteIdent(name)}`,
    ping: async (timeoutMs = 2_000) => {
      const result = await withTimeout(client.ping(), timeoutMs, 'ClickHouse ping');
      if (!result.success) throw result.error;
    },
    close: async () => {
      try {
        await client.close();
      } finally {
        closeEngine();
      }
    },
  };
}

/** The embedded engine's command-line argument for a memory bound. */
export function engineMemoryArg(bound: MemoryBound): string {
  return 'percent' in bound ? `--max_server_memory_usage_to_ram_ratio=${bound.percent / 100}` : `--max_server_memory_usage=${bound.bytes}`;
}

/**
 * What the engine's queries, inserts and merges hold now (as it tracks it), and the most it
 * lets them hold in all (a server's own setting, or the embedded engine's bound above;
 * undefined when it reports none). Byte counts, exact below 2^53.
 */
export async function engineMemory(ch: ClickHouseStore): Promise<{ usedBytes: number; limitBytes: number | undefined }> {
  const rs = await ch.client.query({
    query: `SELECT (SELECT value FROM system.metrics WHERE metric = 'MemoryTracking') AS used,
                   (SELECT value FROM system.server_settings WHERE name = 'max_server_memory_usage') AS limit`,
    format: 'JSONEachRow',
  });
  const row = (await rs.json<{ used: string | number; limit: string | number | null }>())[0];
  const limit = Number(row?.limit ?? 0);
  return { usedBytes: Number(row?.used ?? 0), limitBytes: Number.isSafeInteger(limit) && limit > 0 ? limit : undefined };
}

export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a safe identifier: ${name}`);
  return `\`${name}\``;
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
