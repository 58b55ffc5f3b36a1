import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { type Clock, keepAlive, type TimerHandle } from '../actors/clock.js';
import type { EntityRuntime } from '../entities/runtime.js';
import type { Logger } from '../logger.js';
import type { Authenticate } from './auth.js';
import { codecFor, type ServerCodec } from './codec.js';
import { Connection, type ConnectionHost, GatewayStats } from './connection.js';
import {
  AuthenticationFailedError,
  AuthenticationTimeoutError,
  EarlyDataTooLargeError,
  PathNotFoundError,
  ShuttingDownError,
  TooManyConnectionsError,
  UnauthenticatedError,
  UnsupportedSubprotocolError,
  type UpgradeRejection,
} from './errors.js';
import { type GatewayOptions, type ResolvedLimits, resolveOptions } from './options.js';
import { loadTracing, type Tracing } from '../tracing/tracing.js';
import { CloseCode, type FrameFormat } from './protocol.js';
import { EarlyReader, type Negotiated, negotiate, rejectUpgrade } from './upgrade.js';

const NEGOTIATED = Symbol('beamstate.negotiated');
type UpgradeRequest = IncomingMessage & { [NEGOTIATED]?: string };

const ignore = (): void => {};

/**
 * Something served beside the gateway on its HTTP server (the observer: its page, `/metrics`,
 * `/alive`, `/ready`). Each hook answers true when it took the request or upgrade; mounts are
 * asked in the order they were added, before the gateway's own handling.
 */
export interface HttpMount {
  request?(req: IncomingMessage, res: ServerResponse): boolean;
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** The gateway is closing: end what was upgraded (the HTTP server waits for those sockets). */
  close?(): Promise<void> | void;
}
/** Most bytes a client may send before its upgrade is answered (it should send none), the upgrade's `head` included; more refuses it (HTTP 413). */
const MAX_EARLY_BYTES = 64 * 1024;

/**
 * A WebSocket gateway in front of an entity runtime: clients send commands to entities and
 * subscribe to their events or state over the `beamstate.v1` protocol (`docs/protocol.md`).
 * Made by {@link createGateway}; `close()` (or `await using`) shuts it down gracefully.
 */
export class Gateway<P = unknown> implements AsyncDisposable {
  /** @internal */ readonly logger: Logger;
  private readonly runtime: EntityRuntime;
  private readonly limits: ResolvedLimits;
  private closing = false;
  /** What connections see of the gateway (kept off the public type, which must not depend on `ws`'s types). */
  private readonly host: ConnectionHost<P>;
  private readonly authenticate: Authenticate<P> | undefined;
  private readonly path: string | undefined;
  private readonly clock: Clock;
  private readonly heartbeatMs: number;
  private readonly drainTimeoutMs: number;
  private readonly authenticateTimeoutMs: number;
  private readonly wss: WebSocketServer;
  private readonly codecs: Record<FrameFormat, ServerCodec>;
  private readonly conns = new Set<Connection<P>>();
  /** @internal Counters for the observer. */
  readonly stats = new GatewayStats();
  /** @internal What `mount` added: asked first, on plain requests and on upgrades. */
  readonly mounts: HttpMount[] = [];
  private readonly kinds = new Map<string, string>();
  /** Upgrades whose `authenticate` hook has not decided: each refuses its upgrade with the given rejection. */
  private readonly authenticating = new Set<(rejection: UpgradeRejection | ShuttingDownError) => void>();
  private inflight = 0;
  private drained: (() => void) | null = null;
  private allClosed: (() => void) | null = null;
  private heartbeatTimer: TimerHandle | null = null;
  private stopped: Promise<void> | null = null;
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.upgrade(req, socket, head);

  /** @internal Use {@link createGateway}. */
  constructor(
    options: GatewayOptions<P>,
    /** The HTTP server upgrades arrive on. */
    readonly server: HttpServer | HttpsServer,
    private readonly ownServer: boolean,
    /** Spans of commands (src/tracing), or null: not traced. */
    tracing: Tracing | null = null,
  ) {
    const o = resolveOptions(options);
    this.runtime = o.runtime;
    // Commands other nodes forward to this one (src/cluster) are traced with the same tracer.
    if (tracing !== null) o.runtime.tracer = tracing;
    this.limits = o.limits;
    this.authenticate = o.authenticate;
    this.logger = o.logger;
    this.path = o.path;
    this.clock = o.runtime.system.clock;
    this.heartbeatMs = o.heartbeatMs;
    this.drainTimeoutMs = o.drainTimeoutMs;
    this.authenticateTimeoutMs = o.authenticateTimeoutMs;
    this.codecs = { json: codecFor('json', o.limits.maxDepth), msgpack: codecFor('msgpack', o.limits.maxDepth) };
    // `closeTimeout` (ws >= 8.18) bounds the closing handshake; @types/ws does not know it yet.
    const wsOptions = {
      noServer: true,
      clientTracking: false,
      maxPayload: o.limits.maxPayload,
      perMessageDeflate: false,
      closeTimeout: o.closeTimeoutMs,
      handleProtocols: (_offered: Set<string>, req: IncomingMessage) => (req as UpgradeRequest)[NEGOTIATED] ?? false,
    };
    this.wss = new WebSocketServer(wsOptions);
    const gateway = this;
    this.host = {
      runtime: o.runtime,
      limits: o.limits,
      authorize: o.authorize,
      logger: o.logger,
      tracing,
      get closing() {
        return gateway.closing;
      },
      kindOf: (typeName) => this.kindOf(typeName),
      started: () => {
        this.inflight++;
      },
      settled: () => {
        if (--this.inflight === 0 && this.drained !== null) this.drained();
      },
      removed: (connection) => this.removed(connection),
      stats: this.stats,
    };
    server.on('upgrade', this.onUpgrade);
    if (this.heartbeatMs > 0) this.scheduleHeartbeat();
  }

  /** The URL clients connect to (`ws://host:port/path`), once the HTTP server listens. */
  get url(): string | undefined {
    const a = this.server.address();
    if (a === null || typeof a === 'string') return undefined;
    const host = a.address === '::' || a.address === '0.0.0.0' ? 'localhost' : a.family === 'IPv6' ? `[${a.address}]` : a.address;
    const scheme = typeof (this.server as { addContext?: unknown }).addContext === 'function' ? 'wss' : 'ws';
    return `${scheme}://${host}:${a.port}${this.path ?? '/'}`;
  }

  /** The port the HTTP server listens on. */
  get port(): number | undefined {
    const a = this.server.address();
    return a === null || typeof a === 'string' ? undefined : a.port;
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.conns.size;
  }

  /**
   * Graceful shutdown: refuses new connections (HTTP 503) and new requests (`SHUTTING_DOWN`),
   * waits for requests in flight to be answered (up to `drainTimeoutMs`), then closes every
   * connection with 1001 and, if the gateway made its HTTP server, closes it. The entity runtime
   * is not stopped (it is yours). Idempotent.
   */
  close(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Serves `mount` on the gateway's HTTP server (before the gateway's own handling); returns a
   * function that removes it. On a server you made, plain requests are yours: pass them on to
   * the mount yourself (`observer.handle(req, res)`); upgrades reach it through the gateway.
   */
  mount(mount: HttpMount): () => void {
    this.mounts.push(mount);
    return () => {
      const i = this.mounts.indexOf(mount);
      if (i >= 0) this.mounts.splice(i, 1);
    };
  }

  /**
   * @internal The authenticate hook, for a mount that authenticates as the gateway does (the
   * observer). Not `authorize`: a parameter of type P would make `Gateway<P>` invariant in P.
   */
  get hooks(): { readonly authenticate: Authenticate<P> | undefined } {
    return { authenticate: this.authenticate };
  }

  /** @internal True once `close()` was called. */
  get isClosing(): boolean {
    return this.closing;
  }

  // ------------------------------------------------------------ upgrades

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    for (let i = 0; i < this.mounts.length; i++) if ((this.mounts[i] as HttpMount).upgrade?.(req, socket, head) === true) return;
    if (this.path !== undefined) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      if ((q < 0 ? url : url.slice(0, q)) !== this.path) {
        // On a server of its own nobody else will answer; on yours, other listeners may.
        if (this.ownServer) rejectUpgrade(socket, new PathNotFoundError());
        return;
      }
    }
    // Until `ws` takes the socket, a reset would be an unhandled 'error' event.
    socket.on('error', ignore);
    if (this.closing) return rejectUpgrade(socket, new ShuttingDownError());
    if (this.conns.size + this.authenticating.size >= this.limits.maxConnections) {
      this.logger.warn({ limit: this.limits.maxConnections }, 'connection refused: too many connections');
      return rejectUpgrade(socket, new TooManyConnectionsError(this.limits.maxConnections));
    }
    const negotiated = negotiate(req.headers['sec-websocket-protocol']);
    if (negotiated === undefined) return rejectUpgrade(socket, new UnsupportedSubprotocolError());
    const authenticate = this.authenticate;
    if (authenticate === undefined) return this.complete(req, socket, head, negotiated, undefined as P);
    // Exactly one of: a decision, a failure, the timeout, the client going away or the gateway
    // closing settles the upgrade and gives its place under maxConnections back.
    let settled = false;
    let reader: EarlyReader | null = null; // reads the socket while an async hook decides
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.authenticating.delete(refuse);
      this.clock.clearTimeout(timer);
      socket.removeListener('close', settle);
      if (reader !== null) head = reader.stop(); // paused: `complete` resumes it once `ws` listens
      return true;
    };
    const refuse = (rejection: UpgradeRejection | ShuttingDownError): void => {
      if (settle()) rejectUpgrade(socket, rejection);
    };
    this.authenticating.add(refuse);
    const timer = this.clock.setTimeout(() => {
      if (settled) return;
      this.logger.warn({ url: req.url, timeoutMs: this.authenticateTimeoutMs }, 'connection refused: authenticate hook did not decide in time');
      this.stats.authFailures++;
      refuse(new AuthenticationTimeoutError(this.authenticateTimeoutMs));
    }, this.authenticateTimeoutMs);
    keepAlive(timer, false);
    socket.once('close', settle);
    const failed = (err: unknown): void => {
      if (!settle()) return;
      this.logger.error({ err }, 'authenticate hook failed');
      this.stats.authFailures++;
      rejectUpgrade(socket, new AuthenticationFailedError(err));
    };
    const decided = (principal: P | undefined | null | false): void => {
      if (!settle()) return;
      if (principal === undefined || principal === null || principal === false) {
        this.logger.debug({ url: req.url }, 'connection refused: not authenticated');
        this.stats.authFailures++;
        return rejectUpgrade(socket, new UnauthenticatedError());
      }
      if (this.closing) return rejectUpgrade(socket, new ShuttingDownError());
      this.complete(req, socket, head, negotiated, principal, reader !== null);
    };
    let result: ReturnType<Authenticate<P>>;
    try {
      result = authenticate(req);
    } catch (err) {
      return failed(err);
    }
    if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
      // While the hook decides, a hang-up (the end of the stream here; a reset is 'close') gives
      // the place back at once, instead of at the timeout.
      // The promise is handled first: an overflow can settle the upgrade from the reader's constructor.
      (result as Promise<P | undefined>).then(decided, failed);
      reader = new EarlyReader(
        socket,
        head,
        MAX_EARLY_BYTES,
        () => {
          if (settle()) socket.destroy();
        },
        (bytes) => {
          if (!settle()) return;
          this.logger.warn({ url: req.url, bytes, limit: MAX_EARLY_BYTES }, 'connection refused: the client sent too much before its upgrade was answered');
          // Read and discard what else comes until the answer is out, so that the client gets
          // it rather than a reset for unread data.
          socket.resume();
          rejectUpgrade(socket, new EarlyDataTooLargeError(MAX_EARLY_BYTES));
        },
      );
    } else {
      decided(result as P | undefined);
    }
  }

  private complete(req: IncomingMessage, socket: Duplex, head: Buffer, negotiated: Negotiated, principal: P, resume = false): void {
    if (socket.destroyed) return;
    socket.removeListener('error', ignore);
    (req as UpgradeRequest)[NEGOTIATED] = negotiated.protocol;
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => this.accept(ws, socket as Socket, negotiated.format, principal));
    // Paused while the hook decided; `ws` has its listeners by now (handleUpgrade is synchronous).
    if (resume) socket.resume();
  }

  private accept(ws: WebSocket, socket: Socket, format: FrameFormat, principal: P): void {
    if (this.closing) {
      ws.close(CloseCode.GOING_AWAY, 'server shutting down');
      return;
    }
    const connection = new Connection<P>(this.host, ws, socket, this.codecs[format], principal);
    this.conns.add(connection);
    this.logger.debug({ format, connections: this.conns.size }, 'connection opened');
  }

  // ------------------------------------------------------------ what connections need

  private kindOf(typeName: string): string | undefined {
    let kind = this.kinds.get(typeName);
    if (kind === undefined) {
      // Types registered since the last look-up.
      for (const [name, type] of this.runtime.types) this.kinds.set(name, type.kind);
      kind = this.kinds.get(typeName);
    }
    return kind;
  }

  private removed(connection: Connection<P>): void {
    this.conns.delete(connection);
    this.logger.debug({ connections: this.conns.size }, 'connection closed');
    if (this.conns.size === 0 && this.allClosed !== null) this.allClosed();
  }

  // ------------------------------------------------------------ heartbeats

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = this.clock.setTimeout(() => this.heartbeat(), this.heartbeatMs);
    // The gateway's listening socket keeps the process alive, not its heartbeat.
    keepAlive(this.heartbeatTimer, false);
  }

  /** Pings connections silent since the last tick; terminates those silent for two. */
  private heartbeat(): void {
    this.heartbeatTimer = null;
    for (const c of this.conns) {
      if (c.closed) continue;
      if (c.heard) {
        c.heard = false;
        c.silentTicks = 0;
        continue;
      }
      if (++c.silentTicks >= 2) {
        this.logger.debug({}, 'terminating a silent connection');
        c.terminate();
        continue;
      }
      try {
        c.ws.ping();
      } catch (err) {
        this.logger.debug({ err }, 'ping failed');
      }
    }
    if (!this.closing || this.conns.size > 0) this.scheduleHeartbeat();
  }

  // ------------------------------------------------------------ shutdown

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.logger.info({ connections: this.conns.size, inflight: this.inflight }, 'gateway closing');
    // Upgrades still being authenticated will not be served: refuse them now rather than wait.
    for (const refuse of [...this.authenticating]) refuse(new ShuttingDownError());
    // Stop listening at once: new TCP connections are refused, upgrades on open ones get 503.
    const serverClosed = this.ownServer ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
    // What mounts upgraded (observer pages) holds the server open: they close with it.
    for (const m of [...this.mounts]) {
      try {
        await m.close?.();
      } catch (err) {
        this.logger.warn({ err }, 'a mount failed to close');
      }
    }
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, this.drainTimeoutMs);
        this.drained = () => {
          this.clock.clearTimeout(timer);
          resolve();
        };
      });
      this.drained = null;
      if (this.inflight > 0) this.logger.warn({ inflight: this.inflight }, 'drain timed out; closing connections with requests in flight');
    }
    if (this.conns.size > 0) {
      await new Promise<void>((resolve) => {
        this.allClosed = resolve;
        // Replies sent while draining are queued before the close frame, so they reach the client.
        for (const c of [...this.conns]) c.shut(CloseCode.GOING_AWAY, 'server shutting down');
      });
      this.allClosed = null;
    }
    if (this.heartbeatTimer !== null) this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.server.removeListener('upgrade', this.onUpgrade);
    this.wss.close();
    if (this.ownServer) {
      (this.server as HttpServer).closeIdleConnections();
      await serverClosed;
    }
    this.logger.info({}, 'gateway closed');
  }
}

/**
 * Starts a gateway. Without `server` it makes an HTTP server and listens on `port` (default
 * 8080; 0 picks a free one), resolving once it listens; with `server` it attaches to that
 * server's upgrades.
 *
 * ```ts
 * const gateway = await createGateway({ runtime: entities, port: 8080 });
 * console.log(`listening on ${gateway.url}`);
 * // …
 * await gateway.close(); // drains requests in flight, closes connections with 1001
 * ```
 */
export async function createGateway<P = unknown>(options: GatewayOptions<P>): Promise<Gateway<P>> {
  const o = resolveOptions(options);
  // Loaded only when asked for: without `tracing`, @opentelemetry/api is never imported.
  const tracing = options.tracing === undefined || options.tracing === false ? null : await loadTracing(options.tracing);
  if (o.server !== undefined) return new Gateway(options, o.server, false, tracing);
  let gateway: Gateway<P> | undefined = undefined;
  const server = createServer((req, res) => {
    const mounts = gateway?.mounts;
    if (mounts !== undefined) for (let i = 0; i < mounts.length; i++) if ((mounts[i] as HttpMount).request?.(req, res) === true) return;
    // Plain HTTP requests get told what this endpoint is for.
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close', Upgrade: 'websocket' });
    res.end('this is a beamstate WebSocket endpoint: connect with the beamstate.v1.json or beamstate.v1.msgpack subprotocol\n');
  });
  gateway = new Gateway(options, server, true, tracing);
  const made = gateway;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await made.close();
    throw err;
  }
  made.logger.info({ url: made.url }, 'gateway listening');
  return made;
}
