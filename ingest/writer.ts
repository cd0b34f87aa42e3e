import type { ClickHouseStore } from '../core/clickhouse.js';
import type { EventRow } from './event.js';

/** Where accepted events are committed. `insert` resolves only once the rows are durable. */
export interface EventWriter {
  insert(rows: readonly EventRow[]): Promise<void>;
  /** Resolves when the store could take an insert now (used to recover after a failure). */
  probe(): Promise<void>;
  /**
   * Whether an insert error means the store refused the rows themselves (it would refuse them
   * again, and others without them would go in): the store's reason, e.g.
   * `CANNOT_PARSE_ESCAPE_SEQUENCE`; undefined for any other failure (the store is down, slow,
   * full, misconfigured), which must fail the batch and mark ingest down.
   */
  refusal(e: unknown): string | undefined;
}

/** Column order of the rows sent to ClickHouse. */
const COLUMNS = ['tenant_id', 'id', 'customer', 'meter', 'value', 'timestamp', 'properties', 'ingested_at'] as const;

/**
 * ClickHouse errors about the data read from the insert body. Deliberately a short list: an
 * error read as a refusal makes the search for bad rows report rows as refused (a 202 that
 * rejects them) instead of a 503 that asks the client to retry, so anything else counts as
 * an outage. (Codes: 6, 25-27, 38, 41, 72, ... CANNOT_PARSE_*; 53, 69, 70, 117, 131, 321, 407.)
 */
const DATA_ERROR_TYPES =
  /^(CANNOT_PARSE_[A-Z0-9_]+|TYPE_MISMATCH|ARGUMENT_OUT_OF_BOUND|CANNOT_CONVERT_TYPE|INCORRECT_DATA|TOO_LARGE_STRING_SIZE|VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE|DECIMAL_OVERFLOW)$/;

/**
 * The error type of an error ClickHouse answered (a `ClickHouseError` carries `code` and
 * `type`; chDB's copy of the class is not the same constructor, so it is read by shape) when it
 * says the rows are bad.
 */
export function clickHouseRefusal(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const { type, code } = e as Error & { type?: unknown; code?: unknown };
  return typeof type === 'string' && typeof code === 'string' && DATA_ERROR_TYPES.test(type) ? type : undefined;
}

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
    refusal: clickHouseRefusal,
  };
}
