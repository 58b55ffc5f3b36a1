import * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../actors/clock.js';
import { MessageTooLargeError, ProxyProtocolError, UserFunctionFailedError, UserFunctionTimeoutError, UserFunctionUnavailableError } from './errors.js';
import { type AnyMessage, codecOf } from './protocol.js';
import type { KalixState } from './journal-state.js';

const HANDLE = '/kalix.component.eventsourcedentity.EventSourcedEntities/Handle';

/** A forward or side effect as the user function names it (Kalix `Forward` / `SideEffect`). */
export interface ComponentCallOut {
  readonly serviceName?: string;
  readonly commandName?: string;
  readonly payload?: AnyMessage;
  readonly synchronous?: boolean;
}

/** What the user function answered to one command (EventSourcedReply, as plain data). */
export interface EventSourcedReply {
  readonly commandId: number;
  readonly clientAction?: {
    readonly reply?: { readonly payload?: AnyMessage };
    readonly forward?: ComponentCallOut;
    readonly failure?: { readonly description?: string; readonly grpcStatusCode?: number };
  };
  readonly sideEffects?: readonly ComponentCallOut[];
  readonly events?: readonly AnyMessage[];
  readonly snapshot?: AnyMessage;
  /** Present when the entity is to be deleted (a `google.protobuf.Duration`: how long Kalix keeps its journal for consumers). */
  readonly delete?: { readonly seconds?: number; readonly nanos?: number };
}

interface StreamOut {
  readonly reply?: EventSourcedReply;
  readonly failure?: { readonly commandId?: number; readonly description?: string; readonly grpcStatusCode?: number };
  readonly snapshotReply?: { readonly requestId?: number; readonly snapshot?: AnyMessage };
}

/** The one request the stream waits on: a command or a snapshot request. */
interface Pending {
  readonly kind: 'command' | 'snapshot';
  readonly id: number;
  readonly name: string;
  readonly resolve: (out: StreamOut) => void;
  readonly reject: (err: Error) => void;
  readonly timer: TimerHandle;
}

/** How a stream is opened. */
export interface EntityStreamOptions {
  readonly client: grpc.Client;
  readonly serviceName: string;
  readonly entityId: string;
  /** The committed journal the user function starts from (init + events). */
  readonly state: KalixState;
  /** The system's clock: the answer timeout runs on it (a ManualClock in tests). */
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** The channel's message limit, named in MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes: number;
}

let codecIn: ReturnType<typeof codecOf> | undefined;
let codecOut: ReturnType<typeof codecOf> | undefined;

/**
 * One `EventSourcedEntities/Handle` stream: the live session of one active entity with the user
 * function. Opened with `init` (the latest snapshot) and the events after it; then one request
 * at a time, a command or a snapshot request (the entity's single writer sends the next only
 * after this one's answer). The first breach of the protocol, a stream error or a request with
 * no answer within the timeout ends the stream for good: the entity then starts a new one from
 * the journal, so a user function whose memory may differ from the journal is never asked again.
 *
 * Each way a request can fail has its own error: PROXY_PROTOCOL_ERROR (an answer for another
 * request, an empty message), USER_FUNCTION_TIMEOUT, MESSAGE_TOO_LARGE (the answer was over the
 * channel's limit), USER_FUNCTION_FAILED (a stream-level `failure`: its handler threw),
 * USER_FUNCTION_UNAVAILABLE (the stream broke or ended).
 */
export class EntityStream {
  private readonly call: grpc.ClientDuplexStream<object, StreamOut>;
  private nextId = 1;
  private nextSnapshotId = 1;
  private pending: Pending | null = null;
  private ended: Error | null = null;
  readonly entityId: string;
  private readonly serviceName: string;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  /** The entity state (object identity) the user function's memory matches; see event-sourced.ts. */
  syncedTo: KalixState | null;

  constructor(o: EntityStreamOptions) {
    codecIn ??= codecOf('kalix.component.eventsourcedentity.EventSourcedStreamIn');
    codecOut ??= codecOf('kalix.component.eventsourcedentity.EventSourcedStreamOut');
    this.entityId = o.entityId;
    this.serviceName = o.serviceName;
    this.clock = o.clock;
    this.timeoutMs = o.timeoutMs;
    this.maxMessageBytes = o.maxMessageBytes;
    this.call = o.client.makeBidiStreamRequest(HANDLE, codecIn.serialize, codecOut.deserialize as (b: Buffer) => StreamOut);
    this.call.on('data', (msg: StreamOut) => this.onData(msg));
    this.call.on('error', (err: grpc.ServiceError) => this.end(this.streamError(err)));
    this.call.on('end', () => this.end(new UserFunctionUnavailableError(`the user function ended the stream for ${this.where}`)));
    this.syncedTo = o.state;
    const state = o.state;
    const snapshot = state.snapshot === null ? undefined : { snapshotSequence: state.snapshotSeq, snapshot: state.snapshot };
    this.call.write({ init: { serviceName: o.serviceName, entityId: o.entityId, snapshot } });
    let seq = state.snapshotSeq;
    for (const payload of state.events) this.call.write({ event: { sequence: ++seq, payload } });
  }

  /** The stream can take requests. */
  get open(): boolean {
    return this.ended === null;
  }

  /** Sends one command; resolves with its reply, rejects (see the class) if the stream ends first or the reply does not come in time. */
  async command(name: string, payload: AnyMessage): Promise<EventSourcedReply> {
    const id = this.nextId++;
    const out = await this.request('command', id, name, { command: { entityId: this.entityId, id, name, payload } });
    return out.reply as EventSourcedReply;
  }

  /** Asks the user function for a snapshot of its state now (`snapshot_request`); resolves with it (undefined: it sent none). */
  async snapshot(): Promise<AnyMessage | undefined> {
    const requestId = this.nextSnapshotId++;
    const out = await this.request('snapshot', requestId, 'a snapshot', { snapshotRequest: { requestId } });
    return out.snapshotReply?.snapshot ?? undefined;
  }

  /** Ends the stream (half-closes it; the user function ends its side). */
  close(): void {
    if (this.ended !== null) return;
    this.end(new UserFunctionUnavailableError('the stream was closed by the proxy'));
  }

  private get where(): string {
    return `${this.serviceName}/${JSON.stringify(this.entityId)}`;
  }

  private request(kind: Pending['kind'], id: number, name: string, message: object): Promise<StreamOut> {
    if (this.ended !== null) return Promise.reject(this.ended);
    if (this.pending !== null) return Promise.reject(new TypeError('EntityStream: one request at a time'));
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => this.end(new UserFunctionTimeoutError(`the user function did not answer ${name} for ${this.where} within ${this.timeoutMs} ms; its stream was ended`)),
        this.timeoutMs,
      );
      this.pending = { kind, id, name, resolve, reject, timer };
      this.call.write(message);
    });
  }

  private streamError(err: grpc.ServiceError): Error {
    if (err.code === grpc.status.RESOURCE_EXHAUSTED) {
      return new MessageTooLargeError(`the user function's answer on ${this.where} is over the ${this.maxMessageBytes}-byte message limit: ${err.details}`, this.maxMessageBytes, { cause: err });
    }
    return new UserFunctionUnavailableError(`the user function's stream for ${this.where} failed: ${err.message}`, { cause: err });
  }

  private onData(msg: StreamOut): void {
    const p = this.pending;
    if (msg.reply !== undefined) {
      const id = msg.reply.commandId;
      if (p === null || p.kind !== 'command' || id !== p.id) {
        const waiting = p === null ? 'no command was waiting' : p.kind === 'command' ? `command id ${p.id} was waiting` : `a snapshot reply was waited for`;
        this.end(new ProxyProtocolError(`the user function replied to command id ${id} on ${this.where}, but ${waiting}`));
        return;
      }
      this.settle();
      p.resolve(msg);
      return;
    }
    if (msg.snapshotReply !== undefined) {
      const id = msg.snapshotReply.requestId ?? 0;
      if (p === null || p.kind !== 'snapshot' || id !== p.id) {
        this.end(new ProxyProtocolError(`the user function sent a snapshot reply to request ${id} on ${this.where}, but ${p === null ? 'nothing was waiting' : p.kind === 'snapshot' ? `request ${p.id} was waiting` : `command id ${p.id} was waiting`}`));
        return;
      }
      this.settle();
      p.resolve(msg);
      return;
    }
    if (msg.failure !== undefined) {
      // A stream-level failure: the user function failed the entity (its handler threw; Kalix restarts the entity).
      const f = msg.failure;
      const what = p !== null && p.kind === 'command' && f.commandId === p.id ? `${p.name} failed in the user function` : 'the user function failed the entity';
      this.end(new UserFunctionFailedError(`${what}: ${f.description ?? ''}`, f.grpcStatusCode ?? 2));
      return;
    }
    this.end(new ProxyProtocolError(`the user function sent an empty EventSourcedStreamOut on ${this.where}`));
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
