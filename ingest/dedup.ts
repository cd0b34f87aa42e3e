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

/** A pair whose append failed: forgotten, so that a resend is written (its slot keeps the id). */
const FORGOTTEN: Outcome = { committed: false, promise: Promise.resolve(false) };

/**
 * Slots probed at most for one id. Bounds the work of a lookup whatever the ids (a tenant
 * sending ids made to share a fingerprint fills a run of slots): a table that cannot place an
 * id within it ages its tenant at once, so such a tenant only forgets its own ids sooner.
 */
const MAX_PROBES = 32;

/** A 32-bit fingerprint of an id, never 0 (which marks an empty slot). */
export type IdHash = (id: string) => number;

/** FNV-1a over the UTF-16 units, then MurmurHash3's finalizer (linear probing uses the low bits). */
export const fnv1a: IdHash = (id) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
};

/**
 * One generation of one tenant's ids: open addressing over the ids' fingerprints in a typed
 * array, with the ids and outcomes in plain arrays beside it. A lookup of an id not in the
 * table (most lookups: fresh events) reads the fingerprints alone and never hashes or
 * compares a string; a `Map` of strings did both, in two generations, and at 1,000 events
 * per request that was a quarter of an ingest node's main thread.
 */
class IdTable {
  private fingerprints: Int32Array;
  private ids: (string | undefined)[];
  private outcomes: (Outcome | undefined)[];
  /** Slots holding an id (forgotten ones included). */
  used = 0;
  /** Slots holding an id not forgotten. */
  live = 0;

  constructor(
    private readonly maxSlots: number,
    slots = 64,
  ) {
    slots = Math.min(slots, maxSlots);
    this.fingerprints = new Int32Array(slots);
    this.ids = new Array<string | undefined>(slots).fill(undefined);
    this.outcomes = new Array<Outcome | undefined>(slots).fill(undefined);
  }

  get slots(): number {
    return this.fingerprints.length;
  }

  get(id: string, h: number): Outcome | undefined {
    const i = this.find(id, h);
    return i < 0 ? undefined : this.outcomes[i];
  }

  /**
   * Sets the id's outcome: the previous one (undefined for a new slot), or `false` when the id
   * has no room within `MAX_PROBES` slots.
   */
  set(id: string, h: number, outcome: Outcome): Outcome | undefined | false {
    if (2 * (this.used + 1) > this.fingerprints.length && this.fingerprints.length < this.maxSlots) this.grow();
    const mask = this.fingerprints.length - 1;
    for (let i = h & mask, n = 0; n < MAX_PROBES; i = (i + 1) & mask, n++) {
      const f = this.fingerprints[i]!;
      if (f === 0) {
        this.fingerprints[i] = h;
        this.ids[i] = id;
        this.outcomes[i] = outcome;
        this.used++;
        this.live++;
        return undefined;
      }
      if (f === h && this.ids[i] === id) {
        const before = this.outcomes[i];
        this.outcomes[i] = outcome;
        if (before === FORGOTTEN) this.live++;
        return before;
      }
    }
    return false;
  }

  /** Marks a pair forgotten (its append failed). */
  forget(id: string, h: number): void {
    const i = this.find(id, h);
    if (i < 0 || this.outcomes[i] === FORGOTTEN) return;
    this.outcomes[i] = FORGOTTEN;
    this.live--;
  }

  /** The id's slot, or -1. */
  private find(id: string, h: number): number {
    const mask = this.fingerprints.length - 1;
    for (let i = h & mask, n = 0; n < MAX_PROBES; i = (i + 1) & mask, n++) {
      const f = this.fingerprints[i]!;
      if (f === 0) return -1;
      if (f === h && this.ids[i] === id) return i;
    }
    return -1;
  }

  /**
   * Empties the table for reuse. Only the fingerprints are cleared (a memset): an empty slot's
   * id and outcome are never read and are overwritten when it is used again, and building two
   * arrays of a quarter million slots anew cost more than the ids put in them.
   */
  clear(): void {
    this.fingerprints.fill(0);
    this.used = 0;
    this.live = 0;
  }

  /** Every id with its outcome and fingerprint. */
  forEach(fn: (id: string, h: number, outcome: Outcome) => void): void {
    for (let i = 0; i < this.fingerprints.length; i++) {
      if (this.fingerprints[i] !== 0) fn(this.ids[i]!, this.fingerprints[i]!, this.outcomes[i]!);
    }
  }

  private grow(): void {
    const { fingerprints, ids, outcomes } = this;
    const slots = fingerprints.length * 2;
    this.fingerprints = new Int32Array(slots);
    this.ids = new Array<string | undefined>(slots).fill(undefined);
    this.outcomes = new Array<Outcome | undefined>(slots).fill(undefined);
    this.used = 0;
    this.live = 0;
    for (let i = 0; i < fingerprints.length; i++) {
      // A wider table spreads what a run held: each id finds room again (one that did not is
      // only forgotten sooner).
      if (fingerprints[i] !== 0 && outcomes[i] !== FORGOTTEN) this.set(ids[i]!, fingerprints[i]!, outcomes[i]!);
    }
  }
}

/** What `RequestIds` stores: only whether an id is there matters. */
const SEEN: Outcome = { committed: true, promise: Promise.resolve(true) };

/**
 * The ids of one request, to find an id it sends twice: the same fingerprints, probed the same
 * bounded way. An id with no room near its fingerprint (ids made to collide) goes to a `Set`.
 */
export class RequestIds {
  private readonly table: IdTable;
  private overflow: Set<string> | undefined;

  constructor(count: number) {
    const slots = 2 ** Math.ceil(Math.log2(2 * count + 2));
    this.table = new IdTable(slots, slots);
  }

  /** Adds the id; false if the request already sent it. */
  add(id: string, h: number): boolean {
    const before = this.table.set(id, h, SEEN);
    if (before === undefined) return true;
    if (before !== false) return false;
    this.overflow ??= new Set();
    if (this.overflow.has(id)) return false;
    this.overflow.add(id);
    return true;
  }
}

/**
 * One tenant's pairs in two generations: new pairs join `current`; once it holds half the
 * capacity it becomes `previous` and the old `previous` is forgotten whole. Forgetting pair by
 * pair from the front of one Map (its oldest) left a deleted slot per pair that every later
 * scan from the front stepped over until the Map was rebuilt, and at 100k events a second
 * that, with the lookups among those slots, was a fifth of an ingest node's time.
 */
interface Generations {
  current: IdTable;
  previous: IdTable;
}

/** Pairs a tenant holds, forgotten ones not counted. */
const held = (g: Generations): number => g.current.live + g.previous.live;

export class RecentIds {
  private readonly tenants = new Map<string, Generations>();
  private total = 0;
  private readonly generation: number;
  /** Slots of a generation's table at most: a power of two, at most half full. */
  private readonly maxSlots: number;

  constructor(
    private readonly capacity: number,
    private readonly hash: IdHash = fnv1a,
  ) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
    this.maxSlots = 2 ** Math.ceil(Math.log2(2 * this.generation + 1));
  }

  /** The fingerprint `get` and `track` take, computed once per event by the caller. */
  fingerprint(id: string): number {
    return this.hash(id);
  }

  /** `true` if committed, a promise of the outcome if pending, undefined if unknown. `h`: the id's fingerprint. */
  get(tenantId: string, id: string, h = this.hash(id)): true | Promise<boolean> | undefined {
    const g = this.tenants.get(tenantId);
    if (g === undefined) return undefined;
    let table = g.current;
    let outcome = table.get(id, h);
    if (outcome === undefined || outcome === FORGOTTEN) {
      table = g.previous;
      outcome = table.get(id, h);
    }
    if (outcome === undefined || outcome === FORGOTTEN) return undefined;
    if (outcome.committed === true) return true;
    if (outcome.committed === undefined) return outcome.promise;
    // Its append failed: forgotten, so that a resend is written.
    table.forget(id, h);
    this.total--;
    return undefined;
  }

  /**
   * Marks ids pending on `committed`; once it settles they count as accepted, or as unknown.
   * `hashes`: their fingerprints, when the caller has them.
   */
  track(tenantId: string, ids: readonly string[], committed: Promise<boolean>, hashes?: readonly number[]): void {
    if (this.capacity === 0) return;
    const outcome: Outcome = { committed: undefined, promise: committed };
    void committed.then((ok) => (outcome.committed = ok));
    let g = this.tenants.get(tenantId);
    if (g === undefined) this.tenants.set(tenantId, (g = { current: new IdTable(this.maxSlots), previous: new IdTable(this.maxSlots) }));
    const before = held(g);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const h = hashes?.[i] ?? this.hash(id);
      // No room near its fingerprint: a fresh generation has (else it is not remembered).
      if (g.current.set(id, h, outcome) === false) {
        this.age(g);
        g.current.set(id, h, outcome);
      }
      if (g.current.used >= this.generation) this.age(g);
    }
    this.total += held(g) - before;
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
    const old = g.previous;
    g.previous = g.current;
    const pending: [string, number, Outcome][] = [];
    old.forEach((id, h, o) => {
      if (o !== FORGOTTEN && o.committed === undefined && g.previous.get(id, h) === undefined) pending.push([id, h, o]);
    });
    // The old table is reused when the tenant still fills one as large; a tenant whose burst
    // is over gets a table of its present size, and the large one is freed.
    if (old.slots <= g.previous.slots) {
      old.clear();
      g.current = old;
    } else g.current = new IdTable(this.maxSlots, g.previous.slots);
    for (const [id, h, o] of pending) g.current.set(id, h, o);
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
        const n = held(entry[1]);
        if (n > most) [largest, most] = [entry, n];
      }
      if (largest === undefined) return;
      const before = this.total;
      this.age(largest[1]);
      this.total += held(largest[1]) - most;
      if (held(largest[1]) === 0) this.tenants.delete(largest[0]);
      // Two agings that forgot nothing: every pair left is pending.
      stalled = this.total === before ? stalled + 1 : 0;
      if (stalled >= 2) return;
    }
  }
}
