import type { Logger } from '../core/log.js';

/** SIGTERM and SIGINT, listened for from the moment this is made. */
export interface StopSignal {
  /** The first signal received. */
  readonly received: Promise<NodeJS.Signals>;
  /** What a further signal does (by default: exit at once, with 1). */
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
  let again: (s: NodeJS.Signals) => void = () => process.exit(1);
  const received = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const onSignal = (s: NodeJS.Signals) => {
    if (first !== undefined) return again(s);
    first = s;
    resolve(s);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    received,
    onAgain: (handler) => (again = handler),
    cancel: () => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
    },
  };
}

/**
 * Keeps a long-running command alive until SIGTERM or SIGINT, then runs its graceful stop.
 * A second signal while stopping exits at once. `signal` is made before the command announced
 * that it is ready (see `listenForStop`).
 */
export async function runUntilSignal(logger: Logger, stop: () => Promise<void>, signal: StopSignal): Promise<number> {
  signal.onAgain((s) => {
    logger.warn({ signal: s }, 'second signal: exiting now');
    process.exit(1);
  });
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
