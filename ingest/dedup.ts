/**
 * The (tenant, event id) pairs this node accepted recently, to answer resends with
 * `duplicates` instead of writing them again. A pair is pending while its batch commits: a
 * resend arriving then waits for the outcome, so it is never reported as a duplicate of a copy
 * that was not committed. Bounded: the oldest pairs are forgotten first.
 *
 * This is the part of dedup that ingest can see. Copies it cannot see (after a restart, on
 * another node, or older than the cache) are written, and the first accepted copy wins where
 * usage is computed (see the raw events' ingested_at).
 */
export class RecentIds {
  private readonly entries = new Map<string, true | Promise<boolean>>();

  constructor(private readonly capacity: number) {}

  static key(tenantId: string, id: string): string {
    return `${tenantId}\n${id}`;
  }

  /** `true` if committed, a promise of the outcome if pending, undefined if unknown. */
  get(key: string): true | Promise<boolean> | undefined {
    return this.entries.get(key);
  }

  /** Marks keys pending on `committed`; once it settles they are remembered (true) or forgotten (false). */
  track(keys: readonly string[], committed: Promise<boolean>): void {
    if (this.capacity === 0) return;
    for (const k of keys) this.entries.set(k, committed);
    void committed.then((ok) => {
      for (const k of keys) {
        if (this.entries.get(k) !== committed) continue;
        if (ok) this.entries.set(k, true);
        else this.entries.delete(k);
      }
      this.evict();
    });
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    if (this.entries.size <= this.capacity) return;
    let excess = this.entries.size - this.capacity;
    for (const [k, v] of this.entries) {
      if (excess === 0) break;
      if (v !== true) continue; // never forget a pending pair
      this.entries.delete(k);
      excess--;
    }
  }
}
