import type { ClickHouseStore } from '../core/clickhouse.js';
import type { EventRow } from './event.js';

/** Where accepted events are committed. `insert` resolves only once the rows are durable. */
export interface EventWriter {
  insert(rows: readonly EventRow[]): Promise<void>;
  /** Resolves when the store could take an insert now (used to recover after a failure). */
  probe(): Promise<void>;
}

/** Column order of the rows sent to ClickHouse. */
const COLUMNS = ['tenant_id', 'id', 'customer', 'meter', 'value', 'timestamp', 'properties', 'ingested_at'] as const;

/**
 * Rows go as JSONCompactEachRow (arrays in a fixed column order): the engine parses them about
 * 1.4 times faster than keyed JSON objects (measured on chDB), and they are cheaper to encode.
 */
export function clickHouseEventWriter(store: ClickHouseStore): EventWriter {
  const table = store.table('raw_events_v1');
  return {
    insert: async (rows) => {
      const values = rows.map((r) => [r.tenant_id, r.id, r.customer, r.meter, r.value, r.timestamp, r.properties, r.ingested_at]);
      await store.client.insert({ table, values, format: 'JSONCompactEachRow', columns: [...COLUMNS] });
    },
    probe: () => store.ping(),
  };
}

/**
 * A fault seam around a writer, for tests and failure drills: while `fail` is set every insert
 * and probe is refused; `delayMs` makes inserts slow. The rows of a refused insert are not
 * written.
 */
export interface FaultControl {
  fail: Error | undefined;
  delayMs: number;
  /** Rows handed to the writer so far (tests wait on it to know inserts are in flight). */
  rowsStarted?: number;
}

export function faultyWriter(inner: EventWriter, control: FaultControl): EventWriter {
  return {
    insert: async (rows) => {
      control.rowsStarted = (control.rowsStarted ?? 0) + rows.length;
      if (control.delayMs > 0) await new Promise((r) => setTimeout(r, control.delayMs));
      if (control.fail !== undefined) throw control.fail;
      await inner.insert(rows);
    },
    probe: async () => {
      if (control.fail !== undefined) throw control.fail;
      await inner.probe();
    },
  };
}
