import os from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { packageRoot } from '../core/paths.js';
import type { ChargeCard, Rated } from './core.js';
import type { RateResult, RateTask } from './worker.js';

export class RatingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RatingError';
  }
}

export interface RatingPool {
  /** Rates each quantity against the card on a worker thread. */
  rate(card: ChargeCard, quantities: string[]): Promise<Rated[]>;
  close(): Promise<void>;
}

/**
 * Worker threads for rating. The worker is the built JavaScript (dist/rater/worker.js), which
 * `npm run build` (and so `npm test` and `npm start`) produces.
 */
export function createRatingPool(opts: { threads?: number } = {}): RatingPool {
  const pool = new Piscina<RateTask, RateResult>({
    filename: path.join(packageRoot(), 'dist', 'rater', 'worker.js'),
    maxThreads: opts.threads ?? Math.max(1, os.availableParallelism() - 1),
  });
  return {
    rate: async (card, quantities) => {
      const result = await pool.run({ card, quantities });
      if (!result.ok) throw new RatingError(result.code, result.message);
      return result.rated;
    },
    close: () => pool.close(),
  };
}
