import { createReadStream } from 'node:fs';
import type { ClickHouseStore } from '../core/clickhouse.js';
import { ROW_COLUMNS, ROW_STRUCTURE } from './rowbinary.js';

/** Where the shipper puts log segments: the raw events table. */
export interface SegmentSink {
  /**
   * Inserts a rows file (RowBinary, see rowbinary.ts) whole, setting `visible_at` to the
   * insert's time. `token` names this content: inserting it again with the same token (a
   * retry after a crash between the insert and the log's bookkeeping) inserts nothing.
   */
  insert(rowsPath: string, token: string): Promise<void>;
  /** Parses a rows file without storing it: undefined when the store takes every row, its reason when it refuses them. */
  check(rowsPath: string): Promise<string | undefined>;
  /** Resolves when the store answers (used while it is down). */
  probe(): Promise<void>;
  /**
   * Whether an error means the store refused the rows themselves (it would refuse them again):
   * the store's error type, e.g. `CANNOT_PARSE_INPUT_ASSERTION_FAILED`; undefined for any other
   * failure (down, slow, full, misconfigured), which the shipper retries.
   */
  refusal(e: unknown): string | undefined;
}

/**
 * ClickHouse errors about the data read. Deliberately a short list: an error read as a
 * refusal sets rows aside, so anything else counts as an outage and is retried.
 */
const DATA_ERROR_TYPES =
  /^(CANNOT_PARSE_[A-Z0-9_]+|CANNOT_READ_ALL_DATA|TYPE_MISMATCH|ARGUMENT_OUT_OF_BOUND|CANNOT_CONVERT_TYPE|INCORRECT_DATA|TOO_LARGE_STRING_SIZE|VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE|DECIMAL_OVERFLOW)$/;

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

/** Undefined when `parse` succeeds, the store's reason when it refuses the rows; any other failure is thrown. */
async function refusalOf(parse: Promise<unknown>): Promise<string | undefined> {
  try {
    await parse;
    return undefined;
  } catch (e) {
    const reason = clickHouseRefusal(e);
    if (reason === undefined) throw e;
    return reason;
  }
}

/** A SQL string literal. */
function literal(s: string): string {
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * The raw table as a sink. On chDB the engine reads the segment file itself (`file()`, about
 * six times faster than parsing the same rows sent as JSON); on a server the same bytes are
 * streamed as the body of `INSERT ... SELECT ... FROM input() FORMAT RowBinary`. Either way
 * `insert_deduplication_token` names the segment, and the table keeps the tokens of its last
 * 10,000 inserts (migration 0007; Replicated tables do so by default).
 */
export function clickHouseSink(store: ClickHouseStore): SegmentSink {
  const table = store.table('raw_events_v1');
  const columns = [...ROW_COLUMNS, 'visible_at'].join(', ');
  const structure = literal(ROW_STRUCTURE);
  // In the statement, not as request settings: chDB's connection turns request settings into
  // session-wide SETs, and a token left behind would make every later insert a "repeat".
  const into = (token: string) => `INSERT INTO ${table} (${columns}) SETTINGS insert_deduplicate = 1, insert_deduplication_token = ${literal(token)}`;

  if (store.kind === 'embedded') {
    const source = (file: string) => `file(${literal(file)}, 'RowBinary', ${structure})`;
    return {
      insert: async (file, token) => {
        await store.client.command({ query: `${into(token)} SELECT *, now64(6) FROM ${source(file)}` });
      },
      check: (file) => refusalOf(store.client.command({ query: `SELECT * FROM ${source(file)} FORMAT Null` })),
      probe: () => store.ping(),
      refusal: clickHouseRefusal,
    };
  }

  const stream = async (query: string, file: string) => {
    const result = await store.client.exec({ query, values: createReadStream(file) });
    result.stream.destroy();
  };
  return {
    insert: (file, token) => stream(`${into(token)} SELECT *, now64(6) FROM input(${structure}) FORMAT RowBinary`, file),
    check: (file) => refusalOf(stream(`INSERT INTO FUNCTION null(${structure}) SELECT * FROM input(${structure}) FORMAT RowBinary`, file)),
    probe: () => store.ping(),
    refusal: clickHouseRefusal,
  };
}
