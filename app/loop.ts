import type { Logger } from '../core/log.js';

/**
 * Runs `work` every `intervalMs` (measured from the end of a run) until stopped. A failed run
 * is logged and retried at the next tick: every loop's work leaves its position unmoved when
 * it fails, so nothing is lost. `stop` waits for a run in progress to finish.
 */
export function startLoop(name: string, work: () => Promise<void>, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = work()
      .catch((e: unknown) => logger.error({ err: e }, `${name} run failed; retrying at the next interval`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  tick();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
