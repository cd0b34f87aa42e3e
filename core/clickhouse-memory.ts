import { Gauge, type Registry } from 'prom-client';
import { engineMemory, withTimeout, type ClickHouseStore } from './clickhouse.js';

/**
 * `tally_clickhouse_memory_bytes` and `tally_clickhouse_memory_limit_bytes`: what the
 * ClickHouse engine's queries, inserts and merges hold now, and the most it lets them hold
 * (the embedded engine's `TALLY_CHDB_MAX_MEMORY`, or a server's own setting). Near the limit,
 * statements start failing for want of memory: aggregator meters are set aside, inserts retried.
 * Read when Prometheus scrapes, one query for both; the last figures stay while it fails.
 */
export function clickhouseMemoryGauges(registry: Registry, ch: ClickHouseStore): void {
  // Once per registry: a process serving the API and a worker's probes registers them once.
  if (registry.getSingleMetric('tally_clickhouse_memory_bytes') !== undefined) return;
  let known: Awaited<ReturnType<typeof engineMemory>> | undefined;
  let reading: Promise<void> | undefined;
  const read = () =>
    (reading ??= withTimeout(engineMemory(ch), 2_000, "reading ClickHouse's memory")
      .then((m) => {
        known = m;
      })
      .catch(() => undefined) // keep the last figures read; the store's health shows on /readyz
      .finally(() => (reading = undefined)));
  new Gauge({
    name: 'tally_clickhouse_memory_bytes',
    help: "Memory ClickHouse's queries, inserts and merges hold now, as the engine tracks it.",
    registers: [registry],
    async collect() {
      await read();
      if (known !== undefined) this.set(known.usedBytes);
    },
  });
  new Gauge({
    name: 'tally_clickhouse_memory_limit_bytes',
    help: 'The most memory ClickHouse lets its queries, inserts and merges hold together (TALLY_CHDB_MAX_MEMORY on the embedded engine); statements beyond it fail.',
    registers: [registry],
    async collect() {
      await read();
      if (known?.limitBytes !== undefined) this.set(known.limitBytes);
    },
  });
}
