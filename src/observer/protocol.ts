/**
 * The observer's channel: JSON text frames over a WebSocket with subprotocol
 * `beamstate.observer.v1`. Shared by the server and the page (types only; no runtime imports),
 * so the two cannot drift apart. Described in docs/observer.md.
 */
export const OBSERVER_SUBPROTOCOL = 'beamstate.observer.v1';

/** Columns the process table sorts by. */
export const PROCESS_SORT_KEYS = ['id', 'name', 'behaviour', 'status', 'mailbox', 'rate', 'owed', 'memory'] as const;
export type ProcessSortKey = (typeof PROCESS_SORT_KEYS)[number];

export const ACTIONS = ['kill', 'restart-child', 'terminate-child', 'passivate'] as const;
export type ObserverAction = (typeof ACTIONS)[number];

/** What the process table shows: a search, a sort and one page. */
export interface ProcessQuery {
  /** Case-insensitive substring of the id (`<42>`), name or behaviour; empty for all. */
  readonly search: string;
  readonly sort: ProcessSortKey;
  readonly desc: boolean;
  /** 0-based. */
  readonly page: number;
  /** 1 to 200. */
  readonly pageSize: number;
}

// ---------------------------------------------------------------- client → server

export type ClientFrame =
  /** Starts (or changes) the pushed updates; `processes` replaces the table's query. */
  | { readonly op: 'watch'; readonly processes?: Partial<ProcessQuery> }
  /** One process's detail. */
  | { readonly op: 'process'; readonly ref: number; readonly id: number }
  /** One entity by type and id: state, sequence number, recent events. Never activates it. */
  | { readonly op: 'entity'; readonly ref: number; readonly type: string; readonly id: string }
  /**
   * An action, only when the server enables actions and `authorizeAction` allows it. `target`:
   * an actor id for `kill`; `supervisor` (actor id) and `child` (child spec id) for
   * `restart-child`/`terminate-child`; `type` and `id` for `passivate`.
   */
  | {
      readonly op: 'action';
      readonly ref: number;
      readonly action: ObserverAction;
      readonly actor?: number;
      readonly supervisor?: number;
      readonly child?: string;
      readonly type?: string;
      readonly id?: string;
    };

// ---------------------------------------------------------------- server → client

export interface WireError {
  readonly code: string;
  readonly message: string;
}

export interface TreeNode {
  readonly id: number;
  readonly name: string | undefined;
  readonly kind: 'supervisor' | 'dynamic-supervisor' | 'worker';
  /** The child spec's id under a static supervisor. */
  readonly childId: string | undefined;
  readonly status: 'running' | 'restarting' | 'stopped';
  /** Restarts of this child by its supervisor. */
  readonly restarts: number;
  /** Restarts of any child, for a supervisor. */
  readonly childRestarts: number;
  /** Why this child last exited or failed to start (as its supervisor saw it); undefined if it never has. */
  readonly lastExit: string | undefined;
  /** All children; `children` holds at most the observer's `treeChildLimit` of them. */
  readonly total: number;
  readonly children: readonly TreeNode[];
}

export interface ProcessRow {
  readonly id: number;
  readonly name: string | undefined;
  readonly behaviour: string;
  readonly status: 'running' | 'runnable' | 'waiting' | 'stopping';
  readonly mailbox: number;
  /** Messages handled per second over the last update interval. */
  readonly rate: number;
  readonly owed: number;
  /** Bytes, an estimate: see docs/observer.md. */
  readonly memory: number;
}

export interface ProcessDetail extends ProcessRow {
  readonly parent: number | undefined;
  readonly links: readonly number[];
  readonly monitors: number;
  readonly monitoring: number;
  readonly timers: boolean;
  readonly stash: number;
  readonly trapExit: boolean;
  readonly handled: number;
}

export interface EntityTypeRow {
  readonly type: string;
  readonly kind: string;
  readonly active: number;
  readonly passivating: number;
  readonly activations: number;
  readonly recoveries: number;
  readonly recoveryFailures: number;
  readonly passivations: number;
  readonly poisonCommands: number;
  readonly snapshots: number;
  readonly eventsPersisted: number;
  /** Events persisted per second over the last interval. */
  readonly eventsPerSecond: number;
}

export interface EntityDetail {
  readonly type: string;
  readonly id: string;
  readonly active: boolean;
  /** The state in memory (active entities only), made JSON-safe and cut to the observer's size limit. */
  readonly state: unknown;
  readonly sequenceNr: number;
  readonly queued: number;
  readonly actor: number | undefined;
  readonly recentEvents: readonly { readonly sequenceNr: number; readonly type: string; readonly payload: unknown }[];
}

export interface Overview {
  readonly system: string;
  readonly uptimeMs: number;
  readonly actors: number;
  readonly activeEntities: number;
  readonly supervisorRestarts: number;
  /** Dead letters seen since the observer began watching. */
  readonly deadLetters: number;
  readonly heapUsed: number;
  readonly rss: number;
}

export interface JournalPanel {
  readonly appends: number;
  readonly events: number;
  readonly batches: number;
  readonly conflicts: number;
  readonly largestBatch: number;
  readonly appendsPerSecond: number;
  /** Appends per batch over the last interval (0 when none ran). */
  readonly batchSize: number;
}

export interface GatewayPanel {
  readonly attached: boolean;
  readonly connections: number;
  readonly observers: number;
  readonly framesIn: number;
  /** Frames received per second over the last interval. */
  readonly framesPerSecond: number;
  readonly slowConsumersClosed: number;
  readonly authFailures: number;
  readonly forbidden: number;
}

export interface Update {
  readonly type: 'update';
  /** Milliseconds since the epoch, server clock. */
  readonly at: number;
  readonly overview: Overview;
  readonly tree: readonly TreeNode[];
  readonly processes: { readonly total: number; readonly query: ProcessQuery; readonly rows: readonly ProcessRow[] };
  readonly entities: readonly EntityTypeRow[];
  readonly journal: JournalPanel;
  readonly gateway: GatewayPanel;
}

export type ServerFrame =
  | { readonly type: 'hello'; readonly actions: boolean; readonly intervalMs: number; readonly system: string }
  | Update
  | { readonly type: 'reply'; readonly ref: number; readonly ok: true; readonly result: unknown }
  | { readonly type: 'reply'; readonly ref: number; readonly ok: false; readonly error: WireError }
  | { readonly type: 'error'; readonly error: WireError };
