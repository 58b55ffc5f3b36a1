import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { ActorSystem } from '../actors/system.js';
import { type EntitySettings, type StatelessContext, type StatelessFunction, statelessFunction } from '../entities/definition.js';
import { failureWith, type HandlerResult } from '../entities/effect.js';
import { isBeamstateError } from '../errors.js';
import type { CommandSpecs } from '../entities/entity-ref.js';
import { type ComponentCall, type EffectRouter, withEffects } from './action-effects.js';
import type { MethodModel, ServiceModel } from './descriptors.js';
import { MessageTooLargeError, UserFunctionTimeoutError, UserFunctionUnavailableError } from './errors.js';
import { type AnyMessage, codecOf } from './protocol.js';
import { anyToJson, messageSchema, toAny } from './transcode.js';

const HANDLE_UNARY = '/kalix.component.action.Actions/HandleUnary';

/** What the user function answered to one action call (ActionResponse, as plain data). */
export interface ActionResponse {
  readonly failure?: { readonly description?: string; readonly grpcStatusCode?: number };
  readonly reply?: { readonly payload?: AnyMessage };
  readonly forward?: ComponentCall;
  readonly sideEffects?: readonly ComponentCall[];
}

export interface ActionComponentOptions {
  readonly client: grpc.Client;
  readonly system: ActorSystem;
  readonly root: protobuf.Root;
  readonly service: ServiceModel;
  /** The beamstate type name: the action's service name. */
  readonly entityType: string;
  readonly commandTimeoutMs: number;
  /** Largest command payload sent to the user function (the channel's limit); bigger is MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes: number;
  readonly settings: EntitySettings;
  readonly effects: EffectRouter;
}

/** A Kalix action as a beamstate stateless function. */
export interface ActionComponent {
  readonly definition: StatelessFunction<CommandSpecs>;
  /** Calls in flight to the user function now. */
  readonly callsInFlight: () => number;
  /** Calls made since start. */
  readonly callsMade: () => number;
  /** Actions hold no streams (for the proxy's stream counts): always 0. */
  readonly openStreams: () => number;
  readonly streamsOpened: () => number;
  readonly close: () => void;
}

/**
 * Actions are stateless: Kalix calls `Actions/HandleUnary` once per command, and so does the
 * proxy, from a beamstate stateless function (a pool of `poolSize` workers, each handling one
 * call at a time: the pool bounds the calls in flight to the user function). Nothing is persisted.
 *
 * A call that fails between the proxy and the user function fails the command at once with its
 * code, and is not retried: an action is not idempotent in general, Kalix does not retry one, and
 * a stateless worker has nothing to recover by crashing. USER_FUNCTION_UNAVAILABLE (unreachable,
 * or the call broke), USER_FUNCTION_TIMEOUT (no answer within `commandTimeoutMs` on the system
 * clock; the call is cancelled), MESSAGE_TOO_LARGE (a command or answer over `maxMessageBytes`),
 * PROXY_PROTOCOL_ERROR (an answer that cannot be decoded).
 *
 * Streamed methods (`HandleStreamedIn/Out`, `HandleStreamed`) are not served over the gateway,
 * whose commands have one reply: such a command fails with UNSUPPORTED_CALL (in `details.code`).
 */
export function actionComponent(o: ActionComponentOptions): ActionComponent {
  const command = codecOf('kalix.component.action.ActionCommand');
  const response = codecOf('kalix.component.action.ActionResponse');
  const calls = new Set<grpc.ClientUnaryCall>();
  let made = 0;

  const call = (method: MethodModel, payload: AnyMessage): Promise<ActionResponse> =>
    new Promise((resolve, reject) => {
      made++;
      let settled = false;
      const timer = o.system.clock.setTimeout(() => {
        settled = true;
        calls.delete(c);
        c.cancel();
        reject(new UserFunctionTimeoutError(`the user function did not answer ${o.service.name}/${method.name} within ${o.commandTimeoutMs} ms; the call was cancelled`));
      }, o.commandTimeoutMs);
      const c = o.client.makeUnaryRequest(
        HANDLE_UNARY,
        command.serialize,
        response.deserialize as (b: Buffer) => ActionResponse,
        { serviceName: o.service.name, name: method.name, payload },
        (err, value) => {
          if (settled) return;
          settled = true;
          calls.delete(c);
          o.system.clock.clearTimeout(timer);
          if (err === null) resolve(value ?? {});
          else if (err.code === grpc.status.RESOURCE_EXHAUSTED) reject(new MessageTooLargeError(`the user function's answer to ${o.service.name}/${method.name} is over the ${o.maxMessageBytes}-byte message limit: ${err.details}`, o.maxMessageBytes, { cause: err }));
          else reject(new UserFunctionUnavailableError(`the user function's ${o.service.name}/${method.name} call failed: ${err.message}`, { cause: err }));
        },
      );
      calls.add(c);
    });

  const handlerFor =
    (method: MethodModel) =>
    async (input: Uint8Array, ctx: StatelessContext): Promise<HandlerResult<undefined, unknown>> => {
      if (input.length > o.maxMessageBytes) {
        return failureWith(new MessageTooLargeError(`${o.entityType}.${method.name}: the command is ${input.length} bytes, over the ${o.maxMessageBytes}-byte message limit; it was not sent`, o.maxMessageBytes));
      }
      let res: ActionResponse;
      try {
        res = await call(method, toAny(method.input, input));
      } catch (err) {
        if (isBeamstateError(err)) return failureWith(err);
        throw err;
      }
      if (res.failure !== undefined) return ctx.fail(res.failure.description ?? '', { grpcStatusCode: res.failure.grpcStatusCode ?? 0 });
      try {
        const result = withEffects(o.effects, ctx, method, res.sideEffects, res.forward, () => anyToJson(o.root, res.reply?.payload, method.output), () => ctx.none());
        return typeof result === 'string' ? ctx.fail(result, { code: 'UNSUPPORTED_EFFECT' }) : result;
      } catch (err) {
        if (isBeamstateError(err)) return failureWith(err); // PROXY_PROTOCOL_ERROR: an answer that cannot be decoded
        throw err;
      }
    };

  const streamed =
    (method: MethodModel) =>
    (_input: Uint8Array, ctx: StatelessContext): HandlerResult<undefined, unknown> =>
      ctx.fail(`UNSUPPORTED_CALL: ${o.service.name}/${method.name} streams, and the beamstate proxy serves only unary action calls through the gateway`, { code: 'UNSUPPORTED_CALL' });

  let definition = statelessFunction(o.entityType) as StatelessFunction<CommandSpecs>;
  for (const method of o.service.methods.values()) {
    definition = definition.command(method.name, messageSchema(method.input), method.streamed ? streamed(method) : handlerFor(method)) as StatelessFunction<CommandSpecs>;
  }
  definition = definition.withSettings(o.settings);

  return {
    definition,
    callsInFlight: () => calls.size,
    callsMade: () => made,
    openStreams: () => 0,
    streamsOpened: () => 0,
    close: () => {
      for (const c of calls) c.cancel();
      calls.clear();
    },
  };
}
