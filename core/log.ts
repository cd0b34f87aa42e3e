import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/**
 * Structured JSON logs on stdout. Request bodies and keys are never logged.
 *
 * Lines are written on a libuv thread, so a slow log reader never stalls the event loop (a
 * synchronous write to a full pipe would, for 100 ms a try). A process about to end at once
 * (by a signal, or a crash) waits for `logsWritten` first, or its last lines, the ones that say
 * why, may never be written.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, name = 'tally'): Logger {
  return pino({
    name,
    level: config.logLevel,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['api_key', 'adminKey', 'authorization', '*.api_key', '*.authorization'], censor: '[redacted]' },
  });
}

/** The part of pino's stdout stream (sonic-boom) this reads. */
interface LogStream {
  write(data: string): boolean;
  once(event: 'drain' | 'error', listener: () => void): unknown;
  off(event: 'drain' | 'error', listener: () => void): unknown;
}

/**
 * Resolves once every line logged so far is written, or after `timeoutMs`. pino's own
 * `flush(cb)` does not wait: on its default stream it calls back at once, before the write on
 * the libuv thread has happened. An empty write here starts (or joins) a write, and the stream
 * says `drain` when nothing is left to write.
 */
export function logsWritten(logger: Logger, timeoutMs = 1_000): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as LogStream | undefined;
  return new Promise<void>((resolve) => {
    if (stream === undefined || typeof stream.once !== 'function') {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      stream.off('drain', done);
      stream.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    stream.once('drain', done);
    stream.once('error', done);
    stream.write('');
  });
}
