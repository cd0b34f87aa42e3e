import type { Config } from './config.js';
import { isEmbedded } from './config.js';
import { openClickHouse, type ClickHouseStore } from './clickhouse.js';
import { openPostgres, type PostgresStore } from './postgres.js';
import { lockDataDir, type DataDirLock } from './datadir.js';

export interface Stores {
  readonly clickhouse: ClickHouseStore;
  readonly postgres: PostgresStore;
  close(): Promise<void>;
}

/** Opens both stores as the config says, holding the data-dir lock while an embedded one is open. */
export async function openStores(config: Config): Promise<Stores> {
  const lock: DataDirLock | undefined = isEmbedded(config) ? lockDataDir(config.dataDir) : undefined;
  let clickhouse: ClickHouseStore | undefined;
  try {
    clickhouse = await openClickHouse({
      url: config.clickhouse.url,
      database: config.clickhouse.database,
      dataDir: config.dataDir,
      cluster: config.clickhouse.cluster,
      embeddedMaxMemory: config.clickhouse.embeddedMaxMemory,
    });
    const postgres = await openPostgres({
      url: config.postgres.url,
      poolSize: config.postgres.poolSize,
      dataDir: config.dataDir,
      embeddedSharedBuffers: config.postgres.embeddedSharedBuffers,
    });
    const ch = clickhouse;
    let closing: Promise<void> | undefined;
    return {
      clickhouse: ch,
      postgres,
      close: () =>
        (closing ??= (async () => {
          const results = await Promise.allSettled([ch.close(), postgres.close()]);
          lock?.release();
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) throw failed.reason;
        })()),
    };
  } catch (e) {
    await clickhouse?.close().catch(() => undefined);
    lock?.release();
    throw e;
  }
}
