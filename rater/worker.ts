import { rate, type ChargeCard, type Rated } from './core.js';

/**
 * The piscina worker: a thin shell around the pure core. Only plain data crosses the thread
 * boundary (decimal strings in, decimal strings out), and failures come back as values with a
 * code, because an Error arrives on the other side without its fields.
 */
export interface RateTask {
  card: ChargeCard;
  quantities: string[];
}

export type RateResult = { ok: true; rated: Rated[] } | { ok: false; code: 'TALLY_ERR_RATING_FAILED'; message: string };

export default function rateTask(task: RateTask): RateResult {
  try {
    return { ok: true, rated: task.quantities.map((q) => rate(task.card, q)) };
  } catch (e) {
    return { ok: false, code: 'TALLY_ERR_RATING_FAILED', message: e instanceof Error ? e.message : String(e) };
  }
}
