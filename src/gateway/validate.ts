/**
 * Request validation on the hot path. The rules are those of the zod schemas in `frames.ts`
 * (which `docs/protocol.md` describes); a property test checks that both accept and refuse the
 * same frames. Hand-written because every frame passes here: it allocates nothing for a valid
 * frame and returns the decoded object itself, typed.
 */
import { InvalidFrameError } from './errors.js';
import { MAX_COMMAND_LENGTH, MAX_ID_LENGTH, MAX_TYPE_LENGTH, type RequestFrame, type RequestId } from './protocol.js';
import { MAX_TRACEPARENT_LENGTH, MAX_TRACESTATE_LENGTH } from '../tracing/traceparent.js';

/** A string of 1–128 characters, or an integer from 0 to 2^53 − 1. */
export function isRequestId(id: unknown): id is RequestId {
  if (typeof id === 'string') return id.length >= 1 && id.length <= MAX_ID_LENGTH;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
}

/** The request's id if `frame` has a valid one, else null (for error frames). */
export function idOf(frame: unknown): RequestId | null {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return null;
  const id = (frame as { id?: unknown }).id;
  return isRequestId(id) ? id : null;
}

function invalid(id: RequestId | null, message: string, path: (string | number)[]): never {
  const err = new InvalidFrameError([{ message, path }]);
  err.id = id;
  throw err;
}

/** Checks a decoded frame against the `beamstate.v1` request rules; throws `INVALID_FRAME` (with the id when valid). */
export function parseRequest(frame: unknown): RequestFrame {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame) || ArrayBuffer.isView(frame)) {
    return invalid(null, 'a frame must be an object', []);
  }
  const f = frame as Record<string, unknown>;
  const rawId = f.id;
  const id = isRequestId(rawId) ? rawId : null;
  if (id === null) invalid(null, rawId === undefined ? 'required' : `must be a string of 1-${MAX_ID_LENGTH} characters or an integer from 0 to 2^53-1`, ['id']);
  const kind = f.kind;
  switch (kind) {
    case 'command':
      for (const key in f) {
        if (key !== 'kind' && key !== 'id' && key !== 'entity' && key !== 'command' && key !== 'input' && key !== 'tell' && key !== 'traceparent' && key !== 'tracestate') {
          invalid(id, 'unknown field', [key]);
        }
      }
      checkEntity(id, f.entity);
      checkName(id, f.command, MAX_COMMAND_LENGTH, 'command');
      if (f.tell !== undefined && typeof f.tell !== 'boolean') invalid(id, 'must be a boolean', ['tell']);
      // Only the type and length: what the string says is the tracer's business (a malformed one is ignored).
      if (f.traceparent !== undefined) checkString(id, f.traceparent, MAX_TRACEPARENT_LENGTH, 'traceparent');
      if (f.tracestate !== undefined) checkString(id, f.tracestate, MAX_TRACESTATE_LENGTH, 'tracestate');
      return frame as RequestFrame;
    case 'subscribe': {
      for (const key in f) {
        if (key !== 'kind' && key !== 'id' && key !== 'entity' && key !== 'events' && key !== 'state' && key !== 'fromSequenceNr') invalid(id, 'unknown field', [key]);
      }
      checkEntity(id, f.entity);
      const { events, state, fromSequenceNr } = f;
      if (events !== undefined && typeof events !== 'boolean') invalid(id, 'must be a boolean', ['events']);
      if (state !== undefined && typeof state !== 'boolean') invalid(id, 'must be a boolean', ['state']);
      if (events !== true && state !== true) invalid(id, 'subscribe to events, state, or both', []);
      if (fromSequenceNr !== undefined) {
        if (typeof fromSequenceNr !== 'number' || !Number.isSafeInteger(fromSequenceNr) || fromSequenceNr < 1) {
          invalid(id, 'must be an integer from 1 to 2^53-1', ['fromSequenceNr']);
        }
        if (events !== true) invalid(id, 'only with events: true', ['fromSequenceNr']);
      }
      return frame as RequestFrame;
    }
    case 'unsubscribe':
      for (const key in f) {
        if (key !== 'kind' && key !== 'id' && key !== 'subscription') invalid(id, 'unknown field', [key]);
      }
      if (!isRequestId(f.subscription)) invalid(id, 'must be the id of a subscribe request', ['subscription']);
      return frame as RequestFrame;
    case 'ping':
      for (const key in f) {
        if (key !== 'kind' && key !== 'id') invalid(id, 'unknown field', [key]);
      }
      return frame as RequestFrame;
    default:
      return invalid(id, kind === undefined ? 'required' : "must be 'command', 'subscribe', 'unsubscribe' or 'ping'", ['kind']);
  }
}

function checkEntity(id: RequestId | null, entity: unknown): void {
  if (typeof entity !== 'object' || entity === null || Array.isArray(entity) || ArrayBuffer.isView(entity)) {
    invalid(id, entity === undefined ? 'required' : 'must be an object { type, id }', ['entity']);
  }
  const e = entity as Record<string, unknown>;
  for (const key in e) {
    if (key !== 'type' && key !== 'id') invalid(id, 'unknown field', ['entity', key]);
  }
  if (typeof e.type !== 'string' || e.type.length < 1 || e.type.length > MAX_TYPE_LENGTH) {
    invalid(id, e.type === undefined ? 'required' : `must be a string of 1-${MAX_TYPE_LENGTH} characters`, ['entity', 'type']);
  }
  // Only the type is checked here: the entity layer owns the id rule (INVALID_ENTITY_ID).
  if (typeof e.id !== 'string') invalid(id, e.id === undefined ? 'required' : 'must be a string', ['entity', 'id']);
}

function checkString(id: RequestId | null, value: unknown, maxLength: number, field: string): void {
  if (typeof value !== 'string' || value.length > maxLength) invalid(id, `must be a string of at most ${maxLength} characters`, [field]);
}

function checkName(id: RequestId | null, value: unknown, maxLength: number, field: string): void {
  if (typeof value !== 'string' || value.length < 1 || value.length > maxLength) {
    invalid(id, value === undefined ? 'required' : `must be a string of 1-${maxLength} characters`, [field]);
  }
}
