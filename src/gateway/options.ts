import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { InvalidOptionError } from '../actors/errors.js';
import type { EntityRuntime } from '../entities/runtime.js';
import type { Logger } from '../logger.js';
import type { TracingOption } from '../tracing/options.js';
import type { Authenticate, Authorize } from './auth.js';

/** Bounds on what one client can make the gateway do. Each has a documented error or close code. */
export interface GatewayLimits {
  /** Largest message accepted, in bytes; a larger one closes the connection with 1009. Default 1 MiB. */
  readonly maxPayload?: number;
  /** Requests in flight per connection; more are answered `TOO_MANY_REQUESTS`. Default 1024. */
  readonly maxInFlight?: number;
  /** Subscriptions per connection; more are answered `TOO_MANY_SUBSCRIPTIONS`. Default 256. */
  readonly maxSubscriptions?: number;
  /** Open connections (and upgrades being authenticated); more are refused with HTTP 503 `TOO_MANY_CONNECTIONS`. Default 10 000. */
  readonly maxConnections?: number;
  /** Unsent bytes queued for one connection before it is closed with 4008 `SLOW_CONSUMER`. Default 4 MiB. */
  readonly sendHighWaterMark?: number;
  /** Deepest nesting of arrays and objects in a frame (the frame itself is 1); deeper is `NESTING_TOO_DEEP`. Default 64. */
  readonly maxDepth?: number;
}

/** WebSocket ping/pong. A connection silent for two intervals (pinged after the first) is terminated. */
export interface HeartbeatOptions {
  /** Default 30 000 ms. */
  readonly intervalMs?: number;
}

/** Options of {@link createGateway}. Defaults in {@link gatewayDefaults}. */
export interface GatewayOptions<P = unknown> {
  /** The entities to serve: commands and subscriptions go to this runtime. */
  readonly runtime: EntityRuntime;
  /** Attach to this HTTP(S) server's `upgrade` event instead of listening on a port of its own. */
  readonly server?: HttpServer | HttpsServer;
  /** Without `server`: the port to listen on (0 picks a free one). Default 8080. */
  readonly port?: number;
  /**
   * Without `server`: the interface to listen on. Default `'127.0.0.1'` (loopback, as the CLI):
   * reachable from this machine only until you choose otherwise (`'0.0.0.0'` or `'::'` for all).
   */
  readonly host?: string;
  /**
   * Only upgrades to this path (query string ignored) are served. On a server of its own the
   * gateway answers others with 404; on your server it leaves them to your other `upgrade`
   * listeners. Default: every path.
   */
  readonly path?: string;
  /** Runs on each upgrade, before the WebSocket exists; no principal means HTTP 401. Default: everyone, principal `undefined`. */
  readonly authenticate?: Authenticate<P>;
  /** Runs on each command and subscription; `false` means error frame `FORBIDDEN`. Default: everything allowed. */
  readonly authorize?: Authorize<P>;
  readonly limits?: GatewayLimits;
  /** `false` turns heartbeats off. */
  readonly heartbeat?: HeartbeatOptions | false;
  /**
   * How long an `authenticate` hook may take. An upgrade not decided by then is refused with HTTP
   * 503 `AUTHENTICATION_TIMEOUT` and stops counting against `limits.maxConnections`, so a hung
   * identity service cannot use up the gateway's connections. Default 10 000 ms.
   */
  readonly authenticateTimeoutMs?: number;
  /** How long `close()` waits for requests in flight before closing sockets anyway. Default 10 000 ms. */
  readonly drainTimeoutMs?: number;
  /** How long `close()` waits for clients to complete the closing handshake before terminating them. Default 5000 ms. */
  readonly closeTimeoutMs?: number;
  /** Default the runtime's logger (the system's: warnings and errors to stderr unless you gave one). */
  readonly logger?: Logger;
  /**
   * OpenTelemetry spans for each command (docs/observer.md, "Traces"): `true` for the globally
   * registered tracer provider, `{ tracerProvider }` for one of yours. Needs the optional peer
   * dependency `@opentelemetry/api`, loaded by `createGateway` only when this is set (without it,
   * `INVALID_OPTION`). Default `false`: nothing loaded, nothing recorded.
   */
  readonly tracing?: TracingOption;
}

/** Every default of {@link GatewayOptions}, in one place. */
export const gatewayDefaults = {
  port: 8080,
  host: '127.0.0.1',
  limits: {
    maxPayload: 1024 * 1024,
    maxInFlight: 1024,
    maxSubscriptions: 256,
    maxConnections: 10_000,
    sendHighWaterMark: 4 * 1024 * 1024,
    maxDepth: 64,
  },
  heartbeat: { intervalMs: 30_000 },
  authenticateTimeoutMs: 10_000,
  drainTimeoutMs: 10_000,
  closeTimeoutMs: 5000,
} as const;

/** The limits with every default filled in. @internal */
export interface ResolvedLimits {
  readonly maxPayload: number;
  readonly maxInFlight: number;
  readonly maxSubscriptions: number;
  readonly maxConnections: number;
  readonly sendHighWaterMark: number;
  readonly maxDepth: number;
}

/** @internal */
export interface ResolvedOptions<P> {
  readonly runtime: EntityRuntime;
  readonly server: HttpServer | HttpsServer | undefined;
  readonly port: number;
  readonly host: string | undefined;
  readonly path: string | undefined;
  readonly authenticate: Authenticate<P> | undefined;
  readonly authorize: Authorize<P> | undefined;
  readonly limits: ResolvedLimits;
  /** 0: off. */
  readonly heartbeatMs: number;
  readonly authenticateTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly logger: Logger;
}

/** Checks every option at once and fills in the defaults; a bad one throws `INVALID_OPTION` naming it. @internal */
export function resolveOptions<P>(options: GatewayOptions<P>): ResolvedOptions<P> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'createGateway takes an options object');
  const runtime = options.runtime;
  if (typeof runtime !== 'object' || runtime === null || typeof runtime.refFor !== 'function') {
    throw new InvalidOptionError('runtime', 'an EntityRuntime is required');
  }
  const server = options.server;
  if (server !== undefined && (typeof server !== 'object' || server === null || typeof server.on !== 'function')) {
    throw new InvalidOptionError('server', 'must be an http.Server or https.Server');
  }
  if (server !== undefined && options.port !== undefined) throw new InvalidOptionError('port', 'give either server or port, not both');
  const port = options.port ?? gatewayDefaults.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidOptionError('port', `must be an integer from 0 to 65535, got ${String(port)}`);
  if (options.host !== undefined && typeof options.host !== 'string') throw new InvalidOptionError('host', 'must be a string');
  const path = options.path;
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) throw new InvalidOptionError('path', `must be a string starting with '/', got ${String(path)}`);
  for (const hook of ['authenticate', 'authorize'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') throw new InvalidOptionError(hook, 'must be a function');
  }
  const l = options.limits ?? {};
  if (typeof l !== 'object' || l === null) throw new InvalidOptionError('limits', 'must be an object');
  const d = gatewayDefaults.limits;
  const limits: ResolvedLimits = {
    maxPayload: positiveInt('limits.maxPayload', l.maxPayload ?? d.maxPayload),
    maxInFlight: positiveInt('limits.maxInFlight', l.maxInFlight ?? d.maxInFlight),
    maxSubscriptions: positiveInt('limits.maxSubscriptions', l.maxSubscriptions ?? d.maxSubscriptions),
    maxConnections: positiveInt('limits.maxConnections', l.maxConnections ?? d.maxConnections),
    sendHighWaterMark: positiveInt('limits.sendHighWaterMark', l.sendHighWaterMark ?? d.sendHighWaterMark),
    maxDepth: positiveInt('limits.maxDepth', l.maxDepth ?? d.maxDepth),
  };
  for (const key of Object.keys(l)) {
    if (!(key in d)) throw new InvalidOptionError(`limits.${key}`, 'unknown limit');
  }
  // The frame itself and its `entity` object take two levels: fewer leaves nothing for input.
  if (limits.maxDepth < 2) throw new InvalidOptionError('limits.maxDepth', `must be >= 2, got ${limits.maxDepth}`);
  const hb = options.heartbeat;
  let heartbeatMs: number;
  if (hb === false) heartbeatMs = 0;
  else if (hb === undefined) heartbeatMs = gatewayDefaults.heartbeat.intervalMs;
  else if (typeof hb === 'object' && hb !== null) heartbeatMs = positiveInt('heartbeat.intervalMs', hb.intervalMs ?? gatewayDefaults.heartbeat.intervalMs);
  else throw new InvalidOptionError('heartbeat', 'must be { intervalMs } or false');
  return {
    runtime,
    server,
    port,
    host: options.host ?? gatewayDefaults.host,
    path,
    authenticate: options.authenticate,
    authorize: options.authorize,
    limits,
    heartbeatMs,
    authenticateTimeoutMs: positiveNumber('authenticateTimeoutMs', options.authenticateTimeoutMs ?? gatewayDefaults.authenticateTimeoutMs),
    drainTimeoutMs: nonNegative('drainTimeoutMs', options.drainTimeoutMs ?? gatewayDefaults.drainTimeoutMs),
    closeTimeoutMs: nonNegative('closeTimeoutMs', options.closeTimeoutMs ?? gatewayDefaults.closeTimeoutMs),
    logger: (options.logger ?? runtime.system.logger).child({ component: 'gateway' }),
  };
}

function positiveInt(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new InvalidOptionError(field, `must be an integer >= 1, got ${String(value)}`);
  return value;
}

function positiveNumber(field: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || value === Number.POSITIVE_INFINITY) throw new InvalidOptionError(field, `must be a finite number > 0, got ${String(value)}`);
  return value;
}

function nonNegative(field: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0)) throw new InvalidOptionError(field, `must be a number >= 0, got ${String(value)}`);
  return value;
}
