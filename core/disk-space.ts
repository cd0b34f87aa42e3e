import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { withTimeout } from './clickhouse.js';

export interface DiskSpace {
  /** Bytes an unprivileged process can still write. */
  readonly freeBytes: number;
  readonly sizeBytes: number;
}

/** The disk is there but nearly full: `/readyz` shows the check as `low: <reason>`, not `unreachable`. */
export class LowDiskSpace extends Error {
  readonly status = 'low';
}

/** The space left on the file system that holds `dir` (or will: a worker on server stores may not have made it). */
export async function diskSpace(dir: string): Promise<DiskSpace> {
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      const s = await statfs(at);
      return { freeBytes: s.bavail * s.bsize, sizeBytes: s.blocks * s.bsize };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(at) === at) throw e;
    }
  }
}

/**
 * A readiness check on the data dir's disk: it fails while less than `minFreeBytes` is left (0
 * turns it off). The data dir holds the event log and, on the embedded stores, both databases:
 * once it is full, ingest answers 503 and every write to the stores fails. The check says so
 * on `/readyz` before that point, while the node still works. A disk that does not answer in
 * `timeoutMs` (a hung network mount) fails it too.
 */
export function diskSpaceCheck(dir: string, minFreeBytes: number, timeoutMs: number): () => Promise<void> {
  return async () => {
    if (minFreeBytes === 0) return;
    const { freeBytes } = await withTimeout(diskSpace(dir), timeoutMs, "reading the data dir's free space");
    if (freeBytes < minFreeBytes) {
      throw new LowDiskSpace(`${mib(freeBytes)} MiB free on the data dir's disk, below TALLY_DISK_MIN_FREE_BYTES (${mib(minFreeBytes)} MiB)`);
    }
  };
}

/** `tally_data_dir_free_bytes` and `tally_data_dir_size_bytes`, read when Prometheus scrapes. */
export function diskSpaceGauges(registry: Registry, dir: string): void {
  // Once per registry: a process serving the API and a worker's probes registers them once.
  if (registry.getSingleMetric('tally_data_dir_free_bytes') !== undefined) return;
  let reading: Promise<DiskSpace | undefined> | undefined;
  // One statfs for both gauges of a scrape; a failed read leaves the last figures.
  const read = () => (reading ??= diskSpace(dir).catch(() => undefined).finally(() => (reading = undefined)));
  new Gauge({
    name: 'tally_data_dir_free_bytes',
    help: "Bytes still free on the data dir's disk (the event log and, on the embedded stores, both databases).",
    registers: [registry],
    async collect() {
      const s = await read();
      if (s !== undefined) this.set(s.freeBytes);
    },
  });
  new Gauge({
    name: 'tally_data_dir_size_bytes',
    help: "Size of the data dir's disk.",
    registers: [registry],
    async collect() {
      const s = await read();
      if (s !== undefined) this.set(s.sizeBytes);
    },
  });
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
