/**
 * Finding the item that fails a batch. Background loops work in batches (one query or one
 * transaction for many subscriptions); one bad item — a subscription whose data a store
 * refuses, say — makes its whole batch fail. `isolate` then splits the batch in halves and
 * tries each, down to single items, so only the items that fail on their own are set aside
 * and everything else is done in the same run.
 *
 * A failure that is not about the items — a store that is down — must not set items aside one
 * by one (every item would be "bad", and each would be retried alone against a dead store):
 * `systemic` is asked after each failure, and when it says so the error is thrown and the
 * whole run fails, leaving its position where it was.
 */
export interface IsolateOptions<T> {
  /** Whether a failure is the environment's (a store down), not the items'. */
  systemic(error: unknown): Promise<boolean>;
  /** One item that failed on its own; the run goes on without it. */
  setAside(item: T, error: unknown): void | Promise<void>;
}

/** Runs `work` on `items` together; on failure, on halves of them, down to single items (each item is indivisible). */
export async function isolate<T>(items: readonly T[], work: (items: readonly T[]) => Promise<void>, o: IsolateOptions<T>): Promise<void> {
  if (items.length === 0) return;
  try {
    await work(items);
  } catch (e) {
    if (await o.systemic(e)) throw e;
    if (items.length === 1) {
      await o.setAside(items[0]!, e);
      return;
    }
    const half = Math.ceil(items.length / 2);
    await isolate(items.slice(0, half), work, o);
    await isolate(items.slice(half), work, o);
  }
}

/** `systemic` for loops on both stores: a failure is systemic when either store does not answer a ping. */
export function storesDown(...stores: { ping(timeoutMs?: number): Promise<void> }[]): () => Promise<boolean> {
  return async () => {
    try {
      await Promise.all(stores.map((s) => s.ping(5_000)));
      return false;
    } catch {
      return true;
    }
  };
}

/** What a log line says of an error: its class and message, never a payload. */
export function errorSummary(e: unknown): { error: string; message: string } {
  const error = e instanceof Error ? e.name : typeof e;
  const message = (e instanceof Error ? e.message : String(e)).slice(0, 500);
  return { error, message };
}
