import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';

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
}

/** Decimals and 64-bit integers leave the engine as JSON strings, never as lossy numbers. */
export const EXACT_JSON_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_decimals: 1,
  output_format_json_quote_64bit_integers: 1,
};

export async function openClickHouse(opts: ClickHouseOptions): Promise<ClickHouseStore> {
  let client: ClickHouseClient;
  let kind: ClickHouseStore['kind'];
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
    // chdb compiles against its own copy of @clickhouse/client-common; the runtime contract is
    // the same, only the nominal types differ.
    const connection = createChdbConnection({ path: dir }) as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'] & object;
    client = createClient({ connection, clickhouse_settings: EXACT_JSON_SETTINGS, log: { level: ClickHouseLogLevel.OFF } });
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
    close: () => client.close(),
  };
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
