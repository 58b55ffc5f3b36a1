import * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../actors/clock.js';
import { MessageTooLargeError, ProxyProtocolError, UserFunctionFailedError, UserFunctionTimeoutError, UserFunctionUnavailableError } from './errors.js';
import { type AnyMessage, codecOf } from './protocol.js';
import type { KalixValueState } from './value-entity-state.js';

const HANDLE = '/kalix.component.valueentity.ValueEntities/Handle';

/** What the user function answered to one command (ValueEntityReply, as plain data). */
export interface ValueEntityReply {
  readonly commandId: number;
  readonly clientAction?: {
    readonly reply?: { readonly payload?: AnyMessage };
    readonly forward?: { readonly serviceName?: string; readonly commandName?: string; readonly payload?: AnyMessage };
    readonly failure?: { readonly description?: string; readonly grpcStatusCode?: number };
  };
  readonly sideEffects?: readonly { readonly serviceName?: string; readonly commandName?: string; readonly payload?: AnyMessage; readonly synchronous?: boolean }[];
  readonly stateAction?: {
    readonly update?: { readonly value?: AnyMessage };
    readonly delete?: object;
  };
}

interface StreamOut {
  readonly reply?: ValueEntityReply;
  readonly failure?: { readonly commandId?: number; readonly description?: string; readonly grpcStatusCode?: number };
}

interface Pending {
  readonly id: number;
  readonly name: string;
  readonly resolve: (reply: ValueEntityReply) => void;
  readonly reject: (err: Error) => void;
  readonly timer: TimerHandle;
}

let streamIn: ReturnType<typeof codecOf> | undefined;
let streamOut: ReturnType<typeof codecOf> | undefined;

/**
 * One `ValueEntities/Handle` stream: the live session of one active value entity with the user
 * function. Opened with `init` (the stored state, if any); then one command at a time (the
 * entity's single writer sends the next only after this one's reply). A breach of the protocol,
 * a stream error, a stream-level failure or a command with no answer within the timeout ends
 * the stream, rejecting the command in flight: PROXY_PROTOCOL_ERROR, USER_FUNCTION_TIMEOUT and
 * MESSAGE_TOO_LARGE fail the command at once, a broken stream (USER_FUNCTION_UNAVAILABLE) or a
 * stream-level failure (USER_FUNCTION_FAILED) crashes the entity (value-entity.ts); either way the
 * next command opens a new stream from the durable-state store.
 */
export class ValueEntityStream {
  private readonly call: grpc.ClientDuplexStream<object, StreamOut>;
  private nextId = 1;
  private pending: Pending | null = null;
  private ended: Error | null = null;
  /** The entity state (object identity) the user function's memory matches; see value-entity.ts. */
  syncedTo: KalixValueState | null;

  constructor(
    client: grpc.Client,
    serviceName: string,
    readonly entityId: string,
    state: KalixValueState,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly maxMessageBytes: number,
  ) {
    streamIn ??= codecOf('kalix.component.valueentity.ValueEntityStreamIn');
    streamOut ??= codecOf('kalix.component.valueentity.ValueEntityStreamOut');
    this.call = client.makeBidiStreamRequest(HANDLE, streamIn.serialize, streamOut.deserialize as (b: Buffer) => StreamOut);
    this.call.on('data', (msg: StreamOut) => this.onData(msg));
    this.call.on('error', (err: grpc.ServiceError) =>
      this.end(
        err.code === grpc.status.RESOURCE_EXHAUSTED
          ? new MessageTooLargeError(`the user function's answer on ${serviceName}/${JSON.stringify(entityId)} is over the ${this.maxMessageBytes}-byte message limit: ${err.details}`, this.maxMessageBytes, { cause: err })
          : new UserFunctionUnavailableError(`the user function's stream for ${serviceName}/${entityId} failed: ${err.message}`, { cause: err }),
      ),
    );
    this.call.on('end', () => this.end(new UserFunctionUnavailableError(`the user function ended the stream for ${serviceName}/${entityId}`)));
    this.syncedTo = state;
    // No stored state: no `state` at all, so that the user function starts from its initial state.
    this.call.write({ init: { serviceName, entityId, ...(state.value === null ? {} : { state: { value: state.value } }) } });
  }

  /** The stream can take commands. */
  get open(): boolean {
    return this.ended === null;
  }

  /** Sends one command; resolves with its reply, rejects if the stream ends first or the reply does not come in time. */
  command(name: string, payload: AnyMessage): Promise<ValueEntityReply> {
    if (this.ended !== null) return Promise.reject(this.ended);
    if (this.pending !== null) return Promise.reject(new TypeError('ValueEntityStream: one command at a time'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => this.end(new UserFunctionTimeoutError(`the user function did not answer ${name} for ${JSON.stringify(this.entityId)} within ${this.timeoutMs} ms; its stream was ended`)),
        this.timeoutMs,
      );
      this.pending = { id, name, resolve, reject, timer };
      this.call.write({ command: { entityId: this.entityId, id, name, payload } });
    });
  }

  /** Ends the stream (half-closes it; the user function ends its side). */
  close(): void {
    if (this.ended !== null) return;
    this.end(new UserFunctionUnavailableError('the stream was closed by the proxy'));
  }

  private onData(msg: StreamOut): void {
    const p = this.pending;
    if (msg.reply !== undefined) {
      if (p === null || msg.reply.commandId !== p.id) {
        this.end(new ProxyProtocolError(`the user function replied to command id ${msg.reply.commandId}, but ${p === null ? 'no command' : `command id ${p.id}`} was waiting`));
        return;
      }
      this.settle();
      p.resolve(msg.reply);
      return;
    }
    if (msg.failure !== undefined) {
      // A stream-level failure: the user function failed the entity (its handler threw, an unknown command).
      const f = msg.failure;
      const what = p !== null && f.commandId === p.id ? `${p.name} failed in the user function` : 'the user function failed the entity';
      this.end(new UserFunctionFailedError(`${what}: ${f.description ?? ''}`, f.grpcStatusCode ?? 2));
      return;
    }
    this.end(new ProxyProtocolError('the user function sent an empty ValueEntityStreamOut'));
  }

  private settle(): void {
    if (this.pending !== null) this.clock.clearTimeout(this.pending.timer);
    this.pending = null;
  }

  private end(reason: Error): void {
    if (this.ended !== null) return;
    this.ended = reason;
    const p = this.pending;
    this.settle();
    try {
      this.call.end();
      this.call.cancel();
    } catch {
      // already closed
    }
    p?.reject(reason);
  }
}
