/**
 * The instants a subscription may hold. Every date of a subscription ends up in ClickHouse
 * (rated usage is keyed by period and segment start, hours go as `DateTime`, epoch seconds as
 * `UInt32`), whose `DateTime` holds 1970-01-01 to 2106-02-07. A date outside that range cannot
 * be rated at all, so it is refused where it comes in, and a subscription already stored with
 * one (written before this check, or by hand) is set aside by the loops instead of failing them.
 *
 * Start dates may be backdated (imports), but only within the import horizon: an import only
 * needs to keep its customers' billing anchors (day of month and time), which any start within
 * the last few years can carry, and every period since the start is rated and closed.
 */

/** The first instant the stores hold (ClickHouse `DateTime`, epoch seconds as `UInt32`). */
export const STORABLE_FROM_MS = 0;
/**
 * The last instant a subscription date may be: a year short of ClickHouse's `DateTime` end
 * (2106-02-07T06:28:15Z), so the period that contains it ends within the range too.
 */
export const STORABLE_UNTIL_MS = Date.UTC(2105, 0, 1);

/** How far back a start date may be backdated: five years (of 366 days). */
export const IMPORT_HORIZON_MS = 5 * 366 * 86_400_000;

/** Why `at` cannot be stored as a subscription date, or undefined when it can. */
export function unstorable(at: number): string | undefined {
  if (!Number.isFinite(at)) return 'is not a valid instant';
  if (at < STORABLE_FROM_MS) return `must not be before ${new Date(STORABLE_FROM_MS).toISOString()}`;
  if (at > STORABLE_UNTIL_MS) return `must not be after ${new Date(STORABLE_UNTIL_MS).toISOString()}`;
  return undefined;
}

/** Why `start` cannot start a subscription created at `now`, or undefined when it can. */
export function invalidStart(start: number, now: number, horizonMs = IMPORT_HORIZON_MS): string | undefined {
  const bad = unstorable(start);
  if (bad !== undefined) return bad;
  if (start > now) return 'must not be in the future';
  if (start < now - horizonMs) return `must not be more than ${horizonMs / 86_400_000} days in the past (the import horizon); start the subscription within it on the same day of month and time to keep its billing anchor`;
  return undefined;
}

/** The first date field of a stored subscription that the stores cannot hold, or undefined. */
export function unstorableField(sub: { startDate: Date; trialEnd: Date | null; canceledAt: Date | null }): 'start_date' | 'trial_end' | 'canceled_at' | undefined {
  if (unstorable(sub.startDate.getTime()) !== undefined) return 'start_date';
  if (sub.trialEnd !== null && unstorable(sub.trialEnd.getTime()) !== undefined) return 'trial_end';
  if (sub.canceledAt !== null && unstorable(sub.canceledAt.getTime()) !== undefined) return 'canceled_at';
  return undefined;
}
