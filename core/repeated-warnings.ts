/**
 * The warnings of an item that fails again on every run (a subscription whose usage cannot be
 * rated, set aside every few seconds until someone fixes it): the first is logged, then again
 * at most once per `everyMs` for that item, saying how many were not logged in between. The
 * loops' failure metrics still count every one. Without this, one tenant's bad data would fill
 * the log with one line per item per run.
 */
export class RepeatedWarnings {
  private readonly last = new Map<string, { at: number; quiet: number }>();

  constructor(
    private readonly everyMs = 15 * 60_000,
    /** Items remembered; past it, the oldest-logged is forgotten (and its next failure logged). */
    private readonly max = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Whether to log this failure of `item`; `quiet`: its failures not logged since the last that
   * was. A failure of another kind (another error code or class) is logged at once: the item
   * fails for a new reason.
   */
  take(item: string, error: unknown): { log: boolean; quiet: number } {
    const key = `${item}\n${kindOf(error)}`;
    const now = this.clock();
    const seen = this.last.get(key);
    if (seen !== undefined && now - seen.at < this.everyMs) {
      seen.quiet++;
      return { log: false, quiet: seen.quiet };
    }
    const quiet = seen?.quiet ?? 0;
    this.last.delete(key);
    this.last.set(key, { at: now, quiet: 0 });
    if (this.last.size > this.max) this.last.delete(this.last.keys().next().value!);
    return { log: true, quiet };
  }
}

/** An error's catalogue code when it has one, else its class. */
function kindOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return e instanceof Error ? e.name : typeof e;
}
