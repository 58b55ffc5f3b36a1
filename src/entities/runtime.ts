import type { AskListener, CommandTrace, CommandTracer } from './pending.js';
import type { AskOptions } from '../actors/ref.js';
import { InvalidOptionError } from '../actors/errors.js';
import type { ActorSystem } from '../actors/system.js';
import type { Logger } from '../logger.js';
import type { Store } from '../persistence/store.js';
import { entityIdProblem } from '../persistence/text.js';
import { checkSettings, type CommandDef, type EntityRefs, type EntitySettings, EntityType } from './definition.js';
import type { CommandSpecs, EntityRef } from './entity-ref.js';
import {
  EntityStoppedError,
  InvalidCommandError,
  InvalidDefinitionError,
  InvalidEntityIdError,
  TooManyActiveEntitiesError,
  UnknownCommandError,
  UnknownEntityTypeError,
  ValidationTimeoutError,
} from './errors.js';
import type { SupervisorHandle } from '../supervisor/refs.js';
import { ensureSupervision } from '../supervisor/root.js';
import { COMMAND, DROPPED, INVALID, Pending, SUBSCRIBE, type Subscriber, VALID, VALIDATING } from './pending.js';
import { keepAlive, type TimerHandle } from '../actors/clock.js';
import { RingBuffer } from '../actors/ring-buffer.js';
import type { Slot } from './slot.js';
import { Region, resolveSettings, typeSupervisorDefaults } from './region.js';
import { checkResult, type StandardSchemaV1, toIssues } from './standard-schema.js';
import { type EntityUpdate, type Subscription, Subscriptions } from './subscriptions.js';
import { type Projection, type ProjectionOptions, startProjection } from './projection.js';
import { type Delivery, TimerService, type TimerServiceOptions } from './timers/timer-service.js';

/** @internal What the cluster plugs into `EntityRuntime.router`. */
export interface EntityRouter {
  send(
    region: Region,
    id: string,
    command: string,
    input: unknown,
    options: AskOptions | undefined,
    wantReply: boolean,
    listener: AskListener | null,
    token: unknown,
  ): Promise<unknown> | undefined;
  subscribe(
    region: Region,
    id: string,
    options: { readonly events: boolean; readonly state: boolean; readonly fromSequenceNr: number | undefined },
    listener: (update: EntityUpdate) => void,
  ): Promise<Subscription>;
}

export interface EntityRuntimeOptions {
  /** Where events, snapshots and states live (`createStore()`). */
  readonly store: Store;
  /**
   * Most active entities across all types (stateless workers not counted): beyond it, the least
   * recently used idle one is passivated for each entity activated. A soft cap, as in Orleans:
   * while every active entity is busy none can go, so it is exceeded, by at most
   * `maxActiveEntitiesOverflow`. Default unlimited.
   */
  readonly maxActiveEntities?: number;
  /**
   * How many entities beyond `maxActiveEntities` may be active while none is idle to passivate
   * (each goes as soon as it is idle). Beyond that, a command to an entity that is not active is
   * refused with `TOO_MANY_ACTIVE_ENTITIES` (and a subscribe rejects with it); commands to active
   * entities are not affected. 0 makes the cap hard; `Infinity`, unbounded. Default 10 % of
   * `maxActiveEntities` (at least 1).
   */
  readonly maxActiveEntitiesOverflow?: number;
  /** Settings for every type, under each type's own. See `entityDefaults`. */
  readonly defaults?: EntitySettings;
  /** Default the system's logger. */
  readonly logger?: Logger;
  /** How long `stop()` lets queued commands finish before failing them with `ENTITY_STOPPED`. Default 5000 ms. */
  readonly drainTimeoutMs?: number;
  /**
   * Each entity type runs under a dynamic supervisor: crashed entities are restarted after the
   * type's backoff, and more than `intensity` crashes of one type within `periodMs` make its
   * supervisor give up (every entity of the type stops; the next command starts afresh).
   * Defaults: 100 crashes per 1000 ms; `shutdownMs` 5000 for stopping an entity actor.
   */
  readonly supervision?: { readonly intensity?: number; readonly periodMs?: number; readonly shutdownMs?: number };
  /** How this runtime fires durable timers (`ctx.schedule`); see `timerDefaults` and docs/timers.md. */
  readonly timers?: TimerServiceOptions;
}

/** What `runtime.stats()` tells about active entities. */
export interface EntityRuntimeStats {
  /** Entities active now, of every type (stateless workers not counted); as `runtime.activeEntities`. */
  readonly activeEntities: number;
  /** Of those, the ones asked to passivate (idle, or to make room under the cap), not gone yet: not counted against the cap. */
  readonly passivating: number;
  /** The `maxActiveEntities` option (Infinity: unlimited). */
  readonly maxActiveEntities: number;
  /** `maxActiveEntities` + `maxActiveEntitiesOverflow`: the most active entities, not counting those passivating. */
  readonly activeEntitiesLimit: number;
  /** Commands (and subscribes) refused with `TOO_MANY_ACTIVE_ENTITIES` since the runtime started. */
  readonly refusedActivations: number;
}

/** What `subscribe` should deliver. */
export interface SubscribeOptions {
  /** Each persisted event (event-sourced entities). Default false. */
  readonly events?: boolean;
  /** The current state first, then the state after each change. Default false. */
  readonly state?: boolean;
  /** With `events`: replay persisted events from this sequence number first (for catching up). */
  readonly fromSequenceNr?: number;
}

/**
 * Entities in an actor system: register entity types, then address entities by `(type, id)`.
 * The first command to an entity activates it (snapshot, then the events after it, or its stored
 * state); idle entities are passivated; crashed ones are restarted from the store.
 *
 * ```ts
 * const entities = new EntityRuntime(system, { store: await createStore() });
 * entities.register(cart);
 * const ref = entities.ref(cart, 'cart-1');
 * await ref.ask('addItem', { sku: 'apple', quantity: 2 });
 * ```
 */
export class EntityRuntime implements EntityRefs, AsyncDisposable {
  readonly logger: Logger;
  readonly store: Store;
  /** Durable timers: stats, the stored timers, the dead letters; `poll()` to look for due ones now. */
  readonly timers: TimerService;
  /** @internal The timer delivery the command being queued carries (set only around `deliverTimer`'s send). */
  private delivering: Delivery | null = null;
  /** @internal The spans of the command being sent (set only around a tracing gateway's `askWith`, see src/tracing). */
  tracing: CommandTrace | null = null;
  /** @internal Spans of commands forwarded by other nodes (src/cluster), set by a tracing gateway; null: none. */
  tracer: CommandTracer | null = null;
  /** @internal */ readonly subscriptions: Subscriptions;
  /** @internal */ readonly supervision: { readonly intensity: number; readonly periodMs: number; readonly shutdownMs: number };
  /** @internal */ stopping = false;
  /** The drain is over: nothing more is queued (a late async validation is refused). */
  private stoppedAll = false;
  private readonly regions = new Map<string, Region>();
  private readonly projections = new Set<Projection>();
  private readonly maxActive: number;
  /** maxActive plus the overflow allowed while every active entity is busy. */
  private readonly activeLimit: number;
  /** Active entities asked to passivate, not gone yet: not counted against the cap. @internal */
  passivating = 0;
  private refusedActivations = 0;
  /** The limit was reached (and logged) since the count was last under the cap. */
  private limitWarned = false;
  private readonly defaults: EntitySettings;
  private readonly drainTimeoutMs: number;
  private active = 0;
  private slotSeq = 0;
  private inflight = 0;
  private drainWaiter: (() => void) | null = null;
  private stopped: Promise<void> | null = null;

  constructor(
    readonly system: ActorSystem,
    options: EntityRuntimeOptions,
  ) {
    if (options === undefined || options.store === undefined) throw new InvalidOptionError('store', 'an entity runtime needs a store (createStore())');
    this.store = options.store;
    this.logger = (options.logger ?? system.logger).child({ component: 'entities' });
    this.maxActive = options.maxActiveEntities ?? Infinity;
    if (!(this.maxActive >= 1)) throw new InvalidOptionError('maxActiveEntities', `must be >= 1, got ${String(options.maxActiveEntities)}`);
    const overflow = options.maxActiveEntitiesOverflow ?? (this.maxActive === Infinity ? Infinity : Math.max(1, Math.ceil(this.maxActive / 10)));
    if (!(overflow === Infinity || (Number.isInteger(overflow) && overflow >= 0))) {
      throw new InvalidOptionError('maxActiveEntitiesOverflow', `must be an integer >= 0 or Infinity, got ${String(options.maxActiveEntitiesOverflow)}`);
    }
    this.activeLimit = this.maxActive + overflow;
    this.defaults = options.defaults ?? {};
    checkSettings(this.defaults, 'defaults');
    this.drainTimeoutMs = options.drainTimeoutMs ?? 5000;
    this.subscriptions = new Subscriptions(this);
    this.timers = new TimerService({ clock: system.clock, logger: this.logger, store: this.store, deliverTimer: (...a) => this.deliverTimer(...a) }, options.timers);
    this.supervision = { ...typeSupervisorDefaults, ...options.supervision };
    // Stop hooks run newest first: registering after the supervision trees' hook means the
    // runtime drains its commands before the supervisors stop the entity actors.
    ensureSupervision(system);
    system.onStop(() => this.stop());
  }

  /** Registers an entity type (or stateless function); `settings` override the type's own. */
  register(type: EntityType, settings: EntitySettings = {}): void {
    if (!(type instanceof EntityType)) throw new InvalidDefinitionError('type', 'register() takes a definition made with eventSourcedEntity, valueEntity or statelessFunction');
    if (this.regions.has(type.name)) throw new InvalidDefinitionError('name', `an entity type named ${JSON.stringify(type.name)} is already registered`);
    if (this.stopping) throw new EntityStoppedError(type.name);
    checkSettings(settings, 'settings');
    this.regions.set(type.name, new Region(this, type, resolveSettings(this.defaults, type.settings, settings)));
    if (type.kind !== 'stateless') this.timers.typeRegistered(type.name);
  }

  /** A typed ref to entity `id` of a registered type. For a stateless function the id does not matter. */
  ref<C extends CommandSpecs>(type: EntityType<C>, id: string): EntityRef<C> {
    const region = this.regions.get(type.name);
    if (region === undefined || region.type !== type) throw new UnknownEntityTypeError(type.name);
    return new Ref(this, region, checkId(id)) as unknown as EntityRef<C>;
  }

  /** An untyped ref by type name, as a gateway addresses entities. */
  refFor(typeName: string, id: string): EntityRef {
    const region = this.regions.get(typeName);
    if (region === undefined) throw new UnknownEntityTypeError(typeName);
    return new Ref(this, region, checkId(id)) as unknown as EntityRef;
  }

  /** @internal A type's region (the observer reads its slots between messages). */
  regionNamed(typeName: string): Region | undefined {
    return this.regions.get(typeName);
  }

  /** The registered types, by name. */
  get types(): ReadonlyMap<string, EntityType> {
    const out = new Map<string, EntityType>();
    for (const [name, r] of this.regions) out.set(name, r.type);
    return out;
  }

  /**
   * The dynamic supervisor that every entity actor of `type` runs under (for inspection:
   * `whichChildren`, `countChildren`; its reports are on the inspection stream).
   */
  supervisorOf(type: EntityType): SupervisorHandle {
    const region = this.regions.get(type.name);
    if (region === undefined || region.type !== type) throw new UnknownEntityTypeError(type.name);
    return region.typeSupervisor;
  }

  /** Entities active now (stateless workers not counted). */
  get activeEntities(): number {
    return this.active;
  }

  /** Active entities against the cap: see {@link EntityRuntimeStats}. */
  stats(): EntityRuntimeStats {
    return {
      activeEntities: this.active,
      passivating: this.passivating,
      maxActiveEntities: this.maxActive,
      activeEntitiesLimit: this.activeLimit,
      refusedActivations: this.refusedActivations,
    };
  }

  /**
   * Watches an entity: its persisted events and/or its state (the current state first, then after
   * each change). Resolves once established. Survives passivation and restarts of the entity.
   */
  async subscribe(ref: EntityRef, options: SubscribeOptions, listener: (update: EntityUpdate) => void): Promise<Subscription> {
    const region = this.regionOf(ref);
    if (region.type.kind === 'stateless') throw new InvalidOptionError('ref', 'stateless functions have nothing to subscribe to');
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'must be a function');
    const events = options.events === true;
    const state = options.state === true;
    if (!events && !state) throw new InvalidOptionError('options', 'subscribe to events, state, or both');
    const from = options.fromSequenceNr;
    if (from !== undefined && !(Number.isInteger(from) && from >= 1)) throw new InvalidOptionError('fromSequenceNr', `must be an integer >= 1, got ${String(from)}`);
    const router = this.router;
    if (router !== null) return router.subscribe(region, ref.id, { events, state, fromSequenceNr: from }, listener);
    return this.subscribeLocal(region, ref.id, { events, state, fromSequenceNr: from }, listener, null);
  }

  /**
   * @internal `subscribe`, on this node whatever a router would say; `onEnd` is told if the
   * subscription is ended from here (the entity's shard left this node, the runtime stops).
   */
  async subscribeLocal(
    region: Region,
    entityId: string,
    options: { readonly events: boolean; readonly state: boolean; readonly fromSequenceNr: number | undefined },
    listener: (update: EntityUpdate) => void,
    onEnd: ((reason: Error) => void) | null,
  ): Promise<Subscription> {
    const { events, state, fromSequenceNr: from } = options;
    const entityType = region.type.name;
    const subscriber: Subscriber = {
      active: true,
      onEvent: events ? (event, sequenceNr) => listener({ kind: 'event', entityType, entityId, sequenceNr, event }) : null,
      onState: state ? (value, version) => listener({ kind: 'state', entityType, entityId, version, state: value }) : null,
      onEnd,
    };
    if (this.stopping) throw new EntityStoppedError(entityType);
    const slot = this.entitySlot(region, entityId);
    if (slot === null) throw new TooManyActiveEntitiesError(entityType, entityId, this.activeLimit);
    const p = new Pending(SUBSCRIBE, null, undefined, slot, true, { events, state, fromSequenceNr: from, subscriber });
    this.inflight++;
    const now = this.system.clock.now();
    this.system.askTimeouts.add(p, this.system.askTimeout, now);
    region.deliver(slot, p, now);
    const pid = slot.persistenceId;
    const subscriptions = this.subscriptions;
    try {
      await p.promise;
    } catch (err) {
      // Timed out (or failed) before the entity got to it: the request may still be queued, or
      // its catch-up running. Deactivated, it never registers, or is taken out again: no one
      // holds a handle to unsubscribe it.
      subscriptions.remove(pid, subscriber);
      throw err;
    }
    const unsubscribe = (): void => subscriptions.remove(pid, subscriber);
    return {
      unsubscribe,
      get active() {
        return subscriber.active;
      },
      [Symbol.dispose]: unsubscribe,
    };
  }

  /**
   * Starts a projection: a supervised reader of the journal's global order (events of `source`'s
   * entity types and/or tag) that hands each event to `handler` and keeps its offset in the store
   * under `name`, resuming from it after a crash or a restart. Exactly once on PostgreSQL and
   * PGlite (the handler writes through `ctx.query`, in the transaction that saves the offset), at
   * least once otherwise. See docs/projections.md.
   */
  projection(name: string, options: ProjectionOptions): Projection {
    if (this.stopping) throw new EntityStoppedError(`projection:${name}`);
    if ([...this.projections].some((p) => p.name === name)) throw new InvalidDefinitionError('name', `a projection named ${JSON.stringify(name)} is already running`);
    const p = startProjection(this.system, this.store, this.logger, name, options);
    this.projections.add(p);
    const stop = p.stop.bind(p);
    return Object.assign(p, {
      stop: () => {
        this.projections.delete(p);
        return stop();
      },
    });
  }

  /** The projections started here and not stopped (for the observer). */
  projectionsRunning(): readonly Projection[] {
    return [...this.projections];
  }

  /**
   * Stops taking commands, lets queued ones finish (up to `drainTimeoutMs`), fails the rest with
   * `ENTITY_STOPPED`, stops every entity and ends subscriptions. The store stays open (it is
   * yours). Also runs when the actor system stops. Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // ------------------------------------------------------------ internal

  /**
   * @internal For the gateway: an ask of `ref` whose outcome goes to `listener` with `token`
   * (success or any failure, refusals included), with no promise made for it.
   */
  askWith(ref: EntityRef, command: string, input: unknown, listener: AskListener, token: unknown): void {
    if (ref instanceof Ref) this.send(ref.region, ref.id, command, input, undefined, true, listener, token);
    else this.send(this.regionOf(ref), ref.id, command, input, undefined, true, listener, token);
  }

  /**
   * @internal Set by the cluster (src/cluster): commands to entities (not stateless functions)
   * go through it, which runs them here (`sendLocal`) or on the node that owns their shard.
   * Null (single node): one comparison per command.
   */
  router: EntityRouter | null = null;

  /**
   * @internal Sends a command: validate, queue, and (for an ask) the reply promise, or with a
   * `listener`, the outcome told to it instead (and undefined returned).
   */
  send(
    region: Region,
    id: string,
    command: string,
    input: unknown,
    options: AskOptions | undefined,
    wantReply: boolean,
    listener: AskListener | null = null,
    token: unknown = undefined,
  ): Promise<unknown> | undefined {
    const router = this.router;
    if (router !== null && region.type.kind !== 'stateless') return router.send(region, id, command, input, options, wantReply, listener, token);
    return this.sendLocal(region, id, command, input, options, wantReply, listener, token);
  }

  /**
   * @internal A durable timer's delivery: an ask on this node (the one that claimed it) whose
   * pending command carries `delivery`, for `ctx.timer` and for the write that completes it.
   */
  deliverTimer(typeName: string, id: string, command: string, input: unknown, delivery: Delivery, timeoutMs: number): Promise<unknown> {
    const region = this.regions.get(typeName);
    if (region === undefined) return Promise.reject(new UnknownEntityTypeError(typeName));
    this.delivering = delivery;
    try {
      return this.sendLocal(region, id, command, input, { timeout: timeoutMs }, true) as Promise<unknown>;
    } finally {
      this.delivering = null;
    }
  }

  /** @internal `send`, on this node whatever a router would say. */
  sendLocal(
    region: Region,
    id: string,
    command: string,
    input: unknown,
    options: AskOptions | undefined,
    wantReply: boolean,
    listener: AskListener | null = null,
    token: unknown = undefined,
  ): Promise<unknown> | undefined {
    const type = region.type;
    if (this.stopping) return this.refuse(new EntityStoppedError(type.name), wantReply, listener, token);
    const def = type.commands.get(command);
    if (def === undefined) return this.refuse(new UnknownCommandError(type.name, String(command)), wantReply, listener, token);
    const schema = def.schema;
    if (schema === undefined) {
      if (input !== undefined) return this.refuse(new InvalidCommandError(type.name, def.name, [{ message: 'this command takes no input', path: [] }]), wantReply, listener, token);
      return this.enqueue(region, id, def, input, options, wantReply, listener, token);
    }
    let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
    try {
      result = schema['~standard'].validate(input);
      if (!(result instanceof Promise)) result = checkResult(result);
    } catch (err) {
      return this.refuse(validatorThrew(type.name, def.name, err), wantReply, listener, token);
    }
    if (result instanceof Promise) {
      // A malformed result becomes a rejection, reported like a validator that threw.
      const checked = result.then(checkResult);
      if (type.kind === 'stateless') return this.validateThenEnqueue(region, id, def, checked, options, wantReply, listener, token);
      return this.hold(region, id, def, checked, options, wantReply, listener, token);
    }
    if (result.issues !== undefined) return this.refuse(new InvalidCommandError(type.name, def.name, toIssues(result.issues)), wantReply, listener, token);
    return this.enqueue(region, id, def, result.value, options, wantReply, listener, token);
  }

  private enqueue(
    region: Region,
    id: string,
    def: CommandDef,
    input: unknown,
    options: AskOptions | undefined,
    wantReply: boolean,
    listener: AskListener | null = null,
    token: unknown = undefined,
  ): Promise<unknown> | undefined {
    const slot = region.type.kind === 'stateless' ? region.workerFor() : this.entitySlot(region, id);
    if (slot === null) return this.refuse(new TooManyActiveEntitiesError(region.type.name, id, this.activeLimit), wantReply, listener, token);
    const now = this.system.clock.now();
    const p = this.pending(slot, def, input, options, wantReply, listener, token, now);
    if (!(p instanceof Pending)) return p;
    // Behind a command whose input is still being validated, it waits its turn (see `release`).
    if (slot.held !== null) slot.held.push(p);
    else region.deliver(slot, p, now);
    return wantReply && listener === null ? p.promise : undefined;
  }

  /**
   * A command whose schema validates asynchronously, to an entity: it takes its place in the
   * entity's order now (in `slot.held`), and joins the queue when its validation settles and
   * every command sent before it has. The ask's timeout runs from now, validation included.
   */
  private hold(
    region: Region,
    id: string,
    def: CommandDef,
    validation: Promise<StandardSchemaV1.Result<unknown>>,
    options: AskOptions | undefined,
    wantReply: boolean,
    listener: AskListener | null,
    token: unknown,
  ): Promise<unknown> | undefined {
    const slot = this.entitySlot(region, id);
    if (slot === null) return this.refuse(new TooManyActiveEntitiesError(region.type.name, id, this.activeLimit), wantReply, listener, token);
    const clock = this.system.clock;
    const p = this.pending(slot, def, undefined, options, wantReply, listener, token, clock.now(), VALIDATING);
    if (!(p instanceof Pending)) return p;
    const answer = wantReply && listener === null ? p.promise : undefined;
    if (p.validation === DROPPED) {
      p.discard(); // its signal was aborted before it was sent: it never runs
      return answer;
    }
    (slot.held ??= new RingBuffer<Pending>(4)).push(p);
    // The validator has the type's validationTimeoutMs: then the command is refused with
    // VALIDATION_TIMEOUT and the commands behind it go on, so a validator that never answers
    // holds its entity up that long, not for a whole ask timeout. An ask whose own timeout comes
    // first needs no timer: its timeout drops the command (see Pending.reject).
    const limit = region.settings.validationTimeoutMs;
    const askTimeout = wantReply ? (options?.timeout ?? this.system.askTimeout) : Infinity;
    let deadline: TimerHandle | null = null;
    if (limit < askTimeout) {
      deadline = clock.setTimeout(() => settle(undefined, new ValidationTimeoutError(region.type.name, def.name, limit)), limit);
      keepAlive(deadline, false);
    }
    const settle = (value: unknown, error: Error | undefined): void => {
      if (deadline !== null) clock.clearTimeout(deadline);
      if (p.validation !== VALIDATING) return; // dropped (timed out, aborted) or failed meanwhile
      if (error !== undefined) {
        p.validation = INVALID;
        p.invalid = error;
      } else {
        p.validation = VALID;
        p.input = value;
      }
      this.release(slot);
    };
    validation.then(
      (r) => (r.issues !== undefined ? settle(undefined, new InvalidCommandError(region.type.name, def.name, toIssues(r.issues))) : settle(r.value, undefined)),
      (err: unknown) => settle(undefined, validatorThrew(region.type.name, def.name, err)),
    );
    return answer;
  }

  /**
   * @internal Moves the held commands whose validation has settled, from the front, to the
   * entity's queue (or fails them: invalid input, or dropped while validating); stops at the
   * first one still being validated.
   */
  release(slot: Slot): void {
    const held = slot.held;
    if (held === null) return;
    const now = this.system.clock.now();
    while (held.length > 0) {
      const p = held.peek() as Pending;
      if (p.validation === VALIDATING) return;
      held.shift();
      if (p.validation === VALID) slot.region.deliver(slot, p, now);
      else if (p.validation === INVALID) p.fail(p.invalid);
      else p.discard(); // DROPPED: its asker was already answered
    }
    slot.held = null;
  }

  /** Stateless functions have no order to keep: validate, then queue on whichever worker is free. */
  private validateThenEnqueue(
    region: Region,
    id: string,
    def: CommandDef,
    unbounded: Promise<StandardSchemaV1.Result<unknown>>,
    options: AskOptions | undefined,
    wantReply: boolean,
    listener: AskListener | null,
    token: unknown,
  ): Promise<unknown> | undefined {
    const validation = this.withDeadline(region, def, unbounded);
    const threw = (err: unknown): Error => (err instanceof ValidationTimeoutError ? err : validatorThrew(region.type.name, def.name, err));
    const invalid = (issues: readonly StandardSchemaV1.Issue[]): InvalidCommandError => new InvalidCommandError(region.type.name, def.name, toIssues(issues));
    // Counted as in flight while validated, so that stop() waits for it like a queued command;
    // once the runtime has stopped, it is refused instead of queued.
    this.inflight++;
    const proceed = (value: unknown): Promise<unknown> | undefined => {
      if (this.stoppedAll) return this.refuse(new EntityStoppedError(region.type.name), true, listener, token);
      return this.enqueue(region, id, def, value, options, true, listener, token);
    };
    if (listener !== null) {
      validation
        .then(
          (r) => {
            if (r.issues !== undefined) listener.failed(token, invalid(r.issues));
            else proceed(r.value);
          },
          (err: unknown) => listener.failed(token, threw(err)),
        )
        .finally(() => this.settled());
      return undefined;
    }
    const validated = validation
      .then(
        (r) => {
          if (r.issues !== undefined) throw invalid(r.issues);
          return proceed(r.value);
        },
        (err: unknown) => {
          throw threw(err);
        },
      )
      .finally(() => this.settled());
    if (!wantReply) {
      validated.catch((err: unknown) => this.logger.warn({ entity: `${region.type.name}/${id}`, command: def.name, err }, 'told command rejected'));
      return undefined;
    }
    return validated;
  }

  /** `validation`, or VALIDATION_TIMEOUT if it has not settled within the type's validationTimeoutMs. */
  private withDeadline(region: Region, def: CommandDef, validation: Promise<StandardSchemaV1.Result<unknown>>): Promise<StandardSchemaV1.Result<unknown>> {
    const limit = region.settings.validationTimeoutMs;
    if (limit === Infinity) return validation;
    const clock = this.system.clock;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimeout(() => reject(new ValidationTimeoutError(region.type.name, def.name, limit)), limit);
      keepAlive(timer, false);
      validation.then(
        (r) => {
          clock.clearTimeout(timer);
          resolve(r);
        },
        (err: unknown) => {
          clock.clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /**
   * The slot of entity `id` (not a stateless function's); a new one if it has none, which at the
   * cap makes room first. Null if it cannot be activated: the limit is reached and every
   * active entity is busy.
   */
  private entitySlot(region: Region, id: string): Slot | null {
    const slot = region.slots.get(id);
    if (slot !== undefined) return slot;
    if (this.active >= this.maxActive && !this.makeRoom()) return null;
    return region.slotFor(id);
  }

  /**
   * At the cap, before an activation: asks the least recently used idle entity to passivate in
   * the new one's place (it goes when it handles the request, if still idle). With none idle the
   * new one is let in while fewer than the limit are active (not counting those already asked to
   * go); beyond, false.
   */
  private makeRoom(): boolean {
    if (this.active - this.passivating >= this.maxActive) {
      let victim: Slot | null = null;
      for (const region of this.regions.values()) {
        if (region.type.kind === 'stateless') continue;
        const candidate = region.idleLeastRecentlyUsed();
        if (candidate !== null && (victim === null || candidate.lastActive < victim.lastActive)) victim = candidate;
      }
      if (victim !== null) victim.region.requestPassivation(victim, 'lru');
    }
    if (this.active - this.passivating < this.activeLimit) return true;
    this.refusedActivations++;
    if (!this.limitWarned) {
      this.limitWarned = true;
      this.logger.warn({ active: this.active, limit: this.activeLimit }, 'active entity limit reached with every entity busy: activations are refused (TOO_MANY_ACTIVE_ENTITIES)');
    }
    return false;
  }

  /** @internal More entities are active than the cap (not counting those asked to go): each one that turns idle passivates. */
  get overCap(): boolean {
    return this.active - this.passivating > this.maxActive;
  }

  /** A pending command on `slot`, its ask's timeout started; or, for a bad timeout option, the refusal. */
  private pending(
    slot: Slot,
    def: CommandDef,
    input: unknown,
    options: AskOptions | undefined,
    wantReply: boolean,
    listener: AskListener | null,
    token: unknown,
    now: number,
    validation: typeof VALID | typeof VALIDATING = VALID,
  ): Pending | Promise<never> | undefined {
    const system = this.system;
    const p = new Pending(COMMAND, def, input, slot, wantReply, null, listener, token);
    p.timer = this.delivering;
    p.trace = this.tracing;
    p.validation = validation; // before the signal is watched: an aborted one then drops it
    if (wantReply) {
      const timeout = options?.timeout ?? system.askTimeout;
      if (typeof timeout !== 'number' || !(timeout >= 0)) return this.refuse(new InvalidOptionError('timeout', `must be a number >= 0 or Infinity, got ${String(timeout)}`), true, listener, token);
      system.askTimeouts.add(p, timeout, now);
      if (options?.signal !== undefined) p.watchSignal(options.signal);
    }
    this.inflight++;
    return p;
  }

  private refuse(error: Error, wantReply: boolean, listener: AskListener | null = null, token: unknown = undefined): Promise<never> | undefined {
    if (listener !== null) {
      listener.failed(token, error);
      return undefined;
    }
    if (wantReply) return Promise.reject(error);
    this.logger.warn({ err: error }, 'told command rejected');
    return undefined;
  }

  private regionOf(ref: EntityRef): Region {
    const region = ref instanceof Ref ? ref.region : this.regions.get(ref.type);
    if (region === undefined || this.regions.get(region.type.name) !== region) throw new UnknownEntityTypeError(ref.type);
    return region;
  }

  /**
   * @internal Stops every active entity (not stateless functions) for which `which` is true, at
   * once: its queued commands fail with `error`, a write in flight settles on its own (the next
   * activation waits for it), and nothing more is written by it. For the cluster, when a shard
   * is handed off or lost.
   */
  evictWhere(which: (typeName: string, id: string) => boolean, error: Error): Promise<void> {
    const gone: Promise<void>[] = [];
    for (const region of this.regions.values()) {
      if (region.type.kind === 'stateless') continue;
      for (const slot of [...region.slots.values()]) {
        if (which(region.type.name, slot.entityId)) gone.push(region.evict(slot, error));
      }
    }
    // Their subscriptions too (they survive a passivation, not a move): each is told, so that the
    // cluster's subscription follows the entity to its next owner.
    this.subscriptions.endWhere((pid) => {
      const bar = pid.indexOf('|');
      return which(pid.slice(0, bar), pid.slice(bar + 1));
    }, error);
    return Promise.all(gone).then(() => undefined);
  }

  /** @internal */
  nextSlotId(): number {
    return ++this.slotSeq;
  }

  /** @internal A slot was created (the cap was checked before, by `entitySlot`). */
  activated(region: Region): void {
    if (region.type.kind !== 'stateless') this.active++;
  }

  /** @internal */
  deactivated(region: Region): void {
    if (region.type.kind !== 'stateless' && --this.active < this.maxActive) this.limitWarned = false;
  }

  /** @internal A queued command or subscription request was answered. */
  settled(): void {
    if (--this.inflight === 0 && this.drainWaiter !== null) this.drainWaiter();
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.projections].map((p) => p.stop()));
    this.timers.stop(); // no more claims; deliveries in flight drain with the other commands
    if (this.inflight > 0) {
      const clock = this.system.clock;
      await new Promise<void>((resolve) => {
        const timer = clock.setTimeout(resolve, this.drainTimeoutMs);
        this.drainWaiter = () => {
          clock.clearTimeout(timer);
          resolve();
        };
      });
      this.drainWaiter = null;
    }
    this.stoppedAll = true;
    const stopped = new EntityStoppedError('*');
    for (const region of this.regions.values()) {
      region.dispose();
      for (const slot of [...region.slots.values()]) {
        region.detach(slot);
        slot.failAll(stopped);
      }
    }
    await Promise.all([...this.regions.values()].map((r) => r.stopSupervisor()));
    this.subscriptions.endAll(stopped);
    await this.timers.stopped(); // claims it could not deliver given back before the store closes
  }
}

/** An entity ref: plain data plus the path to its region. @internal */
class Ref {
  constructor(
    private readonly runtime: EntityRuntime,
    readonly region: Region,
    readonly id: string,
  ) {}

  get type(): string {
    return this.region.type.name;
  }

  ask(command: string, input?: unknown, options?: AskOptions): Promise<unknown> {
    return this.runtime.send(this.region, this.id, command, input, options, true) as Promise<unknown>;
  }

  tell(command: string, input?: unknown): void {
    this.runtime.send(this.region, this.id, command, input, undefined, false);
  }

  toString(): string {
    return `${this.region.type.name}/${this.id}`;
  }
}

function checkId(id: unknown): string {
  // The stores' own rule (persistence/text.ts): an id they could not hold exactly (NUL, a lone
  // surrogate) is refused here, at the door, rather than failing the entity's recovery.
  const problem = entityIdProblem(id);
  if (problem !== undefined) throw new InvalidEntityIdError(id, problem);
  return id as string;
}

function validatorThrew(type: string, command: string, err: unknown): InvalidCommandError {
  return new InvalidCommandError(type, command, [{ message: `validator threw: ${(err as Error)?.message ?? String(err)}`, path: [] }]);
}
