import type { Logger } from '../core/log.js';

/**
 * Keeps a long-running command alive until SIGTERM or SIGINT, then runs its graceful stop.
 * A second signal while stopping exits at once.
 */
export async function runUntilSignal(logger: Logger, stop: () => Promise<void>): Promise<number> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (s: NodeJS.Signals) => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      resolve(s);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  logger.info({ signal }, 'shutting down: no new requests, finishing in-flight work');
  const force = (s: NodeJS.Signals) => {
    logger.warn({ signal: s }, 'second signal: exiting now');
    process.exit(1);
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  try {
    await stop();
    logger.info('stopped cleanly');
    return 0;
  } catch (e) {
    logger.error({ err: e }, 'error while stopping');
    return 1;
  }
}
