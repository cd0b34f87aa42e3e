/**
 * When a mail that was not sent is tried again: the outbound webhooks' schedule (10 s, 1 min,
 * 5 min, 30 min, 1 h, 2 h, 4 h, 8 h, 10 h — about 25.6 hours in all, so an SMTP server down for
 * a day still gets it), each delay within ±10 %. After the last, the mail has failed. Kept here
 * rather than imported: mail reads no other delivery domain (test/unit/layers.test.ts).
 */
export const RETRY_DELAYS_MS: readonly number[] = [10_000, 60_000, 300_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 36_000_000];

/** The delay before the next attempt after `failed` failed attempts, or null when there is none. */
export function nextDelayMs(failed: number, delays: readonly number[] = RETRY_DELAYS_MS, random: () => number = Math.random): number | null {
  const base = delays[failed - 1];
  if (base === undefined) return null;
  return Math.floor(base * (0.9 + 0.2 * random()));
}
