/**
 * Recognises "the database cannot be reached" among the errors that reach the problem
 * filter: the pg driver's connection failures (refused, reset, cut, pool connect
 * timeout), its client-side query deadline (`query_timeout`: a server that stopped answering,
 * see src/database/data-source-options.ts) and PostgreSQL's own connection-class SQLSTATEs (08xxx, and 57P01–57P03:
 * shutting down, starting up). Those are an outage of a dependency, answered 503
 * DATABASE_UNAVAILABLE like the KMS and chain outages, not an internal error.
 * Duck-typed on `code`/`message` (also inside TypeORM's `driverError`), so common/ does not
 * depend on the driver. `cause` is not followed: an HTTP client's error (chain, KMS) wraps a
 * refused connection there, and those outages have their own codes.
 */
const SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const SQLSTATES = new Set(['57P01', '57P02', '57P03']);
const MESSAGES = [
  /^Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /^Query read timeout$/,
  /Client has encountered a connection error and is not queryable/i,
  /the database system is (shutting down|starting up|in recovery mode|not yet accepting connections)/i,
  /terminating connection due to administrator command/i,
  /Cannot use a pool after calling end on the pool/i,
];

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 3; depth++) {
    const { code, message, driverError } = e as { code?: unknown; message?: unknown; driverError?: unknown };
    if (typeof code === 'string' && (SYSTEM_CODES.has(code) || SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    if (typeof message === 'string' && MESSAGES.some((m) => m.test(message))) return true;
    e = driverError;
  }
  return false;
}
