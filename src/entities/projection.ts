import type { ActorContext, Behavior } from '../actors/behavior.js';
import type { ActorSystem } from '../actors/system.js';
import type { Logger } from '../logger.js';
import type { Store } from '../persistence/store.js';
import type { GlobalEvent, GlobalOffset, GlobalQuery } from '../persistence/global-order.js';
import { checkTag, START_OFFSET } from '../persistence/global-order.js';
import type { ProjectionQuery } from '../persistence/global-order-offsets.js';
import { checkProjectionName } from '../persistence/global-order-offsets.js';
import type { BackoffOptions } from '../supervisor/backoff.js';
import type { DynamicSupervisorRef } from '../supervisor/refs.js';
import { spawnDynamicSupervisor } from '../supervisor/start.js';
import { EntityType } from './definition.js';
import { InvalidDefinitionError } from './errors.js';

/** What a projection reads: events of these entity types, or with this tag (both: events matching both). */
export interface ProjectionSource {
  /** Entity types (definitions or type names) whose events to read. */
  readonly entityTypes?: readonly (EntityType | string)[];
  /** Only events with this tag (`ctx.emit(event, { tags })`). */
  readonly tag?: string;
}

/** What a projection's handler gets beside the event. */
export interface ProjectionContext {
  readonly projection: string;
  readonly log: Logger;
}

/** An exactly-once handler's context: the transaction the offset is saved in. */
export interface TransactionalProjectionContext extends ProjectionContext {
  /**
   * Runs a statement in the projection's transaction, on the store's database: what the handler
   * writes with it commits together with the projection's offset, or not at all.
   */
  readonly query: ProjectionQuery;
}

interface CommonProjectionOptions {
  readonly source: ProjectionSource;
  /** Events per read (and per transaction, exactly once). Default 100. */
  readonly batchSize?: number;
  /** Wait before reading again once caught up (commits in this process wake it at once). Default 50 ms. */
  readonly pollIntervalMs?: number;
  /** Restart backoff after a crash (a handler that throws, a lost connection). Default 100 ms … 10 s, random factor 0.2. */
  readonly backoff?: BackoffOptions;
}

/**
 * Exactly once (PostgreSQL and PGlite stores only, and the default there): each batch of events
 * is handled in one transaction on the store's database, which also moves the projection's offset
 * with a compare-and-set. A crash anywhere rolls the whole batch back; no event is counted twice.
 */
export interface ExactlyOnceProjectionOptions extends CommonProjectionOptions {
  readonly delivery?: 'exactly-once';
  /** Called for each event, in order. Give this or `handleBatch`. */
  readonly handler?: (event: GlobalEvent, ctx: TransactionalProjectionContext) => void | Promise<void>;
  /** Called once per batch (up to `batchSize` events, in order): one statement for many events. Give this or `handler`. */
  readonly handleBatch?: (events: readonly GlobalEvent[], ctx: TransactionalProjectionContext) => void | Promise<void>;
}

/**
 * At least once (any store; the default on the memory store): the handler runs for each event of a
 * batch, then the offset is saved. After a crash the batch since the last saved offset is handled
 * again, so the handler must be idempotent (the event's `offset`, or `persistenceId` + `sequenceNr`,
 * is a stable key to dedupe on).
 */
export interface AtLeastOnceProjectionOptions extends CommonProjectionOptions {
  readonly delivery: 'at-least-once';
  /** Called for each event, in order. Give this or `handleBatch`. */
  readonly handler?: (event: GlobalEvent, ctx: ProjectionContext) => void | Promise<void>;
  /** Called once per batch, in order. Give this or `handler`. */
  readonly handleBatch?: (events: readonly GlobalEvent[], ctx: ProjectionContext) => void | Promise<void>;
}

export type ProjectionOptions = ExactlyOnceProjectionOptions | AtLeastOnceProjectionOptions;

/** A projection's counters, readable at any time (by the observer, for instance). */
export interface ProjectionStats {
  readonly name: string;
  readonly delivery: 'exactly-once' | 'at-least-once';
  /** Where it has got to: the offset of the last event handled and saved (`START_OFFSET` before any). */
  readonly offset: GlobalOffset;
  /** Events handled and committed since this runtime started it. */
  readonly eventsProcessed: number;
  /** When the last handled event was written (ms since the epoch); undefined before any. */
  readonly lastEventTimestamp: number | undefined;
  /** Crashes (each followed by a restart from the stored offset). */
  readonly restarts: number;
  /** The last crash's error, if any. */
  readonly lastError: Error | undefined;
  readonly running: boolean;
}

/** How far behind the journal a projection is. */
export interface ProjectionLag {
  /** Committed events it has not handled yet (counted up to 1 000 000). */
  readonly events: number;
  /** Seconds since the oldest of them was written; 0 when caught up. */
  readonly seconds: number;
}

/** A running projection. */
export interface Projection {
  readonly name: string;
  stats(): ProjectionStats;
  /** Asks the journal how far behind it is. */
  lag(): Promise<ProjectionLag>;
  /** Stops it (after the batch in hand); its offset stays stored, so starting it again resumes. */
  stop(): Promise<void>;
}

const POLL = { kind: 'poll' } as const;
type Msg = typeof POLL;

export const PROJECTION_DEFAULTS = {
  batchSize: 100,
  pollIntervalMs: 50,
  backoff: { minMs: 100, maxMs: 10_000, randomFactor: 0.2 },
} as const;

interface Shared {
  readonly name: string;
  readonly delivery: 'exactly-once' | 'at-least-once';
  readonly query: Omit<GlobalQuery, 'afterOffset'>;
  offset: GlobalOffset;
  eventsProcessed: number;
  lastEventTimestamp: number | undefined;
  starts: number;
  lastError: Error | undefined;
  running: boolean;
}

interface RunnerState {
  /** The stored offset, read at the first poll after a (re)start; undefined: none stored yet. */
  stored: GlobalOffset | undefined;
  loaded: boolean;
  /** A poll timer is set: a commit in this process may cut it short. */
  waiting: boolean;
  /** The next page, read while the current one is handled (after a full page only). */
  prefetch: { readonly after: GlobalOffset; readonly page: Promise<GlobalEvent[]> } | null;
  unsubscribe: () => void;
}

/**
 * Starts a projection under a supervisor of its own (a permanent child with restart backoff, so
 * it is restarted however often it crashes, more slowly each time). @internal The public entry is
 * `EntityRuntime.projection`.
 */
export function startProjection(system: ActorSystem, store: Store, logger: Logger, nameIn: string, options: ProjectionOptions): Projection {
  const name = checkProjectionName(nameIn);
  if (typeof options !== 'object' || options === null) throw new InvalidDefinitionError('options', 'projection options must be an object');
  if ((typeof options.handler === 'function') === (typeof options.handleBatch === 'function')) {
    throw new InvalidDefinitionError('handler', 'a projection needs exactly one of handler and handleBatch (functions)');
  }
  const delivery = options.delivery ?? (store.projectionOffsets.transactional ? 'exactly-once' : 'at-least-once');
  if (delivery !== 'exactly-once' && delivery !== 'at-least-once') {
    throw new InvalidDefinitionError('delivery', `must be 'exactly-once' or 'at-least-once', got ${JSON.stringify(delivery)}`);
  }
  if (delivery === 'exactly-once' && !store.projectionOffsets.transactional) {
    throw new InvalidDefinitionError('delivery', `exactly-once needs a PostgreSQL or PGlite store; this one is '${store.kind}' (use delivery: 'at-least-once')`);
  }
  const query = sourceQuery(options.source);
  const batchSize = options.batchSize ?? PROJECTION_DEFAULTS.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidDefinitionError('batchSize', `must be an integer >= 1, got ${String(batchSize)}`);
  const pollMs = options.pollIntervalMs ?? PROJECTION_DEFAULTS.pollIntervalMs;
  if (!(typeof pollMs === 'number' && pollMs >= 0 && Number.isFinite(pollMs))) {
    throw new InvalidDefinitionError('pollIntervalMs', `must be a finite number >= 0, got ${String(pollMs)}`);
  }
  const log = logger.child({ projection: name });
  const shared: Shared = {
    name,
    delivery,
    query: { ...query, max: batchSize },
    offset: START_OFFSET,
    eventsProcessed: 0,
    lastEventTimestamp: undefined,
    starts: 0,
    lastError: undefined,
    running: true,
  };
  const offsets = store.projectionOffsets;
  const journal = store.journal;
  type Ctx = ProjectionContext | TransactionalProjectionContext;
  const one = options.handler as ((event: GlobalEvent, ctx: Ctx) => void | Promise<void>) | undefined;
  const many = options.handleBatch as ((events: readonly GlobalEvent[], ctx: Ctx) => void | Promise<void>) | undefined;
  const run = async (page: readonly GlobalEvent[], ctx: Ctx): Promise<void> => {
    if (many !== undefined) await many(page, ctx);
    else for (let i = 0; i < page.length; i++) await (one as (event: GlobalEvent, ctx: Ctx) => void | Promise<void>)(page[i] as GlobalEvent, ctx);
  };
  const baseCtx: ProjectionContext = { projection: name, log };

  const handle = async (state: RunnerState, page: readonly GlobalEvent[]): Promise<void> => {
    const next = (page[page.length - 1] as GlobalEvent).offset;
    if (delivery === 'exactly-once') {
      await offsets.commit(name, state.stored, next, (q) => run(page, { projection: name, log, query: q }));
    } else {
      await run(page, baseCtx);
      await offsets.save(name, next);
    }
    state.stored = next;
    shared.offset = next;
    shared.eventsProcessed += page.length;
    shared.lastEventTimestamp = (page[page.length - 1] as GlobalEvent).timestamp;
  };

  const behavior: Behavior<Msg, RunnerState> = {
    init(ctx: ActorContext<Msg>) {
      shared.starts++;
      const state: RunnerState = { stored: undefined, loaded: false, waiting: false, prefetch: null, unsubscribe: () => {} };
      const wake = (): void => {
        if (!state.waiting) return;
        state.waiting = false;
        ctx.timers.cancel('poll');
        ctx.self.tell(POLL);
      };
      state.unsubscribe = journal.onCommit(wake);
      ctx.signal.addEventListener('abort', () => state.unsubscribe(), { once: true });
      ctx.self.tell(POLL);
      return state;
    },
    async receive(state, _msg, ctx) {
      state.waiting = false;
      if (!state.loaded) {
        state.stored = await offsets.load(name);
        state.loaded = true;
        shared.offset = state.stored ?? START_OFFSET;
      }
      const after = state.stored ?? START_OFFSET;
      const read = (from: GlobalOffset): Promise<GlobalEvent[]> => journal.readGlobal({ ...shared.query, afterOffset: from });
      const ahead = state.prefetch;
      state.prefetch = null;
      const page = await (ahead !== null && ahead.after === after ? ahead.page : read(after));
      if (page.length >= batchSize) {
        // Behind: read the next page while this one is handled. Safe whatever happens to this
        // batch: a crash drops the page read ahead with the rest of the state.
        const from = (page[page.length - 1] as GlobalEvent).offset;
        const next = read(from);
        next.catch(() => {}); // awaited by the next poll, or dropped with a crash
        state.prefetch = { after: from, page: next };
      }
      if (page.length > 0) await handle(state, page);
      if (page.length >= batchSize) ctx.self.tell(POLL);
      else {
        state.waiting = true;
        ctx.timers.startSingle('poll', POLL, pollMs);
      }
      return state;
    },
    terminate(state) {
      state.unsubscribe();
    },
  };

  const supervisor: DynamicSupervisorRef<[]> = spawnDynamicSupervisor(system, {
    name: `projection:${name}`,
    // Backoff paces the restarts (at most 1 / minMs), so the intensity only stops a runaway.
    intensity: 1000,
    periodMs: 1000,
    onEvent: (event) => {
      if (event.type === 'supervisor.child-exited') {
        const reason = event.reason;
        if (reason instanceof Error) {
          shared.lastError = reason;
          log.warn({ err: reason }, 'projection crashed; restarting from its stored offset');
        }
      }
    },
    child: {
      restart: 'permanent',
      shutdown: 5000,
      backoff: options.backoff ?? PROJECTION_DEFAULTS.backoff,
      start: (ctx) => ctx.spawn(behavior),
    },
  });
  void supervisor.startChild().catch((err: unknown) => log.error({ err }, 'projection did not start'));

  let stopping: Promise<void> | undefined;
  return {
    name,
    stats: () => ({
      name,
      delivery,
      offset: shared.offset,
      eventsProcessed: shared.eventsProcessed,
      lastEventTimestamp: shared.lastEventTimestamp,
      restarts: Math.max(0, shared.starts - 1),
      lastError: shared.lastError,
      running: shared.running,
    }),
    async lag() {
      const b = await journal.backlog({ ...query, afterOffset: shared.offset });
      // The journal stamps events with Date.now(), so lag is measured on the same clock.
      const now = Date.now();
      return { events: b.events, seconds: b.oldestTimestamp === undefined ? 0 : Math.max(0, (now - b.oldestTimestamp) / 1000) };
    },
    stop() {
      stopping ??= supervisor.stop('shutdown').then(() => {
        shared.running = false;
      });
      return stopping;
    },
  };
}

function sourceQuery(source: ProjectionSource | undefined): Omit<GlobalQuery, 'afterOffset' | 'max'> {
  if (typeof source !== 'object' || source === null) throw new InvalidDefinitionError('source', 'a projection needs a source: { entityTypes } and/or { tag }');
  const { entityTypes, tag } = source;
  if (entityTypes === undefined && tag === undefined) throw new InvalidDefinitionError('source', 'give entityTypes, a tag, or both');
  let prefixes: string[] | undefined;
  if (entityTypes !== undefined) {
    if (!Array.isArray(entityTypes) || entityTypes.length === 0) throw new InvalidDefinitionError('source.entityTypes', 'must be a non-empty array');
    prefixes = entityTypes.map((t, i) => {
      const typeName = t instanceof EntityType ? t.name : t;
      if (typeof typeName !== 'string' || typeName === '') throw new InvalidDefinitionError(`source.entityTypes[${i}]`, 'must be an entity definition or a type name');
      // Entity persistence ids are "<type>|<id>".
      return `${typeName}|`;
    });
  }
  if (tag !== undefined) {
    try {
      checkTag(tag, 'source.tag');
    } catch (err) {
      throw new InvalidDefinitionError('source.tag', (err as Error).message);
    }
  }
  return { ...(prefixes === undefined ? {} : { persistenceIdPrefixes: prefixes }), ...(tag === undefined ? {} : { tag }) };
}
