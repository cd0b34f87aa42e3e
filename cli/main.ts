import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_DOC, ConfigError, loadConfig, type Config, type Env } from '../core/config.js';
import { createLogger, logsWritten, type Logger } from '../core/log.js';
import { DataDirLockedError } from '../core/datadir.js';
import { MigrationError, migrateAll, migrationStatus } from '../core/migrate.js';
import { createRegistry } from '../core/metrics.js';
import { createAggregator, startAggregatorLoop } from '../app/aggregator-loop.js';
import { startWorker } from '../app/worker.js';
import { aggregatorLagGauge } from '../metering/aggregator-state.js';
import { sweepDunning } from '../stripe/dunning.js';
import { createSync, dunningSweepOf, startSyncLoop, StripeNotConfiguredError } from '../app/sync-loop.js';
import { createDispatcher, startDeliverLoop } from '../app/deliver-loop.js';
import { createMailSender, startMailLoop } from '../app/mail.js';
import { progressReporter } from './progress.js';
import { openStores, type Stores } from '../core/stores.js';
import { parseTimestamp } from '../core/time.js';
import { closeNow, createRatingStack } from '../app/rating-stack.js';
import { startRatingLoop } from '../app/rating-loop.js';
import { runDemo } from './demo.js';
import { packageRoot } from '../core/paths.js';
import { EXIT } from './exit.js';
import { interruptOneShot, listenForStop, runUntilSignal } from './lifecycle.js';
import { PendingMigrationsError, listenUrl, runServer } from '../app/server.js';

interface Command {
  summary: string;
  usage: string;
  details: string;
  /** Flags of this command (parseArgs options). */
  options?: Record<string, { type: 'boolean' | 'string' }>;
  run(ctx: { config: Config; logger: Logger; out: (line: string) => void; flags: Record<string, string | boolean | undefined> }): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'everything in one process: migrations, the HTTP server, the aggregator, rating and close',
    usage: 'tally start',
    details:
      'Applies pending migrations, then serves ingest, the management API, /metrics, /healthz and /readyz,\n' +
      'and runs the aggregator loop (TALLY_AGGREGATOR_INTERVAL_MS), the rating loop, which rates new usage\n' +
      'and closes ended periods into invoices (TALLY_RATER_INTERVAL_MS), outbound webhook delivery, billing\n' +
      'sync when STRIPE_SECRET_KEY is set, and email to customers when TALLY_SMTP_URL is set.\n' +
      'With no CLICKHOUSE_URL / DATABASE_URL it runs both stores in-process under TALLY_DATA_DIR.\n' +
      'Stops gracefully on SIGTERM or Ctrl-C: no new requests, in-flight ones finish, stores close.',
    run: ({ config, logger, out }) => serve(config, logger, out, true),
  },
  serve: {
    summary: 'the HTTP server only (stores must already be migrated)',
    usage: 'tally serve',
    details:
      'Serves the HTTP API. It checks that every migration is applied and exits with code 1 if not,\n' +
      'so run `tally migrate` once per deployment before starting serve nodes.',
    run: ({ config, logger, out }) => serve(config, logger, out, false),
  },
  aggregate: {
    summary: 'roll raw events up into hourly usage, in a loop (or once)',
    usage: 'tally aggregate [--once]',
    details:
      'Recomputes every hour that received events since the last run, and backfills meters defined after\n' +
      'their events (with a progress bar on a terminal). Several can run at once: a lease lets one work at a\n' +
      'time. Killing it at any point is safe; the next run redoes the same hours with the same result.\n' +
      'The loop serves /healthz, /readyz and /metrics on HOST:PORT.\n' +
      '  --once  one run, then exit (for cron jobs and backfills)',
    options: { once: { type: 'boolean' } },
    run: async ({ config, logger, flags, out }) =>
      withMigratedStores(config, async (stores) => {
        const registry = createRegistry();
        const aggregator = createAggregator(config, stores, logger, registry);
        const progress = progressReporter(logger, process.stderr);
        if (flags.once === true) {
          const r = await aggregator.runOnce(progress);
          if (!r.ran) {
            // Another aggregator, or one that died within its lease (TALLY_AGGREGATOR_LEASE_SECONDS): later.
            process.stderr.write('tally aggregate: another aggregator holds the lease; nothing done\n');
            return EXIT.LOCKED;
          }
          process.stderr.write(`tally aggregate: ${r.hoursRecomputed} hours recomputed, ${r.metersBackfilled} meters backfilled, watermark ${r.watermark.toISOString()}\n`);
          return EXIT.OK;
        }
        aggregatorLagGauge(registry, stores.postgres);
        return await untilStopped(logger, () => startWorker(config, stores, logger, registry, () => startAggregatorLoop(aggregator, config.aggregator.intervalMs, logger, progress)), (worker) => out(`tally: aggregator running; ${probes(config, worker.port)}`));
      }),
  },
  rate: {
    summary: 'rate hourly usage into rated usage (incremental, re-rate a range, or a loop that also closes)',
    usage: 'tally rate [--from ISO --to ISO | --loop]',
    details:
      'Without a range: rates again every billing period whose hourly usage changed since the last run\n' +
      '(late events included), and every period of a subscription changed since then.\n' +
      'With --from and --to: rates every period overlapping [from, to) and writes its hours in the range.\n' +
      'With --loop: rates new usage (firing usage alerts), then closes ended periods into invoices, every\n' +
      'TALLY_RATER_INTERVAL_MS, as `tally start` does; serves /healthz, /readyz and /metrics on HOST:PORT.\n' +
      'Rating is idempotent: running it twice, or after a crash, writes the same rows.\n' +
      '  --from ISO  start of the range (RFC 3339, e.g. 2026-10-01T00:00:00Z)\n' +
      '  --to ISO    end of the range (exclusive)\n' +
      '  --loop      run until stopped',
    options: { from: { type: 'string' }, to: { type: 'string' }, loop: { type: 'boolean' } },
    run: async ({ config, logger, flags, out }) => {
      const range = rangeFlags(flags);
      if (range !== undefined && flags.loop === true) throw new UsageError('--loop rates new usage as it comes; it takes no range');
      return withMigratedStores(config, async (stores) => {
        const registry = createRegistry();
        const stack = createRatingStack(config, stores, registry, undefined, logger.child({ component: 'rater' }));
        try {
          if (flags.loop === true) {
            return await untilStopped(logger, () => startWorker(config, stores, logger, registry, () => startRatingLoop(stack, config.rater.intervalMs, logger.child({ component: 'rater' }))), (worker) => out(`tally: rating and close running; ${probes(config, worker.port)}`));
          }
          const progress = progressReporter(logger, process.stderr);
          const r = range === undefined ? await stack.rater.runOnce(progress) : await stack.rater.rateRange(range.from, range.to, progress);
          process.stderr.write(`tally rate: ${r.periods} periods rated, ${r.ratings} hourly ratings${r.setAside > 0 ? `, ${r.setAside} subscriptions set aside (see the log)` : ''}\n`);
          return r.setAside > 0 ? EXIT.ITEMS_FAILED : EXIT.OK;
        } finally {
          await stack.pool.close();
        }
      });
    },
  },
  close: {
    summary: 'close every billing period that ended (plus grace) into an invoice',
    usage: 'tally close [--as-of ISO]',
    details:
      'Closes every subscription period that ended, plus TALLY_CLOSE_GRACE_SECONDS for late events, at or\n' +
      'before --as-of (default: now) and that the aggregator has caught up with: a final rating, then the\n' +
      'invoice (base fee, prorations, usage, minimums, adjustments for late usage of earlier periods) in\n' +
      'Postgres. Closing twice changes nothing.\n' +
      '  --as-of ISO  the instant to close as of (RFC 3339)',
    options: { 'as-of': { type: 'string' } },
    run: async ({ config, logger, flags }) => {
      const asOf = flags['as-of'] === undefined ? new Date() : instantFlag('as-of', flags['as-of']);
      return withMigratedStores(config, async (stores) => {
        const stack = createRatingStack(config, stores, createRegistry(), undefined, logger.child({ component: 'close' }));
        try {
          const r = await closeNow(stack, asOf, progressReporter(logger, process.stderr));
          const aside = (r.setAside ?? 0) > 0 ? `, ${r.setAside} subscriptions set aside (see the log)` : '';
          process.stderr.write(`tally close: ${r.invoices} invoices, ${r.adjustments} adjustment lines${r.waiting > 0 ? `, ${r.waiting} ended periods waiting for the aggregator` : ''}${aside}\n`);
          return (r.setAside ?? 0) > 0 ? EXIT.ITEMS_FAILED : EXIT.OK;
        } finally {
          await stack.pool.close();
        }
      });
    },
  },
  sync: {
    summary: 'push closed invoices to Stripe through the outbox, in a loop (or once)',
    usage: 'tally sync [--once]',
    details:
      'Works through the Stripe outbox: for each closed invoice, the Stripe customer, a draft invoice, its items\n' +
      'and finalization (Stripe then collects: charges the card, or emails a send_invoice invoice), every write\n' +
      'with an idempotency key built from Tally ids. Retries 429, 5xx, timeouts and dropped connections with\n' +
      'backoff and jitter, within TALLY_STRIPE_WRITES_PER_SECOND. Several can run at once\n' +
      '(rows are claimed with FOR UPDATE SKIP LOCKED); killing one at any point is safe. Needs STRIPE_SECRET_KEY\n' +
      '(STRIPE_API_BASE points it at a Stripe-compatible server). After each run, the dunning sweep moves unpaid\n' +
      'subscriptions through TALLY_DUNNING_GRACE_DAYS, _SUSPEND_DAYS and _CANCEL_DAYS. The loop serves /healthz,\n' +
      '/readyz and /metrics.\n' +
      '  --once  work through every due row and sweep once, then exit',
    options: { once: { type: 'boolean' } },
    run: async ({ config, logger, flags, out }) =>
      withMigratedStores(config, async (stores) => {
        const registry = createRegistry();
        const sync = createSync(config, stores, logger, registry);
        if (flags.once === true) {
          const r = await sync.runOnce();
          const d = await sweepDunning(dunningSweepOf(config, stores, logger, registry), new Date());
          const stopped = r.unreachable === true ? ' (stopped early: Stripe could not be reached; the rest wait for the next run)' : '';
          process.stderr.write(`tally sync: ${r.done} synced, ${r.retried} to retry, ${r.failed} failed${stopped}; dunning: ${d.changed} of ${d.checked} unpaid subscriptions changed stage\n`);
          return itemsFailed(r.done, r.retried, r.failed);
        }
        return await untilStopped(logger, () => startWorker(config, stores, logger, registry, () => startSyncLoop(sync, config.sync.intervalMs, logger, dunningSweepOf(config, stores, logger, registry))), (worker) => out(`tally: billing sync running; ${probes(config, worker.port)}`));
      }),
  },
  deliver: {
    summary: 'deliver outbound webhooks to tenants\' endpoints (and email to customers), in a loop (or once)',
    usage: 'tally deliver [--once]',
    details:
      'Sends every due webhook delivery, signed (Tally-Signature), and retries failures with backoff for over a\n' +
      'day (10 s, 1 min, 5 min, 30 min, 1 h, 2 h, 4 h, 8 h, 10 h), logging each attempt. Several can run at once\n' +
      '(deliveries are claimed with FOR UPDATE SKIP LOCKED under TALLY_WEBHOOK_LEASE_SECONDS). `tally start` runs it\n' +
      'too. With TALLY_SMTP_URL set it also sends the customer email outbox through that SMTP server (invoices,\n' +
      'credit notes, failed payments, overdue reminders), retried on the same schedule. The loop serves /healthz,\n' +
      '/readyz and /metrics.\n' +
      '  --once  send every delivery and email due now, then exit',
    options: { once: { type: 'boolean' } },
    run: async ({ config, logger, flags, out }) =>
      withMigratedStores(config, async (stores) => {
        const registry = createRegistry();
        const dispatcher = createDispatcher(config, stores, logger, registry);
        const mail = createMailSender(config, stores, logger, registry);
        if (flags.once === true) {
          const r = await dispatcher.runOnce();
          process.stderr.write(`tally deliver: ${r.delivered} delivered, ${r.retried} to retry, ${r.failed} failed\n`);
          let code: number = itemsFailed(r.delivered, r.retried, r.failed);
          if (mail !== undefined) {
            const m = await mail.runOnce();
            mail.close();
            process.stderr.write(`tally deliver: email: ${m.sent} sent, ${m.retried} to retry, ${m.failed} failed, ${m.canceled} canceled; ${m.overdue} overdue reminders enqueued\n`);
            code = Math.max(code, itemsFailed(m.sent, m.retried, m.failed));
          }
          return code;
        }
        return await untilStopped(logger, () => startWorker(config, stores, logger, registry, () => {
          const loops = [startDeliverLoop(dispatcher, config.webhooks.intervalMs, logger), ...(mail === undefined ? [] : [startMailLoop(mail, config.mail.intervalMs, logger)])];
          return { stop: async () => void (await Promise.all(loops.map((l) => l.stop()))) };
        }), (worker) => out(`tally: webhook delivery running; ${probes(config, worker.port)}`));
      }),
  },
  demo: {
    summary: 'sample meters, plans, customers and a month of usage through the whole pipeline, then the invoices',
    usage: 'tally demo [--customers N] [--seed N]',
    details:
      'Creates a demo tenant with three meters and the Free, Starter, Professional and Enterprise plans, a few\n' +
      'hundred customers subscribed since 33 days ago and a month of synthetic usage, sent through the HTTP API;\n' +
      'then aggregates, rates and closes the month that ended (with progress bars on a terminal), checks that every\n' +
      'invoice bills exactly the rated usage, and prints the invoices. Runs on the embedded stores by default;\n' +
      'each run adds a new tenant. The same seed makes the same customers and usage.\n' +
      '  --customers N  how many customers (default 240, at most 5000)\n' +
      '  --seed N       the seed of the synthetic data (default 42)',
    options: { customers: { type: 'string' }, seed: { type: 'string' } },
    run: async ({ config, logger, flags, out }) => {
      const int = (name: string, value: string | boolean | undefined, dflt: number, max: number) => {
        if (value === undefined) return dflt;
        const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : NaN;
        if (!(n >= 1 && n <= max)) throw new UsageError(`--${name} must be a whole number from 1 to ${max}`);
        return n;
      };
      return runDemo(config, logger, out, { customers: int('customers', flags.customers, 240, 5000), seed: int('seed', flags.seed, 42, 2 ** 31 - 1) });
    },
  },
  migrate: {
    summary: 'apply ClickHouse and Postgres migrations (idempotent)',
    usage: 'tally migrate',
    details: 'Applies every pending numbered migration to both stores. Running it again changes nothing.',
    run: async ({ config, out }) => {
      const stores = await openStores(config);
      try {
        const applied = await migrateAll(stores);
        for (const [engine, names] of Object.entries(applied)) {
          out(names.length === 0 ? `${engine}: up to date` : `${engine}: applied ${names.join(', ')}`);
        }
        return EXIT.OK;
      } finally {
        await stores.close();
      }
    },
  },
};

export class UsageError extends Error {}

function instantFlag(name: string, value: string | boolean | undefined): Date {
  const ms = typeof value === 'string' ? parseTimestamp(value) : undefined;
  if (ms === undefined) throw new UsageError(`--${name} must be an RFC 3339 timestamp with a time zone, e.g. 2026-10-01T00:00:00Z`);
  return new Date(ms);
}

function rangeFlags(flags: Record<string, string | boolean | undefined>): { from: Date; to: Date } | undefined {
  if (flags.from === undefined && flags.to === undefined) return undefined;
  if (flags.from === undefined || flags.to === undefined) throw new UsageError('--from and --to go together');
  const from = instantFlag('from', flags.from);
  const to = instantFlag('to', flags.to);
  if (to.getTime() <= from.getTime()) throw new UsageError('--to must be after --from');
  return { from, to };
}

async function withMigratedStores(config: Config, fn: (stores: Stores) => Promise<number>): Promise<number> {
  const stores = await openStores(config);
  try {
    const status = await migrationStatus(stores);
    const pending = [...status.postgres.pending, ...status.clickhouse.pending];
    if (pending.length > 0) throw new PendingMigrationsError(pending);
    return await fn(stores);
  } finally {
    await stores.close();
  }
}

async function serve(config: Config, logger: Logger, out: (line: string) => void, migrate: boolean): Promise<number> {
  return untilStopped(logger, () => runServer(config, logger, { migrate, out, progress: progressReporter(logger, process.stderr) }));
}

/**
 * A long-running command: listens for the stop signals before it starts (see
 * `listenForStop`), starts it, announces it with `ready`, and runs it until a signal. If it
 * fails to start, the signals are no longer listened for.
 */
async function untilStopped<T extends { stop(): Promise<void> }>(logger: Logger, start: () => Promise<T>, ready: (running: T) => void = () => undefined): Promise<number> {
  const signal = listenForStop();
  let running: T;
  try {
    running = await start();
  } catch (e) {
    signal.cancel();
    throw e;
  }
  ready(running);
  return runUntilSignal(logger, () => running.stop(), signal);
}

/** The line a worker prints once it listens (tests and supervisors wait for it). */
function probes(config: Config, port: number): string {
  return `/healthz, /readyz and /metrics listening on ${listenUrl(config.host, port)}`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'Usage: tally <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     help for tally or a command',
    '  -v, --version  print the version',
    '',
    configHelp(),
    '',
    exitHelp(),
  ].join('\n');
}

function commandHelp(name: string, c: Command): string {
  return [`Usage: ${c.usage}`, '', `${name}: ${c.summary}`, '', c.details, '', configHelp(), '', exitHelp()].join('\n');
}

/** After a usage error: the usage line and where the whole help is, not the whole help (the error would scroll away above it). */
function seeHelp(name?: string, c?: Command): string {
  return name === undefined || c === undefined ? "Usage: tally <command> [options]; see 'tally --help'" : `Usage: ${c.usage}; see 'tally ${name} --help'`;
}

function configHelp(): string {
  const w = Math.max(...CONFIG_DOC.map((d) => d.variable.length));
  return ['Environment:', ...CONFIG_DOC.map((d) => `  ${d.variable.padEnd(w)}  ${d.meaning} (default: ${d.default})`)].join('\n');
}

function exitHelp(): string {
  return 'Exit codes: 0 ok, 1 failure, 2 bad command line, 3 a one-shot run left items it could not do, 75 held by another process (try later), 78 bad configuration';
}

/** Runs the CLI; resolves with the process exit code. */
export async function run(argv: readonly string[], env: Env, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const err = (line: string) => process.stderr.write(`${line}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        // Every command's flags; a flag of another command is refused below, naming the command.
        ...(Object.assign({}, ...Object.values(COMMANDS).map((c) => c.options ?? {})) as Record<string, { type: 'boolean' | 'string' }>),
      },
    });
  } catch (e) {
    err(`tally: ${(e as Error).message}\n${seeHelp()}`);
    return EXIT.USAGE;
  }
  const [name, ...rest] = parsed.positionals;
  if (parsed.values.version === true) {
    out(version());
    return EXIT.OK;
  }
  if (name === undefined) {
    (parsed.values.help === true ? out : err)(mainHelp());
    return parsed.values.help === true ? EXIT.OK : EXIT.USAGE;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    err(`tally: unknown command "${name}"\n${seeHelp()}`);
    return EXIT.USAGE;
  }
  if (parsed.values.help === true) {
    out(commandHelp(name, command));
    return EXIT.OK;
  }
  if (rest.length > 0) {
    err(`tally ${name}: unexpected argument "${rest[0]}"\n${seeHelp(name, command)}`);
    return EXIT.USAGE;
  }
  const flags: Record<string, string | boolean | undefined> = {};
  for (const [k, v] of Object.entries(parsed.values)) {
    if (k === 'help' || k === 'version') continue;
    if (command.options?.[k] === undefined) {
      err(`tally ${name}: unknown option --${k}\n${seeHelp(name, command)}`);
      return EXIT.USAGE;
    }
    flags[k] = v;
  }

  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`tally: ${e.message}`);
      return EXIT.CONFIG;
    }
    throw e;
  }
  const logger = createLogger(config);
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    void logsWritten(logger).then(() => process.exit(EXIT.FAILURE));
  });
  interruptOneShot(logger, name);
  try {
    return await command.run({ config, logger, out, flags });
  } catch (e) {
    if (e instanceof UsageError) {
      err(`tally ${name}: ${e.message}\n${seeHelp(name, command)}`);
      return EXIT.USAGE;
    }
    if (e instanceof DataDirLockedError) {
      err(`tally: ${e.message}`);
      return EXIT.LOCKED;
    }
    if (e instanceof MigrationError || e instanceof PendingMigrationsError || e instanceof StripeNotConfiguredError) {
      err(`tally: ${e.message}`);
      return EXIT.FAILURE;
    }
    logger.error({ err: e }, `${name} failed`);
    err(`tally ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.FAILURE;
  }
}

/**
 * A one-shot run's exit code from what it did: EXIT.ITEMS_FAILED when something failed for good,
 * or when nothing got through while some wait to be retried (an outage, not a blip).
 */
function itemsFailed(done: number, retried: number, failed: number): number {
  return failed > 0 || (done === 0 && retried > 0) ? EXIT.ITEMS_FAILED : EXIT.OK;
}
