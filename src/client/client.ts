/**
 * The beamstate client, for Node and browsers: the standard `WebSocket` where the platform has
 * one, else `ws` (imported on demand). Requests are correlated by id; commands are never
 * retried, because they are not idempotent: a request in flight when the connection drops fails
 * with `CONNECTION_LOST`. Requests made while reconnecting wait (with their timeout running) and
 * are sent once the connection is back. Subscriptions survive reconnections without gaps.
 */
import { type Clock, systemClock, type TimerHandle } from '../actors/clock.js';
import { InvalidOptionError } from '../actors/errors.js';
import type { AskOptions } from '../actors/ref.js';
import type { EntityType } from '../entities/definition.js';
import type { CommandSpecs, EntityRef } from '../entities/entity-ref.js';
import type { EntityUpdate } from '../entities/subscriptions.js';
import { AUTH_SUBPROTOCOL_PREFIX, type FrameFormat, type RequestId, type ServerFrame, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from '../gateway/protocol.js';
import { backoffDelay, reconnectDefaults, type ReconnectOptions } from './backoff.js';
import { type ClientCodec, clientCodec } from './codec.js';
import { ClientClosedError, ConnectFailedError, ConnectionLostError, RemoteError, RequestAbortedError, RequestTimeoutError } from './errors.js';
import { type ClientSubscribeOptions, ClientSubscription } from './subscription.js';
import type { CommandsOf, EventOf, NameOf, StateOf } from './typed.js';

/** Where a client is: connecting for the first time, open, reconnecting after a loss, or closed for good. */
export type ClientStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Options of {@link connect}. Defaults in {@link clientDefaults}. */
export interface ConnectOptions {
  /** Presented on every (re)connection; a function is called each time, so it can refresh the token. */
  readonly token?: string | (() => string | undefined | Promise<string | undefined>);
  /**
   * How the token travels: `'header'` (`Authorization: Bearer`, Node's `ws` only), `'protocol'`
   * (a `beamstate.auth.<base64url>` subprotocol, works in browsers) or `'query'` (`?token=`).
   * Default `'header'` with `ws`, `'protocol'` with a platform WebSocket.
   */
  readonly tokenTransport?: 'header' | 'protocol' | 'query';
  /** Frame format. Default `'json'`. */
  readonly format?: FrameFormat;
  /** Default timeout of a request, in ms (`Infinity`: none). Default 5000. */
  readonly timeout?: number;
  /** How long opening a connection may take. Default 10 000 ms. */
  readonly connectTimeout?: number;
  /** Reconnection after a lost connection; `false` closes the client instead. */
  readonly reconnect?: ReconnectOptions | false;
  /** Application-level pings when the server has been silent this long; two silent intervals mean the connection is dead. `false`: off. Default 30 000 ms. */
  readonly heartbeatMs?: number | false;
  /** A WebSocket class to use instead of the platform's (or `ws`). Called as `new WebSocket(url, protocols)`. */
  readonly WebSocket?: new (url: string, protocols: string[]) => object;
  /** Time source for timeouts, heartbeats and backoff. Default the real clock; a `ManualClock` in tests. */
  readonly clock?: Clock;
  /** Told of every status change; `error` says why the connection was lost or the client closed. */
  readonly onStatusChange?: (status: ClientStatus, error?: Error) => void;
}

/** Every default of {@link ConnectOptions}, in one place. */
export const clientDefaults = {
  format: 'json',
  timeout: 5000,
  connectTimeout: 10_000,
  heartbeatMs: 30_000,
  reconnect: reconnectDefaults,
} as const;

/**
 * A typed ref to a remote entity: `ask` and `tell` as on the server, plus `subscribe`, whose
 * updates carry the entity's event type `E` and state type `S`. `client.ref<typeof cart>(…)` is a
 * `ClientEntityRef<CommandsOf<typeof cart>, EventOf<typeof cart>, StateOf<typeof cart>>`.
 */
export interface ClientEntityRef<C extends CommandSpecs = CommandSpecs, E = unknown, S = unknown> extends EntityRef<C> {
  subscribe(options: ClientSubscribeOptions, listener?: (update: EntityUpdate<E, S>) => void): Promise<ClientSubscription<E, S>>;
}

/**
 * Options of one ask: `timeout` and `signal` as for an in-process ask, and the W3C trace context
 * of the caller's span (`traceparent`, and `tracestate` with it), carried in the command frame so
 * that a tracing gateway's spans join the caller's trace (docs/observer.md, "Traces").
 */
export interface ClientAskOptions extends AskOptions {
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** The standard WebSocket API as the client uses it (browsers' WebSocket and `ws` both have it). */
interface SocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: { message?: string; error?: unknown }) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate?(): void;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  timer: TimerHandle | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  /** The encoded frame while it waits to be sent; null once sent. */
  frame: string | Uint8Array | null;
}

const OPEN = 1;
/** HTTP statuses after which reconnecting cannot help. */
const PERMANENT = new Set([400, 401, 403, 404]);
/** Close code the client sends when the server breaks the protocol (an undecodable frame). */
const CLIENT_PROTOCOL_ERROR = 4002;

/**
 * A connection to a beamstate gateway. Made by {@link connect}.
 *
 * ```ts
 * const client = await connect('ws://localhost:8080', { token });
 * const cart = client.ref<typeof shoppingCart>('cart', 'c1');
 * await cart.ask('addItem', { sku: 'apple', name: 'Apple', quantity: 2 });
 * for await (const update of await cart.subscribe({ state: true })) render(update);
 * ```
 */
// Also a subscription's owner (internal `release`), matched structurally: an `implements` clause
// would name an internal type in the published declarations, which leave it out.
export class GatewayClient implements AsyncDisposable {
  private statusValue: ClientStatus = 'connecting';
  private socket: SocketLike | null = null;
  private readonly pending = new Map<RequestId, Pending>();
  private readonly outbox: RequestId[] = [];
  private readonly subs = new Map<RequestId, ClientSubscription>();
  private nextId = 1;
  private attempt = 0;
  private reconnectTimer: TimerHandle | null = null;
  private heartbeatTimer: TimerHandle | null = null;
  private heard = false;
  private silentTicks = 0;
  private closedBy: Error | undefined;
  private wsModule: (new (url: string, protocols: string[], options: object) => SocketLike) | null = null;
  private readonly clock: Clock;
  private readonly timeout: number;
  private readonly connectTimeout: number;
  private readonly heartbeatMs: number;
  private readonly reconnect: Required<ReconnectOptions> | null;

  /** The gateways this client may use (several: the nodes of a cluster), tried in turn. */
  readonly urls: readonly string[];
  private urlIndex = 0;

  /** @internal Use {@link connect}. */
  constructor(
    urls: string | readonly string[],
    private readonly codec: ClientCodec,
    private readonly options: ConnectOptions,
  ) {
    this.urls = typeof urls === 'string' ? [urls] : [...urls];
    this.clock = options.clock ?? systemClock;
    this.timeout = checkTimeout('timeout', options.timeout ?? clientDefaults.timeout);
    this.connectTimeout = checkTimeout('connectTimeout', options.connectTimeout ?? clientDefaults.connectTimeout);
    const hb = options.heartbeatMs ?? clientDefaults.heartbeatMs;
    this.heartbeatMs = hb === false ? 0 : checkTimeout('heartbeatMs', hb);
    this.reconnect = options.reconnect === false ? null : { ...reconnectDefaults, ...options.reconnect };
  }

  /** The gateway's URL in use (or tried next): with several, the next one is tried after a failed attempt. */
  get url(): string {
    return this.urls[this.urlIndex] as string;
  }

  /** Where the client is. */
  get status(): ClientStatus {
    return this.statusValue;
  }

  /** The frame format in use. */
  get format(): FrameFormat {
    return this.codec.format;
  }

  /**
   * Sends a command to entity `(type, id)` and resolves with its reply. Rejects with the server's
   * error code (`RemoteError`: `COMMAND_FAILED`, `INVALID_COMMAND` with `issues`, `FORBIDDEN`, …),
   * or `REQUEST_TIMEOUT`, `REQUEST_ABORTED`, `CONNECTION_LOST` (the command may have run; it is
   * not retried), `CLIENT_CLOSED`.
   */
  ask<R = unknown>(type: string, id: string, command: string, input?: unknown, options?: ClientAskOptions): Promise<R> {
    const frame: { kind: string; id: RequestId; entity: { type: string; id: string }; command: string; input?: unknown; traceparent?: string; tracestate?: string } =
      input === undefined
        ? { kind: 'command', id: 0 as RequestId, entity: { type, id }, command }
        : { kind: 'command', id: 0 as RequestId, entity: { type, id }, command, input };
    if (options?.traceparent !== undefined) {
      frame.traceparent = options.traceparent;
      if (options.tracestate !== undefined) frame.tracestate = options.tracestate;
    }
    return this.request(frame, options) as Promise<R>;
  }

  /**
   * Sends a command without waiting for its reply. Its failures are not reported here: the frame
   * says `tell: true`, so the server logs them at `warn`, as it does an in-process tell's.
   */
  tell(type: string, id: string, command: string, input?: unknown): void {
    const frame =
      input === undefined
        ? { kind: 'command', id: 0 as RequestId, entity: { type, id }, command, tell: true }
        : { kind: 'command', id: 0 as RequestId, entity: { type, id }, command, input, tell: true };
    this.request(frame, undefined).catch(() => {});
  }

  /**
   * A typed ref to a remote entity. Type it with the definition, imported as a type only so the
   * server's code stays out of the client's bundle:
   * `client.ref<typeof shoppingCart>('cart', 'c1')`, or pass the definition itself.
   */
  ref<T extends EntityType = EntityType>(type: T | NameOf<T>, id: string): ClientEntityRef<CommandsOf<T>, EventOf<T>, StateOf<T>> {
    const typeName: string = typeof type === 'string' ? type : type.name;
    const ref = {
      type: typeName,
      id,
      ask: (command: string, input?: unknown, options?: AskOptions) => this.ask(typeName, id, command, input, options),
      tell: (command: string, input?: unknown) => this.tell(typeName, id, command, input),
      subscribe: (options: ClientSubscribeOptions, listener?: (update: EntityUpdate<EventOf<T>, StateOf<T>>) => void) => this.subscribe<T>(typeName, id, options, listener),
      toString: () => `${typeName}/${id}`,
    };
    // `ask` and `tell` are typed by the definition's commands, which the server checks again.
    return ref as unknown as ClientEntityRef<CommandsOf<T>, EventOf<T>, StateOf<T>>;
  }

  /**
   * Subscribes to an entity's events and/or state. Resolves once the server acknowledged it.
   * Updates go to `listener`, or without one, queue for `for await`.
   */
  subscribe<T extends EntityType = EntityType>(
    type: T | NameOf<T>,
    id: string,
    options: ClientSubscribeOptions,
    listener?: (update: EntityUpdate<EventOf<T>, StateOf<T>>) => void,
  ): Promise<ClientSubscription<EventOf<T>, StateOf<T>>> {
    if (this.statusValue === 'closed') return Promise.reject(new ClientClosedError(this.closedBy));
    const typeName: string = typeof type === 'string' ? type : type.name;
    const sub = new ClientSubscription<EventOf<T>, StateOf<T>>(this, this.nextId++, typeName, id, options, listener);
    this.subs.set(sub.id, sub);
    const acked = new Promise<void>((resolve, reject) => {
      sub.firstAck = { resolve, reject };
    });
    const timeout = options.timeout ?? this.timeout;
    let timer: TimerHandle | null = null;
    if (timeout !== Infinity) {
      timer = this.clock.setTimeout(() => {
        this.release(sub);
        sub.end(new RequestTimeoutError(timeout));
      }, timeout);
    }
    const signal = options.signal;
    const onAbort = (): void => {
      this.release(sub);
      sub.end(new RequestAbortedError(signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted === true) onAbort();
    else if (this.statusValue === 'open') this.sendNow(sub.frame());
    return acked.then(
      () => {
        if (timer !== null) this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return sub;
      },
      (err: unknown) => {
        if (timer !== null) this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        throw err;
      },
    );
  }

  /** Application-level ping: resolves with the round trip in ms. */
  async ping(options?: AskOptions): Promise<number> {
    const start = this.clock.now();
    await this.request({ kind: 'ping', id: 0 }, options);
    return this.clock.now() - start;
  }

  /** Closes the connection; requests not yet answered fail with `CLIENT_CLOSED`, subscriptions end. */
  async close(): Promise<void> {
    if (this.statusValue === 'closed') return;
    const socket = this.socket;
    this.shutdown(undefined);
    if (socket !== null && socket.readyState === OPEN) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(() => {
          socket.terminate?.();
          resolve();
        }, this.connectTimeout);
        socket.onclose = () => {
          this.clock.clearTimeout(timer);
          resolve();
        };
        socket.close(1000, 'client closed');
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ------------------------------------------------------------ requests

  private request(frame: { kind: string; id: RequestId }, options: AskOptions | undefined): Promise<unknown> {
    if (this.statusValue === 'closed') return Promise.reject(new ClientClosedError(this.closedBy));
    const id = this.nextId++;
    frame.id = id;
    let encoded: string | Uint8Array;
    try {
      encoded = this.codec.encode(frame);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<unknown>((resolve, reject) => {
      const p: Pending = { resolve, reject, timer: null, signal: options?.signal, onAbort: null, frame: encoded };
      const timeout = options?.timeout ?? this.timeout;
      if (timeout !== Infinity) p.timer = this.clock.setTimeout(() => this.fail(id, new RequestTimeoutError(timeout)), timeout);
      const signal = options?.signal;
      if (signal !== undefined) {
        if (signal.aborted) {
          this.clearPending(p);
          reject(new RequestAbortedError(signal.reason));
          return;
        }
        p.onAbort = () => this.fail(id, new RequestAbortedError(signal.reason));
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.pending.set(id, p);
      if (this.statusValue === 'open' && this.socket !== null) {
        p.frame = null;
        this.socket.send(encoded);
      } else this.outbox.push(id);
    });
  }

  private take(id: RequestId): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    this.clearPending(p);
    return p;
  }

  private clearPending(p: Pending): void {
    if (p.timer !== null) this.clock.clearTimeout(p.timer);
    if (p.onAbort !== null) p.signal?.removeEventListener('abort', p.onAbort);
  }

  private fail(id: RequestId, err: Error): void {
    this.take(id)?.reject(err);
  }

  private sendNow(frame: object): void {
    try {
      this.socket?.send(this.codec.encode(frame));
    } catch {
      // The socket is going away; its close handler deals with what is in flight.
    }
  }

  /** @internal From a subscription: forget it, and tell the server if it knows it. */
  release(sub: ClientSubscription): void {
    if (this.subs.get(sub.id) !== sub) return;
    this.subs.delete(sub.id);
    if (sub.acked && this.statusValue === 'open') this.sendNow({ kind: 'unsubscribe', id: this.nextId++, subscription: sub.id });
  }

  // ------------------------------------------------------------ frames

  private receive(data: unknown): void {
    this.heard = true;
    let frame: ServerFrame | undefined;
    try {
      frame = this.codec.decode(data);
    } catch {
      frame = undefined;
    }
    if (frame === undefined) {
      this.protocolViolation('undecodable frame from the server');
      return;
    }
    switch (frame.kind) {
      case 'reply':
        this.take(frame.id)?.resolve(frame.result);
        return;
      case 'pong':
      case 'unsubscribed':
        this.take(frame.id)?.resolve(undefined);
        return;
      case 'error': {
        const e = frame.error;
        const err = new RemoteError(String(e?.code ?? 'INTERNAL_ERROR'), String(e?.message ?? ''), e?.issues, e?.details);
        if (frame.id === null) return; // about a frame the server could not read: nothing to correlate
        const p = this.take(frame.id);
        if (p !== undefined) {
          p.reject(err);
          return;
        }
        const sub = this.subs.get(frame.id);
        if (sub !== undefined) {
          this.subs.delete(frame.id);
          sub.end(err);
        }
        return;
      }
      case 'subscribed': {
        const sub = this.subs.get(frame.id);
        if (sub !== undefined) sub.acknowledged(frame.version);
        // Unsubscribed (or timed out) before the server acknowledged: end it there too.
        else this.sendNow({ kind: 'unsubscribe', id: this.nextId++, subscription: frame.id });
        return;
      }
      case 'update':
        this.subs.get(frame.subscription)?.receive(frame);
        return;
    }
  }

  // ------------------------------------------------------------ connection

  /**
   * @internal Opens a connection; resolves when open, rejects with `CONNECT_FAILED`. A failed
   * attempt moves on to the next URL (if there are several), for the next attempt.
   */
  async open(): Promise<void> {
    try {
      await this.openOnce();
    } catch (err) {
      this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      throw err;
    }
  }

  private async openOnce(): Promise<void> {
    const socket = await this.createSocket();
    await new Promise<void>((resolve, reject) => {
      let status: number | undefined;
      let done = false;
      const timer = this.clock.setTimeout(() => failed(new ConnectFailedError(`no connection within ${this.connectTimeout} ms`, undefined)), this.connectTimeout);
      const failed = (err: ConnectFailedError): void => {
        if (done) return;
        done = true;
        this.clock.clearTimeout(timer);
        socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
        try {
          if (socket.terminate !== undefined) socket.terminate();
          else socket.close();
        } catch {
          // already closed
        }
        reject(err);
      };
      socket.onerror = (event) => {
        // `ws` says which HTTP status refused the upgrade; browsers never tell.
        const m = /Unexpected server response: (\d+)/.exec(String(event?.message ?? (event?.error as Error | undefined)?.message ?? ''));
        if (m !== null) status = Number(m[1]);
        failed(new ConnectFailedError(status === undefined ? `cannot connect to ${this.url}` : `the server refused the connection with HTTP ${status}`, status, event?.error));
      };
      socket.onclose = (event) => failed(new ConnectFailedError(`the connection closed while opening (${event.code})`, status));
      socket.onopen = () => {
        if (done) return;
        const expected = this.codec.format === 'json' ? [SUBPROTOCOL_JSON, 'beamstate.v1'] : [SUBPROTOCOL_MSGPACK];
        if (!expected.includes(socket.protocol)) {
          failed(new ConnectFailedError(`the server did not accept the ${this.codec.format === 'json' ? SUBPROTOCOL_JSON : SUBPROTOCOL_MSGPACK} subprotocol`, undefined));
          return;
        }
        done = true;
        this.clock.clearTimeout(timer);
        this.attach(socket);
        resolve();
      };
    });
  }

  private async createSocket(): Promise<SocketLike> {
    const tokenOption = this.options.token;
    const token = typeof tokenOption === 'function' ? await tokenOption() : tokenOption;
    const Platform = this.options.WebSocket ?? (globalThis as { WebSocket?: new (url: string, protocols: string[]) => object }).WebSocket;
    const transport = this.options.tokenTransport ?? (Platform === undefined ? 'header' : 'protocol');
    if (transport === 'header' && Platform !== undefined && this.options.tokenTransport === 'header') {
      throw new InvalidOptionError('tokenTransport', "'header' needs Node's ws: a platform WebSocket cannot set headers");
    }
    const protocols = [this.codec.format === 'json' ? SUBPROTOCOL_JSON : SUBPROTOCOL_MSGPACK];
    let url = this.url;
    const headers: Record<string, string> = {};
    if (token !== undefined && token !== '') {
      if (transport === 'header') headers.authorization = `Bearer ${token}`;
      else if (transport === 'protocol') protocols.push(AUTH_SUBPROTOCOL_PREFIX + base64url(token));
      else url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
    }
    let socket: SocketLike;
    if (Platform !== undefined) socket = new Platform(url, protocols) as SocketLike;
    else {
      if (this.wsModule === null) {
        const ws = await import('ws');
        this.wsModule = ws.WebSocket as unknown as new (url: string, protocols: string[], options: object) => SocketLike;
      }
      socket = new this.wsModule(url, protocols, { headers, perMessageDeflate: false });
    }
    // Node's platform WebSocket (undici) defaults to Blobs, which need an await to read.
    if (socket.binaryType === 'blob') socket.binaryType = 'arraybuffer';
    return socket;
  }

  private attach(socket: SocketLike): void {
    this.socket = socket;
    this.attempt = 0;
    // As on the server: the opening handshake does not count; a live server answers the first ping.
    this.heard = false;
    this.silentTicks = 0;
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => this.lost(socket, event.code, event.reason);
    socket.onerror = () => {
      // The close event follows and carries the code.
    };
    this.setStatus('open');
    // Subscriptions first, so they are established before queued commands change the entities.
    for (const sub of this.subs.values()) {
      sub.acked = false;
      this.sendNow(sub.frame());
    }
    for (const id of this.outbox.splice(0)) {
      const p = this.pending.get(id);
      if (p === undefined || p.frame === null) continue;
      const frame = p.frame;
      p.frame = null;
      socket.send(frame);
    }
    if (this.heartbeatMs > 0) this.scheduleHeartbeat();
  }

  /** The connection dropped: fail what was in flight, then reconnect (or close). */
  private lost(socket: SocketLike, code: number, reason: string): void {
    if (this.socket !== socket) return;
    socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
    this.socket = null;
    this.stopHeartbeat();
    const err = new ConnectionLostError(code, reason);
    for (const [id, p] of [...this.pending]) {
      if (p.frame !== null) continue; // never sent: it waits for the next connection
      this.pending.delete(id);
      this.clearPending(p);
      p.reject(err);
    }
    for (const sub of this.subs.values()) sub.acked = false;
    if (this.statusValue === 'closed') return;
    if (this.reconnect === null) {
      this.shutdown(err);
      return;
    }
    this.setStatus('reconnecting', err);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const r = this.reconnect;
    if (r === null) return;
    if (this.attempt >= r.maxAttempts) {
      this.shutdown(new ConnectFailedError(`gave up reconnecting after ${this.attempt} attempts`, undefined));
      return;
    }
    const delay = backoffDelay(this.attempt++, r, Math.random());
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = null;
      if (this.statusValue === 'closed') return;
      this.open().catch((err: unknown) => {
        if (this.statusValue === 'closed') return;
        if (err instanceof ConnectFailedError && err.status !== undefined && PERMANENT.has(err.status)) {
          // Refused for good (a revoked token): retrying would only hammer the server.
          this.shutdown(err);
          return;
        }
        this.setStatus('reconnecting', err as Error);
        this.scheduleReconnect();
      });
    }, delay);
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = this.clock.setTimeout(() => this.heartbeat(), this.heartbeatMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /**
   * The server sent what is not a frame of the negotiated format. Whatever it was, a reply may be
   * lost in it, and waiting would only turn that into a timeout: drop the connection (close code
   * 4002), fail what is in flight with CONNECTION_LOST, and reconnect as for any lost connection.
   */
  private protocolViolation(reason: string): void {
    const socket = this.socket;
    if (socket === null) return;
    try {
      // 1002 is not allowed from a browser's WebSocket; 4002 is this protocol's own code for it.
      socket.close(CLIENT_PROTOCOL_ERROR, reason);
    } catch {
      // already closing
    }
    this.lost(socket, CLIENT_PROTOCOL_ERROR, reason);
  }

  /** Pings a silent server; drops the connection after two silent intervals. */
  private heartbeat(): void {
    this.heartbeatTimer = null;
    const socket = this.socket;
    if (socket === null) return;
    if (this.heard) {
      this.heard = false;
      this.silentTicks = 0;
    } else if (++this.silentTicks >= 2) {
      try {
        if (socket.terminate !== undefined) socket.terminate();
        else socket.close(4000, 'heartbeat timeout');
      } catch {
        // already closing
      }
      this.lost(socket, 1006, 'heartbeat timeout');
      return;
    } else this.sendNow({ kind: 'ping', id: this.nextId++ });
    this.scheduleHeartbeat();
  }

  private setStatus(status: ClientStatus, error?: Error): void {
    this.statusValue = status;
    try {
      if (error === undefined) this.options.onStatusChange?.(status);
      else this.options.onStatusChange?.(status, error);
    } catch {
      // A throwing callback must not disturb the client.
    }
  }

  /** @internal The first connection failed: the client is closed before anyone saw it. */
  abandon(error: Error): void {
    this.shutdown(error);
  }

  /** Closes for good: `error` undefined when the user closed, else why the client gave up. */
  private shutdown(error: Error | undefined): void {
    if (this.statusValue === 'closed') return;
    this.closedBy = error;
    this.stopHeartbeat();
    if (this.reconnectTimer !== null) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = this.socket;
    if (socket !== null) {
      socket.onmessage = socket.onerror = null;
      socket.onclose = null;
    }
    this.socket = null;
    this.setStatus('closed', error);
    const closed = new ClientClosedError(error);
    for (const p of this.pending.values()) {
      this.clearPending(p);
      p.reject(error ?? closed);
    }
    this.pending.clear();
    this.outbox.length = 0;
    for (const sub of [...this.subs.values()]) sub.end(error);
    this.subs.clear();
    if (socket !== null && error !== undefined) {
      try {
        socket.close(1000);
      } catch {
        // already closed
      }
    }
  }
}

/**
 * Connects to a beamstate gateway. Resolves once the connection is open (the first attempt is
 * not retried: it rejects with `CONNECT_FAILED`, with the HTTP `status` in Node when the server
 * refused, e.g. 401); later losses reconnect with backoff. Give several URLs (the gateways of a
 * cluster's nodes, docs/cluster.md) to fail over: the first that opens is used, and each
 * reconnection attempt after a loss tries the next.
 */
export async function connect(url: string | readonly string[], options: ConnectOptions = {}): Promise<GatewayClient> {
  // Several URLs (the gateways of a cluster's nodes): the first that opens is used, and after a
  // lost connection each reconnection attempt tries the next one.
  const urls = typeof url === 'string' ? [url] : Array.isArray(url) ? url : [];
  if (urls.length === 0) throw new InvalidOptionError('url', `must be a ws:// or wss:// URL or a non-empty array of them, got ${String(url)}`);
  for (const u of urls) if (typeof u !== 'string' || !/^wss?:\/\//.test(u)) throw new InvalidOptionError('url', `must be a ws:// or wss:// URL, got ${String(u)}`);
  const format = options.format ?? clientDefaults.format;
  if (format !== 'json' && format !== 'msgpack') throw new InvalidOptionError('format', `must be 'json' or 'msgpack', got ${String(format)}`);
  const client = new GatewayClient(urls, await clientCodec(format), options);
  let last: unknown;
  for (let i = 0; i < urls.length; i++) {
    try {
      await client.open();
      return client;
    } catch (err) {
      last = err;
      // Refused for good (e.g. 401): another node would say the same.
      if (err instanceof ConnectFailedError && err.status !== undefined && PERMANENT.has(err.status)) break;
    }
  }
  client.abandon(last as Error);
  throw last;
}

function checkTimeout(field: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) throw new InvalidOptionError(field, `must be a number > 0 (or Infinity), got ${String(value)}`);
  return value;
}

/** RFC 4648 §5 without padding, of the UTF-8 bytes: a valid subprotocol token. */
function base64url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
