import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** Structured JSON logs on stdout. Request bodies and keys are never logged. */
export function createLogger(config: Pick<Config, 'logLevel'>, name = 'tally'): Logger {
  return pino({
    name,
    level: config.logLevel,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['api_key', 'adminKey', 'authorization', '*.api_key', '*.authorization'], censor: '[redacted]' },
  });
}
