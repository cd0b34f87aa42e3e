import type { Clock } from './random.js';

/**
 * The server's clock: the `clock` option plus an offset that `advance` grows, so a test can
 * move the server days ahead (retries, due dates) without touching its own clock. While due
 * work runs, the clock is pinned to the moment that work fell due, so what it stamps
 * (`created` of events, `paid_at`, the next retry counted from this attempt) reads as if it
 * had run on time.
 */
export class SimClock {
  private offsetMs = 0;
  private pinnedMs: number | null = null;

  constructor(private readonly base: Clock) {}

  readonly now: Clock = () => this.pinnedMs ?? this.base() + this.offsetMs;

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Runs `fn` with the clock reading `ms`. */
  at<T>(ms: number, fn: () => T): T {
    const previous = this.pinnedMs;
    this.pinnedMs = ms;
    try {
      return fn();
    } finally {
      this.pinnedMs = previous;
    }
  }

  reset(): void {
    this.offsetMs = 0;
    this.pinnedMs = null;
  }
}
