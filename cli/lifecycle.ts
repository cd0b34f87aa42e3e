import { logsWritten, type Logger } from '../core/log.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Ends the process by `signal`'s default action, as if nothing had listened for it: a
 * supervisor or shell sees it killed by that signal (exit status 128 + n). Unlike
 * process.exit, this skips the embedded engines' exit-time teardown, which can crash while
 * their threads are still running.
 */
export function dieBySignal(signal: NodeJS.Signals): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

/**
 * A stop signal while no long-running command listens for it (a one-shot run such as
 * `tally close`, `sync --once` or `migrate`): says so in the log, then ends the process by the
 * signal. What the run did so far is kept; every one-shot is idempotent, so running it again
 * goes on from there. A long-running command's own listener (`listenForStop`) takes the signal
 * instead while it exists.
 */
export function interruptOneShot(logger: Logger, command: string): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    sayThenDie(logger, signal, { signal, command }, 'interrupted: the run ends here; what it wrote so far is kept');
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
}

/**
 * Logs a warning, then ends the process by `signal` once the line is written (a second at
 * most): a process ended by a signal writes nothing more.
 */
function sayThenDie(logger: Logger, signal: NodeJS.Signals, fields: Record<string, unknown>, message: string): void {
  logger.warn(fields, message);
  void logsWritten(logger).then(() => dieBySignal(signal));
}

/** SIGTERM and SIGINT, listened for from the moment this is made. */
export interface StopSignal {
  /** The first signal received. */
  readonly received: Promise<NodeJS.Signals>;
  /** What a further signal does (by default: end the process by it at once, `dieBySignal`). */
  onAgain(handler: (signal: NodeJS.Signals) => void): void;
  /** Stops listening (a command that failed to start). */
  cancel(): void;
}

/**
 * Starts listening for SIGTERM and SIGINT. Made before a command announces that it is ready:
 * until a listener exists the signals keep their default action, so a supervisor (or a test)
 * that stops the process right after reading the announcement would otherwise end it on the
 * spot, without its graceful stop. A signal that arrives while the command is still starting
 * is kept, and the graceful stop runs once it has started. The listeners stay until the process
 * ends, so there is no moment without one.
 */
export function listenForStop(): StopSignal {
  let first: NodeJS.Signals | undefined;
  let resolve!: (s: NodeJS.Signals) => void;
  let again: (s: NodeJS.Signals) => void = dieBySignal;
  const received = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const onSignal = (s: NodeJS.Signals) => {
    if (first !== undefined) return again(s);
    first = s;
    resolve(s);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return {
    received,
    onAgain: (handler) => (again = handler),
    cancel: () => {
      for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
    },
  };
}

/**
 * Keeps a long-running command alive until SIGTERM or SIGINT, then runs its graceful stop.
 * A second signal while stopping ends the process by it at once. `signal` is made before the
 * command announced that it is ready (see `listenForStop`).
 */
export async function runUntilSignal(logger: Logger, stop: () => Promise<void>, signal: StopSignal): Promise<number> {
  signal.onAgain((s) => sayThenDie(logger, s, { signal: s }, 'second signal: exiting now'));
  const received = await signal.received;
  logger.info({ signal: received }, 'shutting down: no new requests, finishing in-flight work');
  try {
    await stop();
    logger.info('stopped cleanly');
    return 0;
  } catch (e) {
    logger.error({ err: e }, 'error while stopping');
    return 1;
  }
}
