import { StoreQueryError, StoreUnavailableError } from '../errors.js';

// How a failure from `pg` is classified decides what the store may claim about a write:
// a statement error on a live connection means the transaction rolled back (a definite failure);
// anything that ends the session leaves a write's outcome open until it is read back.

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** SQLSTATEs that mean the session is over or the server is not accepting work. */
function isSessionEndingSqlState(code: string): boolean {
  return (
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin_shutdown (pg_terminate_backend, smart/fast shutdown)
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now (starting up, shutting down)
    code === '57P05' || // idle_session_timeout
    code === '53300' // too_many_connections
  );
}

/** The fields of a `pg` error this module reads. */
interface PgErrorLike {
  code?: unknown;
  severity?: unknown;
  message?: unknown;
}

function fields(err: unknown): PgErrorLike {
  return typeof err === 'object' && err !== null ? (err as PgErrorLike) : {};
}

/**
 * True if `err` means the connection (not the statement) failed: network errors, a session the
 * server ended, a client `pg` already considers broken, timeouts.
 */
export function isConnectionError(err: unknown): boolean {
  const { code, severity, message } = fields(err);
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return isSessionEndingSqlState(code) || severity === 'FATAL' || severity === 'PANIC';
  }
  // pg's own errors for a dead or ended connection carry no code, only a message.
  return (
    typeof message === 'string' &&
    /Connection terminated|not queryable|Connection ended|timeout|Client was closed|socket|ended by the other party/i.test(message)
  );
}

/** The SQLSTATE of a statement error, if `err` has one. */
export function sqlStateOf(err: unknown): string | undefined {
  const { code } = fields(err);
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Wraps a failure of a read or of a write known not to have happened. */
export function toStoreError(err: unknown, what: string): Error {
  if (err instanceof StoreUnavailableError || err instanceof StoreQueryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isConnectionError(err)) return new StoreUnavailableError(`${what}: the database is unavailable (${message})`, { cause: err });
  return new StoreQueryError(`${what}: ${message}`, sqlStateOf(err), { cause: err });
}
