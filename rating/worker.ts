import { compileCard, rateSeriesJoined } from './compiled.js';
import { rate, type ChargeCard, type Rated } from './core.js';

/**
 * The piscina worker: a thin shell around the pure core. Only plain data crosses the thread
 * boundary (decimal strings in, decimal strings out), and failures come back as
 * values with a code, because an Error arrives on the other side without its fields.
 */
export interface RateTask {
  kind?: 'rate' | undefined;
  card: ChargeCard;
  quantities: string[];
}

/** Hourly re-rating: many series of one card, each joined by ',' (compiled.ts rateSeriesJoined). */
export interface RateSeriesTask {
  kind: 'rateSeries';
  card: ChargeCard;
  joined: string[];
  counts: number[];
}

export type RaterTask = RateTask | RateSeriesTask;

type Failure = { ok: false; code: 'TALLY_ERR_RATING_FAILED'; message: string };
export type RateResult = { ok: true; rated: Rated[] } | Failure;
/** added[i]: series i's increments joined by ','. */
export type RateSeriesResult = { ok: true; added: string[]; total: string[] } | Failure;

export default function rateTask(task: RaterTask): RateResult | RateSeriesResult {
  try {
    if (task.kind === 'rateSeries') {
      // The card is compiled once for every series of the task.
      return { ok: true, ...rateSeriesJoined(compileCard(task.card), task.joined, task.counts) };
    }
    return { ok: true, rated: task.quantities.map((q) => rate(task.card, q)) };
  } catch (e) {
    return { ok: false, code: 'TALLY_ERR_RATING_FAILED', message: e instanceof Error ? e.message : String(e) };
  }
}
