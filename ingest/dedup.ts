/**
 * The (tenant, event id) pairs this node accepted recently, to answer resends with
 * `duplicates` instead of writing them again. A pair is pending while its request's append is
 * being written: a resend arriving then waits for the outcome, so it is never reported as a
 * duplicate of a copy that was not written. Bounded: the oldest pairs are forgotten first.
 *
 * This is the part of dedup that ingest can see. Copies it cannot see (after a restart, on
 * another node, or older than the cache) are written, and the first accepted copy wins where
 * usage is computed (see the raw events' ingested_at).
 *
 * Every pair of one append shares one record of its outcome, so settling an append touches
 * no key.
 */
interface Outcome {
  /** undefined while pending. */
  committed: boolean | undefined;
  readonly promise: Promise<boolean>;
}

/**
 * One tenant's pairs in two generations: new pairs join `current`; once it holds half the
 * capacity it becomes `previous` and the old `previous` is forgotten whole. Forgetting pair by
 * pair from the front of one Map (its oldest) left a deleted slot per pair that every later
 * scan from the front stepped over until the Map was rebuilt, and at 100k events a second
 * that, with the lookups among those slots, was a fifth of an ingest node's time.
 */
interface Generations {
  current: Map<string, Outcome>;
  previous: Map<string, Outcome>;
}

export class RecentIds {
  /**
   * Per tenant, by event id. (A key made by concatenating tenant and id was a new string per
   * event, hashed anew at every lookup; an id string from the parser is hashed once.)
   */
  private readonly tenants = new Map<string, Generations>();
  private total = 0;
  private readonly generation: number;

  constructor(private readonly capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  /** `true` if committed, a promise of the outcome if pending, undefined if unknown. */
  get(tenantId: string, id: string): true | Promise<boolean> | undefined {
    const g = this.tenants.get(tenantId);
    if (g === undefined) return undefined;
    let map = g.current;
    let outcome = map.get(id);
    if (outcome === undefined) {
      map = g.previous;
      outcome = map.get(id);
      if (outcome === undefined) return undefined;
    }
    if (outcome.committed === true) return true;
    if (outcome.committed === undefined) return outcome.promise;
    // Its append failed: forgotten, so that a resend is written.
    map.delete(id);
    this.total--;
    return undefined;
  }

  /** Marks ids pending on `committed`; once it settles they count as accepted, or as unknown. */
  track(tenantId: string, ids: readonly string[], committed: Promise<boolean>): void {
    if (this.capacity === 0) return;
    const outcome: Outcome = { committed: undefined, promise: committed };
    void committed.then((ok) => (outcome.committed = ok));
    let g = this.tenants.get(tenantId);
    if (g === undefined) this.tenants.set(tenantId, (g = { current: new Map(), previous: new Map() }));
    const current = g.current;
    const before = current.size;
    for (const id of ids) current.set(id, outcome);
    this.total += current.size - before;
    if (current.size >= this.generation) this.age(g);
    this.evict();
  }

  get size(): number {
    return this.total;
  }

  /**
   * Forgets a tenant's previous generation, except pairs still pending (never forgotten: they
   * join the current one), and makes the current generation the previous one.
   */
  private age(g: Generations): void {
    let kept = 0;
    for (const [id, o] of g.previous) {
      if (o.committed === undefined && !g.current.has(id)) {
        g.current.set(id, o);
        kept++;
      }
    }
    this.total -= g.previous.size - kept;
    g.previous = g.current;
    g.current = new Map();
  }

  /**
   * While over capacity, ages the tenant holding the most pairs: a tenant sending a flood
   * forgets its own ids first. Stops when only pending pairs are left to forget.
   */
  private evict(): void {
    let stalled = 0;
    while (this.total > this.capacity) {
      let largest: [string, Generations] | undefined;
      let most = 0;
      for (const entry of this.tenants) {
        const n = entry[1].current.size + entry[1].previous.size;
        if (n > most) [largest, most] = [entry, n];
      }
      if (largest === undefined) return;
      const before = this.total;
      this.age(largest[1]);
      if (largest[1].current.size + largest[1].previous.size === 0) this.tenants.delete(largest[0]);
      // Two agings that forgot nothing: every pair left is pending.
      stalled = this.total === before ? stalled + 1 : 0;
      if (stalled >= 2) return;
    }
  }
}
