import type protobuf from 'protobufjs';
import type { EntityRefs, HandlerContext } from '../entities/definition.js';
import type { BaseEffects, EffectBuilder, HandlerResult } from '../entities/effect.js';
import type { EntityRef } from '../entities/entity-ref.js';
import type { MethodModel, ServiceModel } from './descriptors.js';
import { entityKeyFields, type KeyExtractor, keyExtractor } from './entity-key.js';
import type { AnyMessage } from './protocol.js';
import { anyToJson } from './transcode.js';

/** A forward or side effect as the user function names it (Kalix `Forward` / `SideEffect`). */
export interface ComponentCall {
  readonly serviceName?: string;
  readonly commandName?: string;
  readonly payload?: AnyMessage;
}

/** Where a component call goes in beamstate: the entity (or action pool), its command, the input as the gateway's JSON. */
export interface EffectTarget {
  readonly ref: EntityRef;
  readonly command: string;
  readonly input: unknown;
}

/** Resolves forwards and side effects to beamstate refs. */
export interface EffectRouter {
  /** The target of `call`, or a sentence saying why the proxy cannot make it. */
  route(entities: EntityRefs, call: ComponentCall): EffectTarget | string;
}

/** A component of the user function as a target of forwards and side effects. */
export interface RoutableComponent {
  readonly kind: 'entity' | 'action';
  /** The beamstate entity type serving it. */
  readonly entityType: string;
  readonly service: ServiceModel;
}

/**
 * The router over the user function's components. An action is called on its pool (its id does
 * not matter); an entity by its input message's `(kalix.field).entity_key` fields, as the Kalix
 * proxy routes gRPC calls. `entityIdOf` reads them (undefined when the message has none: such a
 * call is refused, never sent to a guessed entity).
 */
export function effectRouter(
  root: protobuf.Root,
  components: ReadonlyMap<string, RoutableComponent>,
  entityIdOf: (type: protobuf.Type, message: protobuf.Message) => string | undefined,
): EffectRouter {
  return {
    route(entities, call) {
      const serviceName = call.serviceName ?? '';
      const target = components.get(serviceName);
      if (target === undefined) return `to ${serviceName}, which is not a component the proxy serves`;
      const method = target.service.methods.get(call.commandName ?? '');
      if (method === undefined || method.streamed) return `to ${serviceName}/${call.commandName ?? ''}, which is not a unary method of it`;
      // The target's commands take the gateway's JSON; a payload of an unknown type is PROXY_PROTOCOL_ERROR (thrown).
      const input = anyToJson(root, call.payload, method.input);
      if (target.kind === 'action') return { ref: entities.refFor(target.entityType, '0'), command: method.name, input };
      const entityId = entityIdOf(method.input, method.input.decode(call.payload?.value ?? new Uint8Array()));
      if (entityId === undefined) return `to ${serviceName}/${method.name}, whose input ${method.input.fullName.slice(1)} has no (kalix.field).entity_key field`;
      if (entityId === '') return `to ${serviceName}/${method.name} with an empty entity key`;
      return { ref: entities.refFor(target.entityType, entityId), command: method.name, input };
    },
  };
}

/** Reads a message's entity id from its `(kalix.field).entity_key` fields (entity-key.ts, as the gRPC front does); undefined when it has none. */
export function entityIdReader(descriptorSet: Uint8Array): (type: protobuf.Type, message: protobuf.Message) => string | undefined {
  const keys = entityKeyFields(descriptorSet);
  const extractors = new Map<protobuf.Type, KeyExtractor | null>();
  return (type, message) => {
    let x = extractors.get(type);
    if (x === undefined) {
      const fields = keys.get(type.fullName.slice(1));
      extractors.set(type, (x = fields === undefined ? null : keyExtractor(type, fields)));
    }
    return x === null ? undefined : x(message);
  };
}

/**
 * The effect for a user function's successful reply: `write` (what it persists), then its side
 * effects (each told to its target once the write has committed: Kalix's `synchronous` flag is
 * not honoured, the reply does not wait for them), then its forward or its reply. Returns a
 * sentence instead when a forward or side effect cannot be made: nothing is written then. The
 * reply is decoded before anything is written, so that a malformed one persists nothing.
 */
export function withEffects<State>(
  router: EffectRouter,
  ctx: BaseEffects<State> & HandlerContext,
  method: MethodModel,
  sideEffects: readonly ComponentCall[] | undefined,
  forward: ComponentCall | undefined,
  replyJson: () => unknown,
  write: () => EffectBuilder<State, undefined>,
): HandlerResult<State, unknown> | string {
  const told: EffectTarget[] = [];
  for (const call of sideEffects ?? []) {
    const t = router.route(ctx.entities, call);
    if (typeof t === 'string') return `UNSUPPORTED_EFFECT: ${method.name} replied with a side effect ${t}; nothing was persisted`;
    told.push(t);
  }
  let to: EffectTarget | undefined;
  if (forward !== undefined) {
    const t = router.route(ctx.entities, forward);
    if (typeof t === 'string') return `UNSUPPORTED_EFFECT: ${method.name} replied with a forward ${t}; nothing was persisted`;
    to = t;
  }
  const json = to === undefined ? replyJson() : undefined;
  let effect = write();
  for (const t of told) effect = effect.thenRun(() => t.ref.tell(t.command, t.input));
  return to === undefined ? effect.reply(json) : effect.thenForward(to.ref, to.command, to.input);
}
