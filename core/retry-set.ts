import type { PostgresStore } from './postgres.js';

/**
 * Items a loop set aside, to be done again on its next runs: a (tenant, meter) the aggregator
 * could not recompute, a subscription the rater could not rate. The loops that keep a
 * watermark move it on past a set-aside item (so one bad item never holds the others back, nor
 * makes every later run redo everything since it failed); what the item still needs is kept
 * here as its own watermark — the instant from which it must be done again — until a run does
 * it. Kept in aggregator_state beside the loops' watermarks, one row per item (named
 * `retry`, loop, tenant, item, separated by newlines, which no id or meter key holds), so it
 * survives restarts and is shared by every worker.
 */
export interface RetryItem {
  tenantId: string;
  item: string;
  /** Redo from this instant (epoch ms); a second failure keeps the earlier one. */
  since: number;
}

/** The loops that keep a retry set. */
type RetryLoop = 'aggregator' | 'rater';

/** The aggregator_state row that keeps one set-aside item. */
export function retryItemName(loop: RetryLoop, tenantId: string, item: string): string {
  return `retry\n${loop}\n${tenantId}\n${item}`;
}

export class RetrySet {
  private readonly prefix: string;

  constructor(
    private readonly pg: PostgresStore,
    private readonly loop: RetryLoop,
  ) {
    this.prefix = `retry\n${loop}\n`;
  }

  async list(): Promise<RetryItem[]> {
    const { rows } = await this.pg.query<{ name: string; watermark: Date }>('SELECT name, watermark FROM aggregator_state WHERE starts_with(name, $1) ORDER BY name', [this.prefix]);
    return rows.map((r) => {
      const rest = r.name.slice(this.prefix.length);
      const cut = rest.indexOf('\n');
      return { tenantId: rest.slice(0, cut), item: rest.slice(cut + 1), since: r.watermark.getTime() };
    });
  }

  /** Keeps items to redo (the earliest instant wins when one is already kept). */
  async add(items: readonly RetryItem[]): Promise<void> {
    if (items.length === 0) return;
    // One row per item (the earliest instant): one statement cannot update a row twice.
    const earliest = new Map<string, number>();
    for (const i of items) earliest.set(this.name(i), Math.min(i.since, earliest.get(this.name(i)) ?? Infinity));
    await this.pg.query(
      `INSERT INTO aggregator_state (name, watermark) SELECT * FROM unnest($1::text[], $2::timestamptz[])
       ON CONFLICT (name) DO UPDATE SET watermark = LEAST(aggregator_state.watermark, EXCLUDED.watermark), updated_at = now()`,
      [[...earliest.keys()], [...earliest.values()].map((since) => new Date(since))],
    );
  }

  /**
   * Forgets items a run did, each only if it is still kept from the instant the run read: a
   * concurrent run that set it aside again meanwhile (from an earlier instant) keeps it.
   */
  async done(items: readonly RetryItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.pg.query(
      'DELETE FROM aggregator_state a USING unnest($1::text[], $2::timestamptz[]) AS d(name, since) WHERE a.name = d.name AND a.watermark >= d.since',
      [items.map((i) => this.name(i)), items.map((i) => new Date(i.since))],
    );
  }

  private name(i: { tenantId: string; item: string }): string {
    return retryItemName(this.loop, i.tenantId, i.item);
  }
}
