import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { ActorSystem } from '../actors/system.js';
import { isBeamstateError } from '../errors.js';
import { type EntitySettings, type ValueContext, type ValueEntity, valueEntity } from '../entities/definition.js';
import { type EffectBuilder, failureWith, type HandlerResult } from '../entities/effect.js';
import type { CommandSpecs } from '../entities/entity-ref.js';
import { type EffectRouter, withEffects } from './action-effects.js';
import type { MethodModel, ServiceModel } from './descriptors.js';
import { MessageTooLargeError, ProxyProtocolError } from './errors.js';
import { normalizeAny } from './protocol.js';
import { EntityStreams } from './entity-streams.js';
import { anyToJson, messageSchema, toAny } from './transcode.js';
import { emptyValueState, type KalixValueState } from './value-entity-state.js';
import { ValueEntityStream } from './value-entity-stream.js';

export interface ValueEntityComponentOptions {
  readonly client: grpc.Client;
  readonly system: ActorSystem;
  readonly root: protobuf.Root;
  readonly service: ServiceModel;
  /** The beamstate entity type name: the Kalix entity type. */
  readonly entityType: string;
  readonly commandTimeoutMs: number;
  /** Largest command payload sent to the user function (the channel's limit); bigger is MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes: number;
  readonly settings: EntitySettings;
  /** Where forwards and side effects go. */
  readonly effects: EffectRouter;
}

/** A Kalix value entity as a beamstate value entity type, and the streams of its active entities. */
export interface ValueEntityComponent {
  readonly definition: ValueEntity<KalixValueState, CommandSpecs>;
  /** Streams open to the user function now (one per active entity that has handled a command). */
  readonly openStreams: () => number;
  /** Streams opened since start (each `init` sent). */
  readonly streamsOpened: () => number;
  readonly close: () => void;
}

/**
 * The stream's errors that fail the command at once, without crashing the entity, as for
 * event-sourced entities (event-sourced.ts): retrying would meet the same fault, the stored state
 * is intact and the stream is already ended.
 */
const FAILS_AT_ONCE = new Set(['PROXY_PROTOCOL_ERROR', 'USER_FUNCTION_TIMEOUT', 'MESSAGE_TOO_LARGE']);

/**
 * Maps one Kalix value entity onto a beamstate value entity type, so that it gets everything an
 * in-process value entity has: activation by (type, id), passivation, supervision, the single
 * writer, the durable-state store (compare-and-set on the revision), the gateway.
 *
 * The beamstate entity's state is the user function's state as an opaque `Any`
 * (value-entity-state.ts). Each command is an async handler (handled alone, on committed state)
 * that sends the command on the entity's stream and turns the reply into effects: an `update`
 * or `delete` state action is written before the reply is released; a failure writes nothing.
 *
 * As for event-sourced entities (event-sourced.ts), a stream is trusted only while the user
 * function's memory matches the committed state, tracked by object identity (`syncedTo`). A
 * failed command also drops the stream: the SDK keeps an `updateState` made before a
 * `replies.failure(…)` in its memory although the proxy persists nothing (its failure reply
 * carries no state action), so the next command re-inits from the store instead.
 */
export function valueEntityComponent(o: ValueEntityComponentOptions): ValueEntityComponent {
  const streams = new EntityStreams<KalixValueState, ValueEntityStream>(o.system, o.entityType);
  const acquire = (entityId: string, state: KalixValueState): ValueEntityStream => streams.acquire(entityId, state, () => new ValueEntityStream(o.client, o.service.name, entityId, state, o.system.clock, o.commandTimeoutMs, o.maxMessageBytes));

  const handlerFor =
    (method: MethodModel) =>
    async (state: KalixValueState, input: Uint8Array, ctx: ValueContext<KalixValueState>): Promise<HandlerResult<KalixValueState, unknown>> => {
      if (input.length > o.maxMessageBytes) {
        // Refused before it is sent: on the wire the user function would end the whole stream.
        return failureWith(new MessageTooLargeError(`${o.entityType}.${method.name}: the command is ${input.length} bytes, over the ${o.maxMessageBytes}-byte message limit; it was not sent`, o.maxMessageBytes));
      }
      const stream = acquire(ctx.entityId, state);
      let reply;
      try {
        reply = await stream.command(method.name, toAny(method.input, input));
      } catch (err) {
        if (isBeamstateError(err) && FAILS_AT_ONCE.has(err.code)) return failureWith(err);
        // Let it crash: the supervisor restarts the entity from the store and the command is
        // tried again, up to maxCommandAttempts (then POISON_COMMAND).
        throw err;
      }
      try {
        const action = reply.clientAction ?? {};
        if (action.failure !== undefined) {
          stream.close(); // see above: the user function's memory may hold an update that is not persisted
          return ctx.fail(action.failure.description ?? '', { grpcStatusCode: action.failure.grpcStatusCode ?? 0 });
        }
        const update = reply.stateAction?.update;
        const remove = reply.stateAction?.delete !== undefined;
        const next = update === undefined ? undefined : normalizeAny(update.value ?? {});
        // A state without a type URL could never be read back by the user function (its next init).
        if (next !== undefined && next.typeUrl === '') throw new ProxyProtocolError(`the user function updated ${o.entityType}/${JSON.stringify(ctx.entityId)} with a state without a type URL; nothing was written`);
        const write = (): EffectBuilder<KalixValueState, undefined> => {
          if (next === undefined && !remove) return ctx.none();
          stream.syncedTo = null; // until the write commits
          const effect = next !== undefined ? ctx.update({ value: next }) : ctx.delete();
          return effect.thenRun((after) => {
            stream.syncedTo = after;
          });
        };
        const result = withEffects(o.effects, ctx, method, reply.sideEffects, action.forward, () => anyToJson(o.root, action.reply?.payload, method.output), write);
        if (typeof result === 'string') {
          stream.close(); // it may have applied a state change that is not persisted
          return ctx.fail(result, { code: 'UNSUPPORTED_EFFECT' });
        }
        return result;
      } catch (err) {
        // A reply that cannot be carried out (an Any of unknown type, bytes that do not decode):
        // nothing was written; the user function's memory may hold its update, so its stream goes.
        stream.close();
        if (isBeamstateError(err) && FAILS_AT_ONCE.has(err.code)) return failureWith(err);
        throw err;
      }
    };

  let definition = valueEntity(o.entityType).initialState(emptyValueState) as ValueEntity<KalixValueState, CommandSpecs>;
  for (const method of o.service.methods.values()) {
    if (method.streamed) continue; // an entity's methods are unary in Kalix
    definition = definition.command(method.name, messageSchema(method.input), handlerFor(method)) as ValueEntity<KalixValueState, CommandSpecs>;
  }
  definition = definition.withSettings(o.settings);

  return {
    definition,
    openStreams: () => streams.openCount(),
    streamsOpened: () => streams.opened,
    close: () => streams.close(),
  };
}
