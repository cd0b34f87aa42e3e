/**
 * How long work reports how far it got: the CLI draws it as a progress bar (cli/progress.ts),
 * the aggregator's backfill, rating runs and close call it as they go.
 */
export interface Progress {
  start(total: number, label: string): void;
  tick(n: number): void;
  stop(): void;
}
