import type * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../actors/clock.js';
import { ProxyProtocolError, UserFunctionFailedError, UserFunctionUnavailableError } from './errors.js';
import { type AnyMessage, codecOf } from './protocol.js';
import type { KalixState } from './journal-state.js';

const HANDLE = '/kalix.component.eventsourcedentity.EventSourcedEntities/Handle';

/** What the user function answered to one command (EventSourcedReply, as plain data). */
export interface EventSourcedReply {
  readonly commandId: number;
  readonly clientAction?: {
    readonly reply?: { readonly payload?: AnyMessage };
    readonly forward?: { readonly serviceName?: string; readonly commandName?: string };
    readonly failure?: { readonly description?: string; readonly grpcStatusCode?: number };
  };
  readonly sideEffects?: readonly unknown[];
  readonly events?: readonly AnyMessage[];
  readonly snapshot?: AnyMessage;
}

interface StreamOut {
  readonly reply?: EventSourcedReply;
  readonly failure?: { readonly commandId?: number; readonly description?: string; readonly grpcStatusCode?: number };
  readonly snapshotReply?: unknown;
}

interface Pending {
  readonly id: number;
  readonly name: string;
  readonly resolve: (reply: EventSourcedReply) => void;
  readonly reject: (err: Error) => void;
  readonly timer: TimerHandle;
}

let codec: ReturnType<typeof codecOf> | undefined;

/**
 * One `EventSourcedEntities/Handle` stream: the live session of one active entity with the user
 * function. Opened with `init` (the latest snapshot) and the events after it; then one command
 * at a time (the entity's single writer sends the next only after this one's reply). Any
 * breach of the protocol, a stream error or a command with no answer within the timeout ends the
 * stream: the entity then starts a new one from the journal.
 */
export class EntityStream {
  private readonly call: grpc.ClientDuplexStream<object, StreamOut>;
  private nextId = 1;
  private pending: Pending | null = null;
  private ended: Error | null = null;
  /** The entity state (object identity) the user function's memory matches; see event-sourced.ts. */
  syncedTo: KalixState | null;

  constructor(
    client: grpc.Client,
    serviceName: string,
    readonly entityId: string,
    state: KalixState,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    codec ??= codecOf('kalix.component.eventsourcedentity.EventSourcedStreamIn');
    const out = codecOf('kalix.component.eventsourcedentity.EventSourcedStreamOut');
    this.call = client.makeBidiStreamRequest(HANDLE, codec.serialize, out.deserialize as (b: Buffer) => StreamOut);
    this.call.on('data', (msg: StreamOut) => this.onData(msg));
    this.call.on('error', (err: Error) => this.end(new UserFunctionUnavailableError(`the user function's stream for ${serviceName}/${entityId} failed: ${err.message}`, { cause: err })));
    this.call.on('end', () => this.end(new UserFunctionUnavailableError(`the user function ended the stream for ${serviceName}/${entityId}`)));
    this.syncedTo = state;
    const snapshot = state.snapshot === null ? undefined : { snapshotSequence: state.snapshotSeq, snapshot: state.snapshot };
    this.call.write({ init: { serviceName, entityId, snapshot } });
    let seq = state.snapshotSeq;
    for (const payload of state.events) this.call.write({ event: { sequence: ++seq, payload } });
  }

  /** The stream can take commands. */
  get open(): boolean {
    return this.ended === null;
  }

  /** Sends one command; resolves with its reply, rejects if the stream ends first or the reply does not come in time. */
  command(name: string, payload: AnyMessage): Promise<EventSourcedReply> {
    if (this.ended !== null) return Promise.reject(this.ended);
    if (this.pending !== null) return Promise.reject(new TypeError('EntityStream: one command at a time'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => this.end(new UserFunctionUnavailableError(`the user function did not answer ${name} for ${JSON.stringify(this.entityId)} within ${this.timeoutMs} ms`)),
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
      // A stream-level failure: the user function failed the entity (Kalix restarts it).
      const f = msg.failure;
      const what = p !== null && f.commandId === p.id ? `${p.name} failed in the user function` : 'the user function failed the entity';
      this.end(new UserFunctionFailedError(`${what}: ${f.description ?? ''}`, f.grpcStatusCode ?? 2));
      return;
    }
    if (msg.snapshotReply === undefined) this.end(new ProxyProtocolError('the user function sent an empty EventSourcedStreamOut'));
    // snapshot_reply: the proxy sends no snapshot_request yet (snapshots come with replies).
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
