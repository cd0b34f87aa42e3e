import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_DOC, ConfigError, loadConfig, type Config, type Env } from '../core/config.js';
import { createLogger, type Logger } from '../core/log.js';
import { DataDirLockedError } from '../core/datadir.js';
import { MigrationError, migrateAll } from '../core/migrate.js';
import { openStores } from '../core/stores.js';
import { packageRoot } from '../core/paths.js';
import { EXIT } from './exit.js';
import { runUntilSignal } from './lifecycle.js';
import { PendingMigrationsError, runServer } from './server.js';

interface Command {
  summary: string;
  usage: string;
  details: string;
  run(ctx: { config: Config; logger: Logger; out: (line: string) => void }): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'everything in one process: migrations, then the HTTP server',
    usage: 'tally start',
    details:
      'Applies pending migrations, then serves ingest, the management API, /metrics, /healthz and /readyz.\n' +
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

async function serve(config: Config, logger: Logger, out: (line: string) => void, migrate: boolean): Promise<number> {
  const server = await runServer(config, logger, { migrate, out });
  return runUntilSignal(logger, () => server.stop());
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

function configHelp(): string {
  const w = Math.max(...CONFIG_DOC.map((d) => d.variable.length));
  return ['Environment:', ...CONFIG_DOC.map((d) => `  ${d.variable.padEnd(w)}  ${d.meaning} (default: ${d.default})`)].join('\n');
}

function exitHelp(): string {
  return 'Exit codes: 0 ok, 1 failure, 2 bad command line, 75 data dir in use, 78 bad configuration';
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
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (e) {
    err(`tally: ${(e as Error).message}\n\n${mainHelp()}`);
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
    err(`tally: unknown command "${name}"\n\n${mainHelp()}`);
    return EXIT.USAGE;
  }
  if (parsed.values.help === true) {
    out(commandHelp(name, command));
    return EXIT.OK;
  }
  if (rest.length > 0) {
    err(`tally ${name}: unexpected argument "${rest[0]}"\n\n${commandHelp(name, command)}`);
    return EXIT.USAGE;
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
    process.exit(EXIT.FAILURE);
  });
  try {
    return await command.run({ config, logger, out });
  } catch (e) {
    if (e instanceof DataDirLockedError) {
      err(`tally: ${e.message}`);
      return EXIT.LOCKED;
    }
    if (e instanceof MigrationError || e instanceof PendingMigrationsError) {
      err(`tally: ${e.message}`);
      return EXIT.FAILURE;
    }
    logger.error({ err: e }, `${name} failed`);
    err(`tally ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.FAILURE;
  }
}
