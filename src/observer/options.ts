import type { ActorSystem } from '../actors/system.js';
import type { EntityRuntime } from '../entities/runtime.js';
import type { Authenticate } from '../gateway/auth.js';
import type { Gateway } from '../gateway/server.js';
import type { Logger } from '../logger.js';
import type { ObserverAction } from './protocol.js';

/** What `authorizeAction` is asked. `target` names what the action acts on: `<42>`, `<7>/worker`, `cart/c-1`. */
export interface ObserverActionRequest {
  readonly action: ObserverAction;
  readonly target: string;
}

export interface ObserverOptions<P = unknown> {
  /** The entity runtime to show (its system, store and entity types). */
  readonly runtime?: EntityRuntime;
  /** The actor system to show; default the runtime's. One of the two is required. */
  readonly system?: ActorSystem;
  /** Serve on this gateway's HTTP server (`gateway.mount`) and take its `authenticate` hook. */
  readonly gateway?: Gateway<P>;
  /** Where the page is served; its channel is `<path>/ws`. Default `'/observer'`. */
  readonly path?: string;
  /** Who may watch: decides from the channel's upgrade request, as the gateway's hook. Default the gateway's. */
  readonly authenticate?: Authenticate<P>;
  /**
   * With no `authenticate` hook (here or on the gateway), the page's channel is refused (HTTP 401)
   * unless this is true: the observer shows every actor and entity state. Default false.
   */
  readonly allowAnonymous?: boolean;
  /** Allow actions (kill, restart or terminate a child, passivate) from the page. Default false: read-only. */
  readonly actions?: boolean;
  /** Decides each action, for the principal `authenticate` gave. Without it every action is refused, even with `actions: true`. */
  readonly authorizeAction?: (principal: P, request: ObserverActionRequest) => boolean | Promise<boolean>;
  /** How often a connected page is sent an update. Default 1000 ms. */
  readonly intervalMs?: number;
  /** Serve `/metrics` (Prometheus text). Default true. */
  readonly metrics?: boolean;
  /** Also export prom-client's process metrics (CPU, memory, event-loop lag, GC), from the first scrape on. Default true. */
  readonly processMetrics?: boolean;
  /** Serve `/alive` and `/ready`. Default true. */
  readonly health?: boolean;
  /** More for `/ready` to hold (a cluster: the node holds its shards). Default none. */
  readonly ready?: () => boolean;
  /** Children shown per supervisor in the tree (the rest are counted). Default 50. */
  readonly treeChildLimit?: number;
  /** An entity's state is cut beyond this many bytes of JSON. Default 16 384. */
  readonly maxStateBytes?: number;
  /** Pages connected at once; more are refused with HTTP 503. Default 16. */
  readonly maxConnections?: number;
  readonly logger?: Logger;
}

/** Every default of {@link ObserverOptions}, in one place. */
export const observerDefaults = {
  path: '/observer',
  allowAnonymous: false,
  actions: false,
  intervalMs: 1000,
  metrics: true,
  processMetrics: true,
  health: true,
  treeChildLimit: 50,
  maxStateBytes: 16_384,
  maxConnections: 16,
} as const;
