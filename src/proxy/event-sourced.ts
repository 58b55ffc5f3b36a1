import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { ActorSystem } from '../actors/system.js';
import { type EntitySettings, type EventSourcedContext, type EventSourcedEntity, eventSourcedEntity } from '../entities/definition.js';
import type { HandlerResult } from '../entities/effect.js';
import type { CommandSpecs } from '../entities/entity-ref.js';
import type { MethodModel, ServiceModel } from './descriptors.js';
import { EntityStream } from './entity-stream.js';
import { emptyState, journalEventsOf, type KalixJournalEvent, type KalixState, kalixEventHandlers } from './journal-state.js';
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
 * Maps one Kalix event-sourced entity onto a beamstate event-sourced entity type, so that it gets
 * everything an in-process entity has: activation by (type, id), passivation, supervision, the
 * single writer, group commit, the gateway.
 *
 * The beamstate entity's state is its Kalix journal (latest snapshot + events after it, see
 * journal-state.ts); the user function holds the real state in its stream. Each command is an
 * async handler (handled alone, on committed state) that sends the command on the entity's
 * stream and turns the reply into effects: events and snapshot in one `emit` (one atomic append),
 * the reply only after it commits; a failure persists nothing.
 *
 * The stream is valid while the user function's memory matches the committed state. That is
 * tracked by object identity: a stream records the state object it is in step with (`syncedTo`),
 * updated after each commit. A new incarnation (after a crash or passivation) recovers a new state
 * object, and a reply whose write did not commit leaves `syncedTo` cleared: either way the next
 * command opens a fresh stream from the journal instead of trusting a user function that may
 * have applied events the journal does not have.
 */
export function eventSourcedComponent(o: EventSourcedComponentOptions): EventSourcedComponent {
  const streams = new Map<string, EntityStream>();
  let opened = 0;

  const acquire = (entityId: string, state: KalixState): EntityStream => {
    const current = streams.get(entityId);
    if (current !== undefined && current.open && current.syncedTo === state) return current;
    current?.close();
    const fresh = new EntityStream(o.client, o.service.name, entityId, state, o.system.clock, o.commandTimeoutMs);
    opened++;
    streams.set(entityId, fresh);
    return fresh;
  };

  const handlerFor =
    (method: MethodModel) =>
    async (state: KalixState, input: Uint8Array, ctx: EventSourcedContext<KalixState, KalixJournalEvent>): Promise<HandlerResult<KalixState, unknown>> => {
      const stream = acquire(ctx.entityId, state);
      // A throw from here on crashes the entity (let it crash): the supervisor restarts it from the
      // journal and the command is tried again, up to maxCommandAttempts (then POISON_COMMAND).
      const reply = await stream.command(method.name, toAny(method.input, input));
      try {
        const action = reply.clientAction ?? {};
        if (action.failure !== undefined) {
          // The SDK applies no events for a failed command: the stream stays in step.
          return ctx.fail(action.failure.description ?? '', { grpcStatusCode: action.failure.grpcStatusCode ?? 0 });
        }
        const unsupported = action.forward !== undefined ? 'a forward' : (reply.sideEffects?.length ?? 0) > 0 ? 'side effects' : (reply as { delete?: unknown }).delete ? 'a delete' : undefined;
        if (unsupported !== undefined) {
          stream.close(); // it may have applied events that are not persisted
          return ctx.fail(`UNSUPPORTED_EFFECT: ${method.name} replied with ${unsupported}, which the beamstate proxy does not support yet; nothing was persisted`, { code: 'UNSUPPORTED_EFFECT' });
        }
        const json = anyToJson(o.root, action.reply?.payload, method.output);
        const events = journalEventsOf(state, reply.events ?? [], reply.snapshot);
        if (events.length === 0) return ctx.reply(json);
        stream.syncedTo = null; // until the write commits
        return ctx.emit(...events).thenReply((after) => {
          stream.syncedTo = after;
          return json;
        });
      } catch (err) {
        stream.close();
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

  // A passivated entity's stream is closed; its next incarnation opens a new one.
  const unsubscribe = o.system.events.subscribe(
    (event) => {
      if (event.type !== 'entity.passivated' || event.entityType !== o.entityType) return;
      streams.get(event.entityId)?.close();
      streams.delete(event.entityId);
    },
    ['entity.passivated'],
  );

  return {
    definition,
    openStreams: () => [...streams.values()].filter((s) => s.open).length,
    streamsOpened: () => opened,
    close: () => {
      unsubscribe();
      for (const s of streams.values()) s.close();
      streams.clear();
    },
  };
}
