import type { EntityUpdate } from '../entities/subscriptions.js';
import type { RequestId, SubscribeFrame, UpdateFrame } from '../gateway/protocol.js';

/** What to watch, and how a subscription made by the client reports its end. */
export interface ClientSubscribeOptions {
  /** Each persisted event, with its sequence number. Default false. */
  readonly events?: boolean;
  /** The current state first, then the state after each change. Default false. */
  readonly state?: boolean;
  /** With `events`: replay persisted events from this sequence number first. */
  readonly fromSequenceNr?: number;
  /** For the first acknowledgement. Default the client's `timeout`. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
  /** Called once when the subscription ends: without an error when unsubscribed, with one when the server ended it or the client closed. */
  readonly onEnd?: (error?: Error) => void;
}

/** @internal What a subscription needs from its client. */
export interface SubscriptionOwner {
  /** Forget the subscription and tell the server (if connected). */
  release(sub: ClientSubscription): void;
}

/**
 * A subscription of a {@link GatewayClient}. Updates go to the listener given to `subscribe`, or,
 * without one, queue for `for await (const update of sub)` (breaking out of the loop
 * unsubscribes). It survives reconnections: the client subscribes again, resuming events after
 * the last one delivered (`fromSequenceNr`) and skipping a state it has already delivered, so
 * the listener sees every event once, in order.
 *
 * `Event` and `State` are the definition's types on a typed ref (`client.ref<typeof cart>`),
 * else `unknown`. They are the server's types: what arrives is what the server persisted, as the
 * frame format carries it (over JSON a `Date` is an ISO string, as in replies).
 */
export class ClientSubscription<Event = unknown, State = unknown> implements AsyncIterable<EntityUpdate<Event, State>>, Disposable {
  /** @internal The next event sequence number to deliver (the resume point); undefined until known. */
  nextSequenceNr: number | undefined;
  /** @internal The version of the last state delivered. */
  private lastVersion: number | undefined;
  /** @internal Acknowledged on the current connection. */
  acked = false;
  /** The next state is the first after a resubscription: it may repeat the last one delivered. */
  private resumed = false;
  private done = false;
  private endError: Error | undefined;
  // Held without the definition's types, so that any subscription is a ClientSubscription<unknown, unknown> to its client.
  private readonly listener: ((update: EntityUpdate) => void) | undefined;
  private readonly queue: EntityUpdate[] = [];
  private waiter: ((result: IteratorResult<EntityUpdate>) => void) | null = null;
  private failWaiter: ((err: Error) => void) | null = null;
  /** @internal Settles the `subscribe()` promise on the first acknowledgement or failure. */
  firstAck: { resolve: () => void; reject: (err: Error) => void } | null = null;

  /** @internal */
  constructor(
    private readonly owner: SubscriptionOwner,
    /** @internal The subscription's id on the wire (its subscribe request's id). */
    readonly id: RequestId,
    readonly entityType: string,
    readonly entityId: string,
    private readonly options: ClientSubscribeOptions,
    listener: ((update: EntityUpdate<Event, State>) => void) | undefined,
  ) {
    this.nextSequenceNr = options.fromSequenceNr;
    // The server sends the entity's own events and states: the types the listener was given.
    this.listener = listener as ((update: EntityUpdate) => void) | undefined;
  }

  /** False once unsubscribed or ended. */
  get active(): boolean {
    return !this.done;
  }

  /** @internal The subscribe frame for the current connection: resumes where delivery stopped. */
  frame(): SubscribeFrame {
    const events = this.options.events === true;
    const state = this.options.state === true;
    const from = events ? this.nextSequenceNr : undefined;
    return {
      kind: 'subscribe',
      id: this.id,
      entity: { type: this.entityType, id: this.entityId },
      ...(events ? { events } : {}),
      ...(state ? { state } : {}),
      ...(from !== undefined ? { fromSequenceNr: from } : {}),
    };
  }

  /** @internal */
  acknowledged(version: number): void {
    this.acked = true;
    this.resumed = this.lastVersion !== undefined;
    // Without a resume point, events start after the version the subscription began at.
    if (this.options.events === true && this.nextSequenceNr === undefined) this.nextSequenceNr = version + 1;
    const first = this.firstAck;
    this.firstAck = null;
    first?.resolve();
  }

  /** @internal */
  receive(frame: UpdateFrame): void {
    if (this.done) return;
    let update: EntityUpdate;
    if (frame.change === 'event') {
      // Already delivered before a reconnection: the server replays from the resume point, never before it.
      if (this.nextSequenceNr !== undefined && frame.sequenceNr < this.nextSequenceNr) return;
      this.nextSequenceNr = frame.sequenceNr + 1;
      update = { kind: 'event', entityType: this.entityType, entityId: this.entityId, sequenceNr: frame.sequenceNr, event: frame.event };
    } else {
      // A resubscription starts with the current state, which may be the one delivered last.
      const repeat = this.resumed && frame.version === this.lastVersion;
      this.resumed = false;
      if (repeat) return;
      this.lastVersion = frame.version;
      update = { kind: 'state', entityType: this.entityType, entityId: this.entityId, version: frame.version, state: frame.state };
    }
    if (this.listener !== undefined) {
      this.listener(update);
      return;
    }
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      this.failWaiter = null;
      waiter({ value: update, done: false });
    } else this.queue.push(update);
  }

  /** Stops the subscription; the server is told if connected. Idempotent. */
  unsubscribe(): void {
    if (this.done) return;
    this.owner.release(this);
    this.end(undefined);
  }

  [Symbol.dispose](): void {
    this.unsubscribe();
  }

  /** @internal Ends the subscription (unsubscribed, ended by the server, or the client closed). */
  end(error: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.endError = error;
    const first = this.firstAck;
    this.firstAck = null;
    if (first !== null) first.reject(error ?? new Error('unsubscribed before acknowledged'));
    const waiter = this.waiter;
    const failWaiter = this.failWaiter;
    this.waiter = null;
    this.failWaiter = null;
    if (error !== undefined && failWaiter !== null) failWaiter(error);
    else waiter?.({ value: undefined, done: true });
    try {
      this.options.onEnd?.(error);
    } catch {
      // A throwing callback must not disturb the client.
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<EntityUpdate<Event, State>> {
    // The queue holds updates of this entity only (see the listener above).
    return this.iterate() as AsyncIterator<EntityUpdate<Event, State>>;
  }

  private iterate(): AsyncIterator<EntityUpdate> {
    return {
      next: () => {
        const queued = this.queue.shift();
        if (queued !== undefined) return Promise.resolve({ value: queued, done: false });
        if (this.done) return this.endError !== undefined ? Promise.reject(this.endError) : Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<EntityUpdate>>((resolve, reject) => {
          this.waiter = resolve;
          this.failWaiter = reject;
        });
      },
      return: () => {
        this.unsubscribe();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
