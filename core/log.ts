import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/**
 * Structured JSON logs on stdout. Request bodies and keys are never logged.
 *
 * Each line is written before the call returns. Pino's default stdout stream writes on a
 * libuv thread, and its `flush(cb)` calls back at once without waiting for that write, so a
 * process ended by a signal (`tally close` stopped by its cron job's SIGTERM) or by a crash
 * right after logging could lose its last lines, the ones that say why. Tally logs events, not
 * requests (a few lines a minute when all is well), so writing them in line costs nothing
 * measurable.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, name = 'tally'): Logger {
  return pino(
    {
      name,
      level: config.logLevel,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['api_key', 'adminKey', 'authorization', '*.api_key', '*.authorization'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}
