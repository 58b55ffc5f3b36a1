/**
 * The `beamstate.v1` request frames as zod schemas: the executable form of `docs/protocol.md`.
 * The gateway validates with the hand-written `parseRequest` (same rules, no allocation, checked
 * against these schemas by a property test); these are exported for clients and tools that want
 * to validate frames themselves.
 *
 * Policy on unknown fields: refused (`strictObject`). A field added later comes with a new
 * subprotocol version, so a v1 server never silently ignores what a newer client meant.
 */
import { z } from 'zod';
import { MAX_COMMAND_LENGTH, MAX_ID_LENGTH, MAX_TYPE_LENGTH } from './protocol.js';
import { MAX_TRACEPARENT_LENGTH, MAX_TRACESTATE_LENGTH } from '../tracing/traceparent.js';

const requestId = z.union([z.string().min(1).max(MAX_ID_LENGTH), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]);

const entityAddress = z.strictObject({
  type: z.string().min(1).max(MAX_TYPE_LENGTH),
  // The entity layer owns the id rule (1–512 UTF-16 code units, no NUL, no lone surrogate:
  // INVALID_ENTITY_ID), so a client hears one error code for every bad id.
  id: z.string(),
});

const commandFrame = z.strictObject({
  kind: z.literal('command'),
  id: requestId,
  entity: entityAddress,
  command: z.string().min(1).max(MAX_COMMAND_LENGTH),
  input: z.unknown().optional(),
  tell: z.boolean().optional(),
  traceparent: z.string().max(MAX_TRACEPARENT_LENGTH).optional(),
  tracestate: z.string().max(MAX_TRACESTATE_LENGTH).optional(),
});

const subscribeFrame = z
  .strictObject({
    kind: z.literal('subscribe'),
    id: requestId,
    entity: entityAddress,
    events: z.boolean().optional(),
    state: z.boolean().optional(),
    fromSequenceNr: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .refine((f) => f.events === true || f.state === true, { message: 'subscribe to events, state, or both' })
  .refine((f) => f.fromSequenceNr === undefined || f.events === true, { message: 'only with events: true', path: ['fromSequenceNr'] });

const unsubscribeFrame = z.strictObject({ kind: z.literal('unsubscribe'), id: requestId, subscription: requestId });

const pingFrame = z.strictObject({ kind: z.literal('ping'), id: requestId });

/** Zod schemas of every request frame, and of a request id. */
export const requestFrameSchemas = {
  requestId,
  entityAddress,
  command: commandFrame,
  subscribe: subscribeFrame,
  unsubscribe: unsubscribeFrame,
  ping: pingFrame,
  /** Any request frame. */
  request: z.union([commandFrame, subscribeFrame, unsubscribeFrame, pingFrame]),
} as const;
