import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { ActorSystem } from '../actors/system.js';
import { isBeamstateError } from '../errors.js';
import { type EntitySettings, type EventSourcedContext, type EventSourcedEntity, eventSourcedEntity } from '../entities/definition.js';
import { type EffectBuilder, failureWith, type HandlerResult } from '../entities/effect.js';
import type { CommandSpecs } from '../entities/entity-ref.js';
import { type EffectRouter, withEffects } from './action-effects.js';
import type { MethodModel, ServiceModel } from './descriptors.js';
import { EntityStream } from './entity-stream.js';
import { MessageTooLargeError } from './errors.js';
import { emptyState, journalEventsOf, type KalixJournalEvent, type KalixState, kalixEventHandlers } from './journal-state.js';
import type { AnyMessage } from './protocol.js';
import { EntityStreams } from './entity-streams.js';
import { anyToJson, messageSchema, toAny } from './transcode.js';

export interface EventSourcedComponentOptions {
  readonly client: grpc.Client;
  readonly system: ActorSystem;
  readonly root: protobuf.Root;
  readonly service: ServiceModel;
  /** The beamstate entity type name: the Kalix entity type. */
  readonly entityType: string;
  readonly commandTimeoutMs: number;
  readonly settings: EntitySettings;
  /** Where forwards and side effects go (the proxy's components); without it both are UNSUPPORTED_EFFECT. */
  readonly effects?: EffectRouter | undefined;
  /** Largest command payload sent to the user function (the channel's limit); bigger is MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes: number;
  /**
   * Ask the user function for a snapshot (`snapshot_request`) before a command once this many
   * events follow the latest snapshot; 0: never (only the snapshots it sends with its replies).
   */
  readonly snapshotRequestEvery: number;
}

/** A Kalix event-sourced entity as a beamstate entity type, and the streams of its active entities. */
export interface EventSourcedComponent {
  readonly definition: EventSourcedEntity<KalixState, KalixJournalEvent, CommandSpecs>;
  /** Streams open to the user function now (one per active entity that has handled a command). */
  readonly openStreams: () => number;
  /** Streams opened since start (each `init` sent). */
  readonly streamsOpened: () => number;
  readonly close: () => void;
}

/**
 * The stream's errors that fail the command at once, without crashing the entity: the user
 * function broke the protocol, was too slow, or a message was over the limit. Retrying would
 * meet the same fault (or wait the same timeout again), and the entity's state (its journal) is
 * intact: the stream is already ended, so the next command starts a fresh one from the journal.
 * A stream that broke (USER_FUNCTION_UNAVAILABLE) or a handler that threw in the user function
 * (USER_FUNCTION_FAILED) crashes the entity instead, and the command is tried again after the
 * restart, as an in-process entity's would be.
 */
const FAILS_AT_ONCE = new Set(['PROXY_PROTOCOL_ERROR', 'USER_FUNCTION_TIMEOUT', 'MESSAGE_TOO_LARGE']);

/** A `google.protobuf.Duration` in ms. */
const durationMs = (d: { readonly seconds?: number; readonly nanos?: number }): number => (d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);

/**
 * Maps one Kalix event-sourced entity onto a beamstate event-sourced entity type, so that it gets
 * everything an in-process entity has: activation by (type, id), passivation, supervision, the
 * single writer, group commit, the gateway.
 *
 * The beamstate entity's state is its Kalix journal (latest snapshot + events after it, see
 * journal-state.ts); the user function holds the real state in its stream. Each command is an
 * async handler (handled alone, on committed state) that sends the command on the entity's
 * stream and turns the reply into effects: a requested snapshot, the events, the reply's snapshot
 * and a deletion marker in one `emit` (one atomic append); side effects told and the reply (or
 * forward) only after it commits; a failure persists nothing.
 *
 * The stream is valid while the user function's memory matches the committed state. That is
 * tracked by object identity: a stream records the state object it is in step with (`syncedTo`),
 * updated after each commit. A new incarnation (after a crash or passivation) recovers a new state
 * object, and a reply whose write did not commit leaves `syncedTo` cleared: either way the next
 * command opens a fresh stream from the journal instead of trusting a user function that may
 * have applied events the journal does not have.
 */
export function eventSourcedComponent(o: EventSourcedComponentOptions): EventSourcedComponent {
  const streams = new EntityStreams<KalixState, EntityStream>(o.system, o.entityType);
  const acquire = (entityId: string, state: KalixState): EntityStream =>
    streams.acquire(
      entityId,
      state,
      () =>
        new EntityStream({
          client: o.client,
          serviceName: o.service.name,
          entityId,
          state,
          clock: o.system.clock,
          timeoutMs: o.commandTimeoutMs,
          maxMessageBytes: o.maxMessageBytes,
        }),
    );

  const handlerFor =
    (method: MethodModel) =>
    async (state: KalixState, input: Uint8Array, ctx: EventSourcedContext<KalixState, KalixJournalEvent>): Promise<HandlerResult<KalixState, unknown>> => {
      if (input.length > o.maxMessageBytes) {
        // Refused before it is sent: on the wire the user function would end the whole stream.
        return failureWith(new MessageTooLargeError(`${o.entityType}.${method.name}: the command is ${input.length} bytes, over the ${o.maxMessageBytes}-byte message limit; it was not sent`, o.maxMessageBytes));
      }
      const stream = acquire(ctx.entityId, state);
      let requested: AnyMessage | undefined;
      let reply;
      try {
        // The snapshot is of the committed state (the stream is in step with it): it is written
        // at state.seq, in the same append as this command's events.
        if (o.snapshotRequestEvery > 0 && state.seq - state.snapshotSeq >= o.snapshotRequestEvery) requested = await stream.snapshot();
        reply = await stream.command(method.name, toAny(method.input, input));
      } catch (err) {
        if (isBeamstateError(err) && FAILS_AT_ONCE.has(err.code)) return failureWith(err);
        // Let it crash: the supervisor restarts the entity from the journal and the command is
        // tried again, up to maxCommandAttempts (then POISON_COMMAND).
        throw err;
      }
      try {
        const action = reply.clientAction ?? {};
        if (action.failure !== undefined) {
          // The SDK applies no events for a failed command: the stream stays in step.
          return ctx.fail(action.failure.description ?? '', { grpcStatusCode: action.failure.grpcStatusCode ?? 0 });
        }
        const events = journalEventsOf(state, reply.events ?? [], {
          snapshot: reply.snapshot ?? undefined,
          requested,
          deleted: reply.delete != null ? { retainMs: durationMs(reply.delete) } : undefined,
        });
        const write = (): EffectBuilder<KalixState, undefined> => {
          if (events.length === 0) return ctx.none();
          stream.syncedTo = null; // until the write commits
          return ctx.emit(...events).thenRun((after) => {
            // After a deletion the journal reads as a new entity, unlike the user function's memory.
            if (reply.delete != null) stream.close();
            else stream.syncedTo = after;
          });
        };
        const result =
          o.effects === undefined
            ? action.forward !== undefined || (reply.sideEffects?.length ?? 0) > 0
              ? `UNSUPPORTED_EFFECT: ${method.name} replied with a forward or side effects, which this proxy was set up without; nothing was persisted`
              : ((json: unknown) => write().reply(json))(anyToJson(o.root, action.reply?.payload, method.output))
            : withEffects(o.effects, ctx, method, reply.sideEffects, action.forward, () => anyToJson(o.root, action.reply?.payload, method.output), write);
        if (typeof result === 'string') {
          stream.close(); // it may have applied events that are not persisted
          return ctx.fail(result, { code: 'UNSUPPORTED_EFFECT' });
        }
        return result;
      } catch (err) {
        // A reply that cannot be carried out (an Any of unknown type, bytes that do not decode):
        // nothing was written; the user function's memory may hold the reply's events, so its
        // stream goes.
        stream.close();
        if (isBeamstateError(err) && FAILS_AT_ONCE.has(err.code)) return failureWith(err);
        throw err;
      }
    };

  let definition = eventSourcedEntity(o.entityType)
    .initialState(emptyState)
    .events<KalixJournalEvent>(kalixEventHandlers) as EventSourcedEntity<KalixState, KalixJournalEvent, CommandSpecs>;
  for (const method of o.service.methods.values()) {
    if (method.streamed) continue; // streamed calls are not served yet (docs/proxy.md)
    definition = definition.command(method.name, messageSchema(method.input), handlerFor(method)) as EventSourcedEntity<KalixState, KalixJournalEvent, CommandSpecs>;
  }
  definition = definition.withSettings(o.settings);

  return {
    definition,
    openStreams: () => streams.openCount(),
    streamsOpened: () => streams.opened,
    close: () => streams.close(),
  };
}
