/**
 * One client connection: decodes requests, runs them against the entity runtime, answers each
 * by its id, and pushes subscription updates.
 *
 * The hot path (a command) allocates the decoded frame, one map entry, the runtime's ask and
 * the reply string; nothing else. Data frames sent in the same turn of the event loop are framed
 * into one buffer and written at its end (replies of a batch of commands come together; see
 * FrameWriter), and the send buffer is checked against the high-water mark on every send.
 */
import type { Socket } from 'node:net';
import type { AskListener } from '../entities/pending.js';
import { WebSocket } from 'ws';
import type { EntityRef } from '../entities/entity-ref.js';
import type { EntityRuntime } from '../entities/runtime.js';
import type { EntityUpdate, Subscription } from '../entities/subscriptions.js';
import type { Logger } from '../logger.js';
import type { Authorize, AuthorizeRequest } from './auth.js';
import type { ServerCodec } from './codec.js';
import {
  DuplicateIdError,
  ForbiddenError,
  FrameError,
  InternalGatewayError,
  NotSubscribableError,
  ShuttingDownError,
  SlowConsumerError,
  TooManyRequestsError,
  TooManySubscriptionsError,
  UnknownSubscriptionError,
} from './errors.js';
import type { ResolvedLimits } from './options.js';
import { CloseCode, type CommandFrame, type RequestId, type SubscribeFrame, type UnsubscribeFrame } from './protocol.js';
import { FrameWriter } from './frame-writer.js';
import { GatewaySubscription, type UpdateSink } from './subscription.js';
import { parseRequest } from './validate.js';
import { toWireError } from './wire-error.js';
import type { CommandTrace, Tracing } from '../tracing/tracing.js';

/** What a connection needs from its gateway. @internal */
export interface ConnectionHost<P> {
  readonly runtime: EntityRuntime;
  readonly limits: ResolvedLimits;
  readonly authorize: Authorize<P> | undefined;
  readonly logger: Logger;
  /** Spans of commands (src/tracing), or null: nothing traced, one check per command. */
  readonly tracing: Tracing | null;
  /** True once `close()` began: new requests are refused with `SHUTTING_DOWN`. */
  readonly closing: boolean;
  /** The kind of a registered entity type, or undefined. */
  kindOf(typeName: string): string | undefined;
  /** A request went in flight. */
  started(): void;
  /** A request finished (answered, or dropped with its connection). */
  settled(): void;
  /** The connection closed. */
  removed(connection: Connection<P>): void;
  /** Counters the observer reads (frames in, slow consumers closed, requests forbidden). */
  readonly stats: GatewayStats;
}

/** What a gateway counts for the observer, cumulative since it started. @internal */
export class GatewayStats {
  framesIn = 0;
  slowConsumers = 0;
  forbidden = 0;
  /** Upgrades refused by `authenticate` (no principal, a throw, or its timeout). */
  authFailures = 0;
}

/** @internal */
export class Connection<P> implements UpdateSink, AskListener {
  /** Requests in flight by id: null for a command, the subscription for a subscribe. */
  private inflight: Map<RequestId, GatewaySubscription | null> | null = null;
  /** Established subscriptions by id. */
  private subs: Map<RequestId, GatewaySubscription> | null = null;
  /** Commands in flight sent with `tell: true`, by id: nobody reads their answer, so a failure is logged. Made on first use. */
  private tells: Map<RequestId, CommandFrame> | null = null;
  /** Traced commands in flight, by id (only with tracing). Made on first use. */
  private traces: Map<RequestId, CommandTrace> | null = null;
  /** Established and pending subscriptions. */
  private subCount = 0;
  /** Data frames gathered this turn, written as one buffer at its end (see FrameWriter). */
  private readonly out = new FrameWriter();
  /** Per entity (type NUL id): authorization verdicts not yet carried out, oldest first. Made on first use. */
  private authorizing: Map<string, PendingVerdict[]> | undefined;
  /** Set by any frame or pong; cleared by each heartbeat tick. */
  heard = false;
  /** Consecutive heartbeat ticks without hearing from the peer. */
  silentTicks = 0;
  /** Closed, or closing by our decision: nothing more is sent or run. */
  closed = false;

  constructor(
    private readonly host: ConnectionHost<P>,
    readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly codec: ServerCodec,
    readonly principal: P,
  ) {
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    ws.on('pong', () => {
      this.heard = true;
    });
    ws.on('close', () => this.onClose());
    // `ws` closes the connection itself on protocol errors (1002, 1007, 1009); this only logs.
    ws.on('error', (err) => host.logger.debug({ err }, 'connection error'));
  }

  /** Number of requests in flight (for tests and stats). */
  get inFlight(): number {
    return this.inflight === null ? 0 : this.inflight.size;
  }

  get subscriptionCount(): number {
    return this.subCount;
  }

  private receive(data: Buffer, isBinary: boolean): void {
    this.heard = true;
    this.host.stats.framesIn++;
    if (this.closed) return;
    let id: RequestId | null = null;
    try {
      const frame = parseRequest(this.codec.decode(data, isBinary));
      id = frame.id;
      switch (frame.kind) {
        case 'command':
          this.command(frame);
          return;
        case 'subscribe':
          this.subscribe(frame);
          return;
        case 'unsubscribe':
          this.unsubscribe(frame);
          return;
        case 'ping':
          if (this.inUse(frame.id)) this.refuse(frame.id, new DuplicateIdError(frame.id));
          else this.send(this.codec.pong(frame.id));
          return;
      }
    } catch (err) {
      if (err instanceof FrameError) this.refuse(err.id, err);
      else {
        this.host.logger.error({ err }, 'unexpected error handling a frame');
        this.refuse(id, new InternalGatewayError(err));
      }
    }
  }

  private inUse(id: RequestId): boolean {
    return (this.inflight !== null && this.inflight.has(id)) || (this.subs !== null && this.subs.has(id));
  }

  /** Checks shared by commands and subscribes; returns the in-flight map, or null after refusing. */
  private admit(id: RequestId): Map<RequestId, GatewaySubscription | null> | null {
    if (this.inUse(id)) return this.refuse(id, new DuplicateIdError(id));
    if (this.host.closing) return this.refuse(id, new ShuttingDownError());
    const inflight = this.inflight ?? (this.inflight = new Map());
    if (inflight.size >= this.host.limits.maxInFlight) return this.refuse(id, new TooManyRequestsError(this.host.limits.maxInFlight));
    return inflight;
  }

  /**
   * The entity a request in flight names, looked up only once it is authorized: a client allowed
   * nothing learns nothing about which types exist. Null after answering the request's error
   * (`UNKNOWN_ENTITY_TYPE`, `INVALID_ENTITY_ID`).
   */
  private lookUp(id: RequestId, type: string, entityId: string): EntityRef | null {
    try {
      return this.host.runtime.refFor(type, entityId);
    } catch (err) {
      const sub = this.inflight?.get(id);
      if (sub) this.dropPendingSubscription(sub);
      this.finishWithError(id, err);
      return null;
    }
  }

  // ------------------------------------------------------------ command

  private command(frame: CommandFrame): void {
    const id = frame.id;
    const inflight = this.admit(id);
    if (inflight === null) return;
    inflight.set(id, null);
    if (frame.tell === true) (this.tells ??= new Map()).set(id, frame);
    if (this.host.tracing !== null) this.traceCommand(this.host.tracing, frame);
    this.host.started();
    const authorize = this.host.authorize;
    if (authorize === undefined) {
      this.run(frame);
      return;
    }
    // The hook sees the names as sent; the type and id are looked up only if it allows.
    this.authorized(
      id,
      authorize,
      { action: 'command', entityType: frame.entity.type, entityId: frame.entity.id, command: frame.command, input: frame.input },
      () => this.run(frame),
      `${frame.command} on ${frame.entity.type}`,
    );
  }

  private run(frame: CommandFrame): void {
    const id = frame.id;
    if (this.closed) {
      this.settle(id);
      return;
    }
    const ref = this.lookUp(id, frame.entity.type, frame.entity.id);
    if (ref === null) return;
    // The outcome comes back through answered/failed, with the request id as the token.
    const trace = this.traces === null ? undefined : this.traces.get(id);
    if (trace === undefined) {
      this.host.runtime.askWith(ref, frame.command, frame.input, this, id);
      return;
    }
    // The runtime hands the trace to the command it queues (as a timer delivery), synchronously.
    const runtime = this.host.runtime;
    runtime.tracing = trace;
    try {
      runtime.askWith(ref, frame.command, frame.input, this, id);
    } finally {
      runtime.tracing = null;
    }
  }

  /** Starts a command's server span, child of the client's `traceparent` (docs/observer.md, "Traces"). */
  private traceCommand(tracing: Tracing, frame: CommandFrame): void {
    const trace = tracing.command({
      entityType: frame.entity.type,
      entityId: frame.entity.id,
      command: frame.command,
      requestId: frame.id,
      tell: frame.tell === true,
      traceparent: frame.traceparent,
      tracestate: frame.tracestate,
    });
    (this.traces ??= new Map()).set(frame.id, trace);
  }

  /** @internal AskListener: the command was answered. Called from inside the entity: never throws. */
  answered(token: unknown, value: unknown): void {
    try {
      this.replied(token as RequestId, value);
    } catch (err) {
      this.host.logger.error({ err }, 'unexpected error answering a command');
    }
  }

  /** @internal AskListener: the command failed (or was refused, or timed out). Never throws. */
  failed(token: unknown, error: unknown): void {
    try {
      this.finishWithError(token as RequestId, error);
    } catch (err) {
      this.host.logger.error({ err }, 'unexpected error answering a command');
    }
  }

  private replied(id: RequestId, result: unknown): void {
    const trace = this.traces === null ? undefined : this.traces.get(id);
    if (trace !== undefined) return this.repliedTraced(id, result, trace);
    if (!this.closed) {
      let data: string | Buffer;
      try {
        data = this.codec.reply(id, result);
      } catch (err) {
        data = this.codec.error(id, toWireError(err, this.host.logger));
      }
      this.send(data);
    }
    this.settle(id);
  }

  private repliedTraced(id: RequestId, result: unknown, trace: CommandTrace): void {
    this.traces?.delete(id);
    if (this.closed) {
      trace.end(null, undefined);
      this.settle(id);
      return;
    }
    const span = trace.replying();
    let data: string | Buffer;
    let error: unknown = undefined;
    try {
      data = this.codec.reply(id, result);
    } catch (err) {
      error = err;
      data = this.codec.error(id, toWireError(err, this.host.logger));
    }
    this.send(data);
    trace.end(span, error);
    this.settle(id);
  }

  /** Answers a request in flight with an error, then lets it go. */
  private finishWithError(id: RequestId, err: unknown): void {
    const told = this.tells?.get(id);
    if (told !== undefined) {
      // A tell's client does not read this answer (and may be gone): as for an in-process tell, the log is where it is heard.
      this.host.logger.warn({ entity: `${told.entity.type}/${told.entity.id}`, command: told.command, requestId: id, err }, 'told command failed');
    }
    const trace = this.traces === null ? undefined : this.traces.get(id);
    if (trace !== undefined) {
      this.traces?.delete(id);
      const span = this.closed ? null : trace.replying();
      if (!this.closed) this.send(this.codec.error(id, toWireError(err, this.host.logger)));
      trace.end(span, err);
      this.settle(id);
      return;
    }
    if (!this.closed) this.send(this.codec.error(id, toWireError(err, this.host.logger)));
    this.settle(id);
  }

  private settle(id: RequestId): void {
    this.inflight?.delete(id);
    this.tells?.delete(id);
    if (this.traces !== null) {
      // Settled with no answer (its connection went away): its spans end unanswered.
      const trace = this.traces.get(id);
      if (trace !== undefined) {
        this.traces.delete(id);
        trace.end(null, undefined);
      }
    }
    this.host.settled();
  }

  /**
   * Runs the authorize hook: `true` proceeds, anything else is `FORBIDDEN`, a throw is
   * `INTERNAL_ERROR`. Verdicts for one entity take effect in the order the requests arrived, even
   * when an asynchronous hook answers them out of order: a request whose check is done waits for
   * the checks of earlier requests to the same entity. With a synchronous hook and nothing
   * waiting, nothing is queued.
   */
  private authorized(id: RequestId, authorize: Authorize<P>, request: AuthorizeRequest, proceed: () => void, what: string): void {
    const deny = (err: unknown): void => {
      const sub = this.inflight?.get(id);
      if (sub) this.dropPendingSubscription(sub);
      this.finishWithError(id, err);
    };
    const failed = (err: unknown): void => {
      this.host.logger.error({ err }, 'authorize hook failed');
      deny(new InternalGatewayError(err));
    };
    const verdictOf = (ok: unknown): (() => void) =>
      ok === true
        ? proceed
        : () => {
            this.host.stats.forbidden++;
            deny(new ForbiddenError(what));
          };
    const key = `${request.entityType}\u0000${request.entityId}`;
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = authorize(this.principal, request);
    } catch (err) {
      this.carryOut(key, () => failed(err));
      return;
    }
    if (typeof (verdict as Promise<boolean> | undefined)?.then !== 'function') {
      this.carryOut(key, verdictOf(verdict));
      return;
    }
    let queue = this.authorizing?.get(key);
    if (queue === undefined) {
      queue = [];
      (this.authorizing ??= new Map()).set(key, queue);
    }
    const entry: PendingVerdict = { act: null };
    queue.push(entry);
    (verdict as Promise<boolean>).then(
      (ok) => {
        entry.act = verdictOf(ok);
        this.drainVerdicts(key);
      },
      (err: unknown) => {
        entry.act = () => failed(err);
        this.drainVerdicts(key);
      },
    );
  }

  /** A verdict known now: carried out at once, unless verdicts for the same entity are still awaited. */
  private carryOut(key: string, act: () => void): void {
    const queue = this.authorizing?.get(key);
    if (queue === undefined) {
      act();
      return;
    }
    queue.push({ act });
    this.drainVerdicts(key);
  }

  /** Carries out the verdicts at the head of an entity's queue that are known, in order. */
  private drainVerdicts(key: string): void {
    const queue = this.authorizing?.get(key);
    if (queue === undefined) return;
    while (queue.length > 0) {
      const act = (queue[0] as PendingVerdict).act;
      if (act === null) return;
      queue.shift();
      act();
    }
    this.authorizing?.delete(key);
  }

  // ------------------------------------------------------------ subscriptions

  private subscribe(frame: SubscribeFrame): void {
    const id = frame.id;
    const inflight = this.admit(id);
    if (inflight === null) return;
    const { type, id: entityId } = frame.entity;
    if (this.subCount >= this.host.limits.maxSubscriptions) {
      this.refuse(id, new TooManySubscriptionsError(this.host.limits.maxSubscriptions));
      return;
    }
    const events = frame.events === true;
    const state = frame.state === true;
    const sub = new GatewaySubscription(this, id, events, state, this.host.limits.sendHighWaterMark);
    inflight.set(id, sub);
    this.subCount++;
    this.host.started();
    const from = frame.fromSequenceNr;
    const start = (): void => {
      if (this.closed || sub.ended) {
        this.dropPendingSubscription(sub);
        this.settle(id);
        return;
      }
      // Looked up once authorized, like a command's entity.
      const ref = this.lookUp(id, type, entityId);
      if (ref === null) return;
      if (this.host.kindOf(type) === 'stateless') {
        this.dropPendingSubscription(sub);
        this.finishWithError(id, new NotSubscribableError(type));
        return;
      }
      this.host.runtime
        .subscribe(ref, from === undefined ? { events, state: true } : { events, state: true, fromSequenceNr: from }, sub.listener)
        .then(
          (handle) => this.established(sub, handle),
          (err: unknown) => {
            this.dropPendingSubscription(sub);
            this.finishWithError(id, err);
          },
        );
    };
    const authorize = this.host.authorize;
    if (authorize === undefined) start();
    else this.authorized(id, authorize, { action: 'subscribe', entityType: type, entityId, events, state }, start, `subscribe to ${type}`);
  }

  private dropPendingSubscription(sub: GatewaySubscription): void {
    if (!sub.ended) {
      sub.end();
      this.subCount--;
    }
  }

  private established(sub: GatewaySubscription, handle: Subscription): void {
    const id = sub.id;
    if (this.closed || sub.ended) {
      handle.unsubscribe();
      this.dropPendingSubscription(sub);
      this.settle(id);
      return;
    }
    if (sub.failure !== null) {
      // Its catch-up was too large to hold, or could not be encoded: it never goes live.
      handle.unsubscribe();
      this.dropPendingSubscription(sub);
      this.finishWithError(id, sub.failure);
      return;
    }
    this.inflight?.delete(id);
    (this.subs ?? (this.subs = new Map())).set(id, sub);
    const held = sub.goLive(handle);
    this.send(this.codec.subscribed(id, sub.version < 0 ? 0 : sub.version));
    for (const data of held) this.send(data);
    this.host.settled();
  }

  /** @internal From the subscription: encode and send one update, or end the subscription if it cannot be encoded. */
  sendUpdate(sub: GatewaySubscription, update: EntityUpdate): void {
    if (this.closed || sub.ended) return;
    let data: string | Buffer;
    try {
      data = this.encodeUpdate(sub, update);
    } catch (err) {
      // A gap would break the promise of complete, ordered updates: end the subscription instead.
      this.endSubscription(sub);
      this.send(this.codec.error(sub.id, toWireError(err, this.host.logger)));
      return;
    }
    this.send(data);
  }

  /** @internal From the subscription: one update as a frame of this connection. */
  encodeUpdate(sub: GatewaySubscription, update: EntityUpdate): string | Buffer {
    return update.kind === 'event' ? this.codec.event(sub.id, update.sequenceNr, update.event) : this.codec.state(sub.id, update.version, update.state);
  }

  private endSubscription(sub: GatewaySubscription): void {
    if (this.subs?.delete(sub.id) === true) this.subCount--;
    sub.end();
  }

  private unsubscribe(frame: UnsubscribeFrame): void {
    const id = frame.id;
    if (this.inUse(id)) {
      this.refuse(id, new DuplicateIdError(id));
      return;
    }
    const sub = this.subs?.get(frame.subscription);
    if (sub === undefined) {
      this.refuse(id, new UnknownSubscriptionError(frame.subscription));
      return;
    }
    this.endSubscription(sub);
    this.send(this.codec.unsubscribed(id));
  }

  // ------------------------------------------------------------ sending

  /** Sends an error frame for a request that never went in flight. Returns null for the callers' convenience. */
  private refuse(id: RequestId | null, err: unknown): null {
    if (!this.closed) this.send(this.codec.error(id, toWireError(err, this.host.logger)));
    return null;
  }

  private send(data: string | Buffer): void {
    const out = this.out;
    if (out.isEmpty) process.nextTick(flushConnection, this);
    out.add(data);
    // Checked on every send, so that memory stays bounded within one turn of the event loop too.
    if (out.pendingBytes + this.ws.bufferedAmount > this.host.limits.sendHighWaterMark) this.overflowing();
  }

  /** @internal Writes what this turn gathered, as one buffer. */
  flush(): void {
    if (this.out.isEmpty) return;
    this.write();
    if (this.ws.bufferedAmount > this.host.limits.sendHighWaterMark) this.overflowing();
  }

  private write(): void {
    // Closing or closed by `ws` (the peer left, a protocol error): nothing more can be sent.
    if (this.ws.readyState !== WebSocket.OPEN) {
      this.out.clear();
      return;
    }
    this.socket.write(this.out.take());
  }

  /** Over the high-water mark: if only because of what this turn gathered, write it now; if still over, the client is not reading. */
  private overflowing(): void {
    if (!this.out.isEmpty) this.write();
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.host.limits.sendHighWaterMark && !this.closed) {
      const err = new SlowConsumerError(buffered, this.host.limits.sendHighWaterMark);
      this.host.logger.warn({ err, bufferedBytes: buffered }, 'closing a slow consumer');
      this.host.stats.slowConsumers++;
      this.shut(CloseCode.SLOW_CONSUMER, 'slow consumer');
    }
  }

  // ------------------------------------------------------------ lifecycle

  /** Stops everything and starts the closing handshake. */
  shut(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.endAll();
    // What was answered goes out before the close frame.
    if (!this.out.isEmpty) this.write();
    this.ws.close(code, reason);
  }

  /** Drops the connection without a closing handshake (a dead peer). */
  terminate(): void {
    this.closed = true;
    this.out.clear();
    this.endAll();
    this.ws.terminate();
  }

  private endAll(): void {
    if (this.subs !== null) {
      for (const sub of this.subs.values()) sub.end();
      this.subs.clear();
    }
    if (this.inflight !== null) {
      for (const sub of this.inflight.values()) if (sub !== null) sub.end();
    }
    this.subCount = 0;
  }

  private onClose(): void {
    this.closed = true;
    this.endAll();
    this.host.removed(this);
  }
}

/** One request's authorization: what to do once every earlier request to the entity is done (`null` while awaited). */
interface PendingVerdict {
  act: (() => void) | null;
}

function flushConnection(connection: Connection<unknown>): void {
  connection.flush();
}
