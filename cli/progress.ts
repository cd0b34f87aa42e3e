import cliProgress from 'cli-progress';
import type { Logger } from '../core/log.js';
import type { Progress } from '../core/progress.js';

/**
 * Progress of long work: a bar on a terminal, log lines (every 10 %) otherwise, so that
 * neither a person at a terminal nor a log collector is left guessing.
 */
export function progressReporter(logger: Logger, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    return {
      start(total, label) {
        bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total}, eta {eta}s`, stream }, cliProgress.Presets.shades_classic);
        bar.start(total, 0);
      },
      tick: (n) => bar?.increment(n),
      stop: () => bar?.stop(),
    };
  }
  let total = 0;
  let done = 0;
  let label = '';
  let nextReport = 0;
  return {
    start(t, l) {
      total = t;
      done = 0;
      label = l;
      nextReport = 0;
      logger.info({ total }, `${label}: starting`);
    },
    tick(n) {
      done += n;
      if (total > 0 && done / total >= nextReport) {
        logger.info({ done, total }, `${label}: ${Math.floor((100 * done) / total)}%`);
        nextReport = Math.floor((10 * done) / total + 1) / 10;
      }
    },
    stop() {
      logger.info({ done, total }, `${label}: done`);
    },
  };
}
