/** Exit codes of the `tally` command (sysexits-style where one fits). */
export const EXIT = {
  OK: 0,
  /** Something failed while running: a store error, a failed migration. */
  FAILURE: 1,
  /** The command line was wrong: unknown command or flag. */
  USAGE: 2,
  /**
   * A one-shot run finished but left items it could not do: subscriptions set aside, rows or
   * deliveries failed for good, or nothing got through while some wait to be retried. The
   * others were done; the log names each item. A cron job sees it.
   */
  ITEMS_FAILED: 3,
  /** Held by another live process (sysexits' EX_TEMPFAIL: try again later): the data dir, or the aggregator's lease. */
  LOCKED: 75,
  /** A configuration variable is invalid. */
  CONFIG: 78,
} as const;
