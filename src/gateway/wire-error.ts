/**
 * What a client learns about a failure. Errors of the entity layer keep their `code` (switch on
 * it), their message, and the fields meant for callers (`issues`, `details`). Nothing else
 * crosses the wire: no stack, no `cause`, and for failures of the store not even the store's
 * message (it can name hosts, tables or SQL). Anything that is not a beamstate error is a bug
 * or an environment problem: the client gets `INTERNAL_ERROR`, the log gets the rest.
 */
import { isBeamstateError } from '../errors.js';
import type { ValidationIssue } from '../entities/standard-schema.js';
import type { Logger } from '../logger.js';
import type { WireError } from './protocol.js';

/** Codes whose message may carry a store's error text: replaced by a fixed message. */
const SERVER_SIDE: Readonly<Record<string, string>> = {
  PERSIST_FAILED: 'the command could not be persisted; nothing was applied',
  RECOVERY_FAILED: 'the entity could not be loaded from the store',
};

export function toWireError(err: unknown, logger: Logger): WireError {
  if (!isBeamstateError(err)) {
    logger.error({ err }, 'unexpected error answering a request');
    return { code: 'INTERNAL_ERROR', message: 'internal error' };
  }
  const code = err.code;
  const fixed = SERVER_SIDE[code];
  if (fixed !== undefined) {
    logger.warn({ err }, 'request failed in the store');
    return { code, message: fixed };
  }
  const e = err as { issues?: unknown; details?: unknown };
  if (code === 'INVALID_COMMAND' || code === 'INVALID_FRAME') return { code, message: err.message, issues: e.issues as readonly ValidationIssue[] };
  if (code === 'COMMAND_FAILED' && e.details !== undefined) return { code, message: err.message, details: e.details };
  return { code, message: err.message };
}
