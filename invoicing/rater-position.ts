import type { Queryable } from '../core/postgres.js';

/**
 * The incremental rater's position: the instant its last run started (epoch ms), kept in
 * aggregator_state beside the aggregator's watermark (row 'rater'). 0 before the first run.
 */
export async function readRaterPosition(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ watermark: Date }>("SELECT watermark FROM aggregator_state WHERE name = 'rater'");
  return rows[0]?.watermark.getTime() ?? 0;
}

export async function saveRaterPosition(q: Queryable, at: number): Promise<void> {
  await q.query("UPDATE aggregator_state SET watermark = $1, updated_at = now() WHERE name = 'rater'", [new Date(at)]);
}
