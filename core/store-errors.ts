/**
 * Errors that say a store could not do the work at this moment, rather than that the request or
 * the code is wrong: it cannot be reached, it is out of disk space or memory, it is overloaded
 * or shutting down. Deliberately a short list of exact codes: anything not on it stays an
 * internal error, so a bug is never passed off as an outage (a whole SQLSTATE class would take
 * in `08P01`, a statement sent with the wrong number of parameters).
 */

/** What the store's trouble is: the label of `tally_http_store_unavailable_total`. */
export const STORE_TROUBLES = ['unreachable', 'disk_full', 'out_of_memory', 'overloaded', 'shutting_down', 'io_error'] as const;
export type StoreTrouble = (typeof STORE_TROUBLES)[number];

export interface StoreUnavailable {
  readonly trouble: StoreTrouble;
  /**
   * Whether the failure may have come after the store got the statement (a connection dropped
   * mid-way, the server shut down under it): a write's outcome is then unknown, and telling the
   * client to retry could do it twice. False when the store refused the statement outright or
   * was never reached.
   */
  readonly midway: boolean;
}

/** The phrase for a client: "a store <phrase>". */
export const TROUBLE_TEXT: Record<StoreTrouble, string> = {
  unreachable: 'cannot be reached',
  disk_full: 'is out of disk space',
  out_of_memory: 'is out of memory',
  overloaded: 'is overloaded',
  shutting_down: 'is shutting down',
  io_error: 'cannot read or write its files',
};

/** The store's trouble, or undefined when `e` is not one of the errors above. */
export function storeUnavailable(e: unknown): StoreUnavailable | undefined {
  if (!(e instanceof Error)) return undefined;
  const { code, type } = e as Error & { code?: unknown; type?: unknown };
  if (typeof code === 'string') {
    // Node's errno codes (pg's socket, the ClickHouse client's), then a Postgres SQLSTATE on a
    // DatabaseError. The tables share no key: SQLSTATEs are five digits or capitals with a
    // digit, errno codes start with E and none of the five-letter ones is a SQLSTATE.
    const known = ERRNO[code] ?? SQLSTATE[code];
    if (known !== undefined) return known;
  }
  // ClickHouse (server or chDB): `type` names the error.
  if (typeof type === 'string') {
    // A query over its own memory limit fails the same way every time; only the engine's
    // total running out is the moment's.
    if (type === 'MEMORY_LIMIT_EXCEEDED') return e.message.includes('(total)') ? refused('out_of_memory') : undefined;
    const known = CLICKHOUSE[type];
    if (known !== undefined) return known;
  }
  // pg's own connection errors carry no code.
  if (PG_CONNECTION_LOST.some((m) => e.message.startsWith(m))) return midway('unreachable');
  return undefined;
}

function refused(trouble: StoreTrouble): StoreUnavailable {
  return { trouble, midway: false };
}
function midway(trouble: StoreTrouble): StoreUnavailable {
  return { trouble, midway: true };
}

const ERRNO: Record<string, StoreUnavailable> = {
  // Never connected: nothing was sent.
  ECONNREFUSED: refused('unreachable'),
  EHOSTUNREACH: refused('unreachable'),
  ENETUNREACH: refused('unreachable'),
  ENOTFOUND: refused('unreachable'),
  EAI_AGAIN: refused('unreachable'),
  // A connection lost or stalled: the statement may have been done.
  ECONNRESET: midway('unreachable'),
  EPIPE: midway('unreachable'),
  ETIMEDOUT: midway('unreachable'),
};

/** PostgreSQL's codes (Appendix A of its manual). */
const SQLSTATE: Record<string, StoreUnavailable> = {
  '08001': refused('unreachable'), // sqlclient_unable_to_establish_sqlconnection
  '08004': refused('unreachable'), // sqlserver_rejected_establishment_of_sqlconnection
  '57P03': refused('shutting_down'), // cannot_connect_now: starting up or shutting down
  '53300': refused('overloaded'), // too_many_connections
  // The statement failed and its transaction rolled back.
  '53100': refused('disk_full'), // disk_full
  '53200': refused('out_of_memory'), // out_of_memory
  // The connection or the server went away under the statement.
  '08000': midway('unreachable'), // connection_exception
  '08003': midway('unreachable'), // connection_does_not_exist
  '08006': midway('unreachable'), // connection_failure
  '57P01': midway('shutting_down'), // admin_shutdown
  '57P02': midway('shutting_down'), // crash_shutdown
  '58030': midway('io_error'), // io_error
};

/** ClickHouse's error names (its ErrorCodes list). */
const CLICKHOUSE: Record<string, StoreUnavailable> = {
  NOT_ENOUGH_SPACE: refused('disk_full'),
  TOO_MANY_SIMULTANEOUS_QUERIES: refused('overloaded'),
  TOO_MANY_PARTS: refused('overloaded'),
  TABLE_IS_READ_ONLY: refused('overloaded'),
  ALL_CONNECTION_TRIES_FAILED: refused('unreachable'),
  SOCKET_TIMEOUT: midway('unreachable'),
  NETWORK_ERROR: midway('unreachable'),
};

const PG_CONNECTION_LOST = ['Connection terminated', 'Client has encountered a connection error and is not queryable'];
