/**
 * A token bucket for Stripe writes: at most `perSecond` on average, bursts up to one second's
 * worth. `take` resolves when a write may go. Stripe allows 100 writes/s live and 25/s in test
 * mode; staying under it keeps 429s for real overload.
 */
export class WriteLimiter {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly perSecond: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.last = clock();
  }

  take(): Promise<void> {
    // Writers wait in line, so the bucket is never overdrawn by callers racing each other.
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = this.clock();
        this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
        this.last = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000)));
      }
    });
    this.queue = turn;
    return turn;
  }
}
