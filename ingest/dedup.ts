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

export class RecentIds {
  /**
   * Per tenant, by event id. (A key made by concatenating tenant and id was a new string per
   * event, hashed anew at every lookup; an id string from the parser is hashed once.)
   */
  private readonly tenants = new Map<string, Map<string, Outcome>>();
  private total = 0;

  constructor(private readonly capacity: number) {}

  /** `true` if committed, a promise of the outcome if pending, undefined if unknown. */
  get(tenantId: string, id: string): true | Promise<boolean> | undefined {
    const entries = this.tenants.get(tenantId);
    const outcome = entries?.get(id);
    if (outcome === undefined) return undefined;
    if (outcome.committed === true) return true;
    if (outcome.committed === undefined) return outcome.promise;
    // Its append failed: forgotten, so that a resend is written.
    entries!.delete(id);
    this.total--;
    return undefined;
  }

  /** Marks ids pending on `committed`; once it settles they count as accepted, or as unknown. */
  track(tenantId: string, ids: readonly string[], committed: Promise<boolean>): void {
    if (this.capacity === 0) return;
    const outcome: Outcome = { committed: undefined, promise: committed };
    void committed.then((ok) => (outcome.committed = ok));
    let entries = this.tenants.get(tenantId);
    if (entries === undefined) this.tenants.set(tenantId, (entries = new Map<string, Outcome>()));
    for (const id of ids) {
      const before = entries.size;
      entries.set(id, outcome);
      this.total += entries.size - before;
    }
    this.evict();
  }

  get size(): number {
    return this.total;
  }

  /**
   * Forgets the oldest pairs of the tenant holding the most until the cache is within its
   * capacity, never a pending one: a tenant sending a flood forgets its own ids first.
   */
  private evict(): void {
    while (this.total > this.capacity) {
      let largest: Map<string, Outcome> | undefined;
      for (const entries of this.tenants.values()) if (largest === undefined || entries.size > largest.size) largest = entries;
      if (largest === undefined) return;
      let excess = Math.min(this.total - this.capacity, largest.size);
      let forgot = 0;
      for (const [id, v] of largest) {
        if (excess === 0) break;
        if (v.committed === undefined) continue; // never forget a pending pair
        largest.delete(id);
        excess--;
        forgot++;
      }
      this.total -= forgot;
      if (forgot === 0) return; // only pending pairs left there: over capacity until they settle
    }
  }
}
