import type { Logger } from '../core/log.js';
import { closeNow, type RatingStack } from '../rater/stack.js';
import { startLoop } from './loop.js';

/** `tally start`: incremental rating, then closing whatever has ended, every interval (and dropping the alert firings of long-ended periods). */
export function startRatingLoop(stack: RatingStack, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  return startLoop(
    'rater',
    async () => {
      const rated = await stack.rater.runOnce();
      const closed = await closeNow(stack, new Date());
      await stack.pruneAlerts(Date.now());
      if (rated.periods > 0 || closed.invoices > 0) logger.debug({ ...rated, ...closed }, 'rated and closed');
    },
    intervalMs,
    logger,
  );
}
