import type { Logger } from '../core/log.js';
import { closeNow, type RatingStack } from './rating-stack.js';
import { startLoop } from './loop.js';

/**
 * `tally start`: incremental rating, then closing whatever has ended, every interval (and
 * dropping the alert firings of long-ended periods). Each step runs whether or not the one
 * before it failed: a rating run that fails (a store down) must not keep periods from closing
 * once it is back, and neither holds the other's position.
 */
export function startRatingLoop(stack: RatingStack, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  return startLoop(
    'rater',
    async () => {
      const failures: unknown[] = [];
      const step = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
        try {
          return await work();
        } catch (e) {
          failures.push(e);
          return undefined;
        }
      };
      const rated = await step(() => stack.rater.runOnce());
      const closed = await step(() => closeNow(stack, new Date()));
      await step(() => stack.pruneAlerts(Date.now()));
      if ((rated?.periods ?? 0) > 0 || (closed?.invoices ?? 0) > 0) logger.debug({ ...rated, ...closed }, 'rated and closed');
      // The loop logs the first failure; the steps after it have run.
      if (failures.length > 0) throw failures[0];
    },
    intervalMs,
    logger,
  );
}
