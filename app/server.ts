import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { openStores } from '../core/stores.js';
import { migrateAll, migrationStatus } from '../core/migrate.js';
import { resolveAdminKey } from '../core/adminkey.js';
import { createRegistry } from '../core/metrics.js';
import { createApi } from './api.js';
import { createAggregator, startAggregatorLoop } from './aggregator-loop.js';
import type { Progress } from '../core/progress.js';
import { createRatingStack } from './rating-stack.js';
import { startRatingLoop } from './rating-loop.js';
import { createSync, dunningSweepOf, startSyncLoop } from './sync-loop.js';
import { createDispatcher, startDeliverLoop } from './deliver-loop.js';
import { createMailSender, startMailLoop } from './mail.js';
import { syncMetrics } from '../stripe/metrics.js';

export interface RunningServer {
  port: number;
  stop(): Promise<void>;
}

/** The address a process listens on, as a URL (an IPv6 literal in brackets). */
export function listenUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class PendingMigrationsError extends Error {
  constructor(pending: string[]) {
    super(`the stores are not migrated (pending: ${pending.join(', ')}); run \`tally migrate\` first`);
    this.name = 'PendingMigrationsError';
  }
}

/**
 * Opens the stores, applies (start) or checks (serve) the migrations, and serves HTTP.
 * `out` receives the human-readable start-up lines, including the admin key when it was
 * generated or read from the data dir.
 */
/** `migrate` (tally start) also runs the aggregator and rating loops in the same process. */
export async function runServer(config: Config, logger: Logger, opts: { migrate: boolean; out: (line: string) => void; progress?: Progress }): Promise<RunningServer> {
  const stores = await openStores(config);
  try {
    if (opts.migrate) {
      const applied = await migrateAll(stores);
      for (const [engine, names] of Object.entries(applied)) if (names.length > 0) logger.info({ engine, applied: names }, 'migrations applied');
    } else {
      const status = await migrationStatus(stores);
      const pending = [...status.postgres.pending.map((n) => `postgres ${n}`), ...status.clickhouse.pending.map((n) => `clickhouse ${n}`)];
      if (pending.length > 0) throw new PendingMigrationsError(pending);
    }
    const admin = resolveAdminKey(config);
    const registry = createRegistry();
    const rating = createRatingStack(config, stores, registry, undefined, logger.child({ component: 'rater' }));
    const sm = syncMetrics(registry);
    const api = createApi({ config, stores, logger, registry, adminKey: admin.key, rating, syncMetrics: sm });
    const port = await api.listen();
    const mail = opts.migrate ? createMailSender(config, stores, logger, registry) : undefined;
    const loops = opts.migrate
      ? [
          startAggregatorLoop(createAggregator(config, stores, logger, registry), config.aggregator.intervalMs, logger, opts.progress),
          startRatingLoop(rating, config.rater.intervalMs, logger.child({ component: 'rater' })),
          // Billing sync runs when there is a Stripe to sync to.
          ...(config.stripe.secretKey === undefined ? [] : [startSyncLoop(createSync(config, stores, logger, registry, sm), config.sync.intervalMs, logger, dunningSweepOf(config, stores, logger, registry))]),
          startDeliverLoop(createDispatcher(config, stores, logger, registry), config.webhooks.intervalMs, logger),
          // Email to customers runs when there is an SMTP server to send through.
          ...(mail === undefined ? [] : [startMailLoop(mail, config.mail.intervalMs, logger)]),
        ]
      : [];

    const ch = stores.clickhouse.kind === 'embedded' ? `embedded chDB in ${config.dataDir}/clickhouse` : 'server at CLICKHOUSE_URL';
    const pg = stores.postgres.kind === 'embedded' ? `embedded PGlite in ${config.dataDir}/postgres` : 'server at DATABASE_URL';
    opts.out(`tally: ClickHouse: ${ch}; Postgres: ${pg}`);
    if (admin.origin === 'generated' || admin.origin === 'data-dir') {
      opts.out(`tally: admin key (${admin.origin === 'generated' ? 'generated, ' : ''}kept in ${admin.file}): ${admin.key}`);
    } else if (admin.origin === 'none') {
      opts.out('tally: admin routes disabled: set TALLY_ADMIN_KEY to create tenants');
    }
    // Last, so that a supervisor (or a test) reading this line knows start-up is complete.
    opts.out(`tally: listening on ${listenUrl(config.host, port)}`);
    logger.info({ port, clickhouse: stores.clickhouse.kind, postgres: stores.postgres.kind }, 'listening');

    return {
      port,
      stop: async () => {
        await api.stop();
        for (const loop of loops) await loop.stop();
        await rating.pool.close();
        await stores.close();
      },
    };
  } catch (e) {
    await stores.close().catch(() => undefined);
    throw e;
  }
}
