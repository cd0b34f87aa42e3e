/**
 * A seeded generator (mulberry32), so that a seed replays the same faults and the same object
 * ids. Ids and fault decisions draw from separate streams: creating one more object does not
 * shift which request a fault hits.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class Ids {
  constructor(private readonly rng: Rng) {}

  /** `cus_…`, `in_…`: Stripe-looking ids (the prefix tells the object). */
  next(prefix: string, length = 24): string {
    return `${prefix}_${this.chars(length, ALPHANUMERIC)}`;
  }

  /** A customer's invoice number prefix, like Stripe's (upper-case letters and digits). */
  invoicePrefix(): string {
    return this.chars(8, UPPER);
  }

  uuid(): string {
    const hex = this.chars(32, '0123456789abcdef');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
  }

  private chars(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.rng.below(alphabet.length)] ?? 'x';
    return s;
  }
}

export type Clock = () => number;

/** Unix seconds of a clock reading in milliseconds. */
export const unixSeconds = (ms: number): number => Math.floor(ms / 1000);
