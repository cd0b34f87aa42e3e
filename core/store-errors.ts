/**
 * Errors that say a store could not do the work at this moment, rather than that the request or
 * the code is wrong: it cannot be reached, it is out of disk space or memory, it is overloaded
 * or shutting down. A request that meets one is answered 503 with Retry-After (the same request
 * can succeed later), not 500, and it is logged as a warning about the store rather than as a
 * defect. Deliberately a short list: anything not on it stays an internal error, so a bug is
 * never passed off as an outage.
 */

/** The category, phrased for a client ("is out of disk space"), or undefined when `e` is no such error. */
export function storeUnavailable(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const { code, type } = e as Error & { code?: unknown; type?: unknown };
  if (typeof code === 'string') {
    const byErrno = ERRNO[code];
    if (byErrno !== undefined) return byErrno;
    // Postgres: a five-character SQLSTATE on a DatabaseError (pg) or its PGlite twin.
    if (/^[0-9A-Z]{5}$/.test(code)) {
      const bySqlState = SQLSTATE[code] ?? SQLSTATE_CLASS[code.slice(0, 2)];
      if (bySqlState !== undefined) return bySqlState;
    }
  }
  // ClickHouse (server or chDB): `type` names the error.
  if (typeof type === 'string') {
    const byType = CLICKHOUSE[type];
    if (byType !== undefined) return byType;
  }
  // pg's own connection errors carry no code.
  if (PG_CONNECTION_MESSAGES.some((m) => e.message.startsWith(m))) return 'cannot be reached';
  return undefined;
}

const ERRNO: Record<string, string> = {
  ECONNREFUSED: 'cannot be reached',
  ECONNRESET: 'cannot be reached',
  EPIPE: 'cannot be reached',
  ETIMEDOUT: 'cannot be reached',
  EHOSTUNREACH: 'cannot be reached',
  ENETUNREACH: 'cannot be reached',
  ENOTFOUND: 'cannot be reached',
  EAI_AGAIN: 'cannot be reached',
  ENOSPC: 'is out of disk space',
  EDQUOT: 'is out of disk space',
};

const SQLSTATE: Record<string, string> = {
  '53100': 'is out of disk space', // disk_full
  '53200': 'is out of memory', // out_of_memory
  '53300': 'is overloaded', // too_many_connections
  '57014': 'is overloaded', // query_canceled: a statement timeout
  '57P01': 'is shutting down', // admin_shutdown
  '57P02': 'is shutting down', // crash_shutdown
  '57P03': 'is starting or shutting down', // cannot_connect_now
  '58030': 'cannot read or write its files', // io_error
};

/** Whole SQLSTATE classes: 08 connection exception, 53 insufficient resources. */
const SQLSTATE_CLASS: Record<string, string> = {
  '08': 'cannot be reached',
  '53': 'is out of resources',
};

const CLICKHOUSE: Record<string, string> = {
  NOT_ENOUGH_SPACE: 'is out of disk space',
  MEMORY_LIMIT_EXCEEDED: 'is out of memory',
  TOO_MANY_SIMULTANEOUS_QUERIES: 'is overloaded',
  TOO_MANY_PARTS: 'is overloaded',
  TIMEOUT_EXCEEDED: 'is overloaded',
  SOCKET_TIMEOUT: 'cannot be reached',
  NETWORK_ERROR: 'cannot be reached',
  ALL_CONNECTION_TRIES_FAILED: 'cannot be reached',
  TABLE_IS_READ_ONLY: 'is read-only for now',
};

const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
];
