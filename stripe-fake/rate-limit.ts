import type { Clock } from './random.js';

/**
 * Stripe's write limiter in test mode: `perSecond` writes a second, a burst of up to one second's
 * worth. A token bucket, as Stripe's is: a client that spaces its writes at the same rate (with
 * its own bucket of the same size) never sees a 429, one that bursts beyond it does. Rejected
 * requests take no token. `Infinity` turns limiting off.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private perSecond: number,
    private readonly clock: Clock,
  ) {
    this.tokens = perSecond;
    this.last = clock();
  }

  setRate(perSecond: number): void {
    this.perSecond = perSecond;
    this.tokens = perSecond;
    this.last = this.clock();
  }

  get rate(): number {
    return this.perSecond;
  }

  tryTake(): boolean {
    if (this.perSecond === Infinity) return true;
    const now = this.clock();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
