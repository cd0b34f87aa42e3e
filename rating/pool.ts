import os from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { packageRoot } from '../core/paths.js';
import type { ChargeCard, Rated } from './core.js';
import type { RaterTask, RateResult, RateSeriesResult } from './worker.js';

export class RatingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RatingError';
  }
}

export interface RatedSeries {
  /** added[i][h]: what hour h adds to series i (6 decimals); each series' increments sum to its total. */
  added: string[][];
  /** total[i]: the amount of series i's last quantity (6 decimals, before any minimum). */
  total: string[];
}

export interface RatingPool {
  /** Rates each quantity against the card on a worker thread. */
  rate(card: ChargeCard, quantities: string[]): Promise<Rated[]>;
  /**
   * Hourly re-rating of one card (compiled.ts `rateSeries`): each series is one charge's
   * cumulative quantities for consecutive hours. Large calls are split across the threads.
   */
  rateSeries(card: ChargeCard, series: readonly (readonly string[])[]): Promise<RatedSeries>;
  /**
   * rateSeries on series already joined by ',' (joined[i] holds counts[i] quantities); each
   * series' increments come back joined by ',' too, as the rated rows are written.
   */
  rateJoined(card: ChargeCard, joined: readonly string[], counts: readonly number[]): Promise<{ added: string[]; total: string[] }>;
  close(): Promise<void>;
}

/** Quantities per rateSeries task: enough to make a task's overhead vanish, few enough to spread a call over the threads. */
const SERIES_TASK_QUANTITIES = 100_000;

/**
 * Worker threads for rating. The worker is the built JavaScript (dist/rating/worker.js, loaded
 * through worker-entry.cjs), which `npm run build` (and so `npm test` and `npm start`) produces.
 */
export function createRatingPool(opts: { threads?: number; workerFile?: string; onWorkerError?: (error: unknown) => void } = {}): RatingPool {
  const pool = new Piscina<RaterTask, RateResult | RateSeriesResult>({
    filename: opts.workerFile ?? path.join(packageRoot(), 'dist', 'rating', 'worker-entry.cjs'),
    maxThreads: opts.threads ?? Math.max(1, os.availableParallelism() - 1),
  });
  // A worker that dies (it cannot load, it runs out of memory) fails the tasks it held, and the
  // pool also emits 'error': with no listener that would end the whole process.
  pool.on('error', (error: unknown) => opts.onWorkerError?.(error));
  // The worker answers each kind of task with that kind's result.
  const rateOn = (task: RaterTask & { kind?: 'rate' }) => pool.run(task) as Promise<RateResult>;
  const rateSeriesOn = (task: RaterTask & { kind: 'rateSeries' }) => pool.run(task) as Promise<RateSeriesResult>;

  const rateJoined = async (card: ChargeCard, joined: readonly string[], counts: readonly number[]) => {
    if (joined.length !== counts.length) throw new Error(`${joined.length} series but ${counts.length} counts`);
    const chunks: { from: number; to: number }[] = [];
    for (let from = 0, quantities = 0, i = 0; i < joined.length; i++) {
      quantities += counts[i]!;
      if (quantities >= SERIES_TASK_QUANTITIES || i === joined.length - 1) {
        chunks.push({ from, to: i + 1 });
        from = i + 1;
        quantities = 0;
      }
    }
    const parts = await Promise.all(
      chunks.map(async ({ from, to }) => {
        // A series crosses as one string, not hundreds; the counts guard the framing against a
        // quantity that holds a ','.
        const result = await rateSeriesOn({ kind: 'rateSeries', card, joined: joined.slice(from, to), counts: counts.slice(from, to) });
        if (!result.ok) throw new RatingError(result.code, result.message);
        return result;
      }),
    );
    return parts.length === 1 ? { added: parts[0]!.added, total: parts[0]!.total } : { added: parts.flatMap((p) => p.added), total: parts.flatMap((p) => p.total) };
  };

  return {
    rate: async (card, quantities) => {
      const result = await rateOn({ card, quantities });
      if (!result.ok) throw new RatingError(result.code, result.message);
      return result.rated;
    },
    rateSeries: async (card, series) => {
      const { added, total } = await rateJoined(
        card,
        series.map((s) => s.join(',')),
        series.map((s) => s.length),
      );
      return { added: added.map((line) => (line === '' ? [] : line.split(','))), total };
    },
    rateJoined,
    close: () => pool.close(),
  };
}
