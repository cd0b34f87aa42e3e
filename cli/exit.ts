/** Exit codes of the `tally` command (sysexits-style where one fits). */
export const EXIT = {
  OK: 0,
  /** Something failed while running: a store error, a failed migration. */
  FAILURE: 1,
  /** The command line was wrong: unknown command or flag. */
  USAGE: 2,
  /** The data dir is held by another live process. */
  LOCKED: 75,
  /** A configuration variable is invalid. */
  CONFIG: 78,
} as const;
