import type { Actor } from '../actors/actor.js';
import type { Behavior } from '../actors/behavior.js';
import type { TimerHandle } from '../actors/clock.js';
import type { Context } from '../actors/context.js';
import type { ExitReason } from '../actors/exit-reason.js';
import type { DynamicSupervisorRef } from '../supervisor/refs.js';
import type { DynamicSupervisorSpec } from '../supervisor/spec.js';
import { spawnDynamicSupervisor } from '../supervisor/start.js';
import { type EntitySettings, entityDefaults, type EntityType, type EventSourcedEntity } from './definition.js';
import { EntityCell, EventSourcedCell, StatelessCell, ValueCell } from './entity-cell.js';
import { EntityStoppedError, RecoveryFailedError } from './errors.js';
import type { Pending } from './pending.js';
import type { EntityRuntime } from './runtime.js';
import { Slot } from './slot.js';

/** Messages an entity actor understands. @internal */
const RECOVER = Symbol('recover');
const WAKE = Symbol('wake');
const PASSIVATE_IDLE = Symbol('passivate:idle');
const PASSIVATE_LRU = Symbol('passivate:lru');
const PASSIVATE_REQUESTED = Symbol('passivate:requested');
type EntityMsg = typeof RECOVER | typeof WAKE | typeof PASSIVATE_IDLE | typeof PASSIVATE_LRU | typeof PASSIVATE_REQUESTED;

/** How many of a type's least recently used entities are looked at for an idle one to evict. */
const EVICTION_SCAN = 64;

/** Supervision of each entity type: restarts paced by the type's backoff; a circuit breaker beyond this many crashes per second. @internal */
export const typeSupervisorDefaults = { intensity: 100, periodMs: 1000, shutdownMs: 5000 } as const;

/** Settings with every default filled in. */
export interface ResolvedSettings {
  readonly snapshotEvery: number;
  readonly snapshotKeep: number;
  readonly idleTimeoutMs: number;
  readonly maxCommandAttempts: number;
  readonly maxBatchSize: number;
  readonly backoff: { readonly minMs: number; readonly maxMs: number; readonly randomFactor: number };
  readonly poolSize: number;
  readonly validationTimeoutMs: number;
}

export function resolveSettings(...layers: EntitySettings[]): ResolvedSettings {
  const merged = Object.assign({}, entityDefaults, ...layers) as ResolvedSettings;
  const backoff = Object.assign({}, entityDefaults.backoff, ...layers.map((l) => l.backoff ?? {}));
  return { ...merged, backoff };
}

/**
 * Everything about one entity type in one runtime: its live entities by id, their queues, the
 * least-recently-used list that drives idle passivation and the global cap, and the actors that
 * serve them.
 *
 * Exactly one activation per entity: the id's slot is found or created synchronously when a
 * command arrives (JavaScript runs one thing at a time, so a burst of first commands finds the
 * slot the first one made), and a new incarnation waits for the previous one to be gone before
 * it reads the store.
 * @internal
 */
export class Region {
  readonly slots = new Map<string, Slot>();
  private lruHead: Slot | null = null;
  private lruTail: Slot | null = null;
  private idleTimer: TimerHandle | null = null;
  private readonly sweep = (): void => this.sweepIdle();
  /** Incarnations that are stopping, by persistence id: the next one waits for them. */
  private readonly stopping = new Map<string, Promise<void>>();
  /** For stateless pools: which worker gets the next command. */
  private nextWorker = 0;
  /** The slot whose actor is being spawned: `init` runs synchronously inside spawn and takes it. */
  private spawning: Slot | null = null;
  /**
   * One behavior for every entity actor of this region (no closures per activation). `init` is
   * synchronous (it only attaches the actor to its slot), so the type's supervisor starts
   * entities without waiting; the state is loaded by the first message, `RECOVER` (OTP's
   * `handle_continue`), and commands queue meanwhile.
   */
  readonly behavior: Behavior<EntityMsg, EntityCell> = {
    init: (ctx) => {
      const slot = this.spawning as Slot;
      this.spawning = null;
      const cell = this.newCell(slot, ctx as Context);
      ctx.self.tell(RECOVER);
      this.attach(slot, ctx.self as Actor);
      return cell;
    },
    receive: (cell, msg, ctx) => {
      if (msg === WAKE) return cell.recovered ? this.handleWake(cell) : cell;
      if (msg === RECOVER) {
        // Its slot was evicted (the cluster lost the shard) before this actor started: it has
        // nothing to serve, so it goes instead of idling detached for ever.
        if (cell.slot.detached && cell.slot.actor === ctx.self) {
          ctx.stop('shutdown');
          return cell;
        }
        return this.recover(cell, ctx);
      }
      this.tryPassivate(cell, ctx, msg === PASSIVATE_IDLE ? 'idle' : msg === PASSIVATE_LRU ? 'lru' : 'requested');
      return cell;
    },
  };
  /** The type's dynamic supervisor: every entity actor of this type is its child. */
  private supervisor: DynamicSupervisorRef<[Slot]>;

  constructor(
    readonly runtime: EntityRuntime,
    readonly type: EntityType,
    readonly settings: ResolvedSettings,
  ) {
    this.supervisor = this.startSupervisor();
    if (type.kind === 'stateless') for (let i = 0; i < settings.poolSize; i++) this.slotFor(String(i));
  }

  /**
   * A dynamic supervisor for the type: entity actors are transient children (a crash is
   * restarted after the type's backoff, a passivation is not), with the type's intensity as a
   * circuit breaker. It is spawned synchronously, so commands can be queued at once.
   */
  private startSupervisor(): DynamicSupervisorRef<[Slot]> {
    const system = this.runtime.system;
    const { minMs, maxMs, randomFactor } = this.settings.backoff;
    const spec: DynamicSupervisorSpec<[Slot]> = {
      name: `entities:${this.type.name}`,
      intensity: this.runtime.supervision.intensity,
      periodMs: this.runtime.supervision.periodMs,
      child: {
        restart: 'transient',
        shutdown: this.runtime.supervision.shutdownMs,
        backoff: { minMs: Math.max(minMs, 0.001), maxMs: Math.max(maxMs, minMs, 0.001), randomFactor },
        start: (ctx, slot) => this.spawnFor(slot, (behavior) => ctx.spawn(behavior)),
      },
    };
    const sup = spawnDynamicSupervisor(system, spec);
    system.monitor(sup.ref, (reason) => this.supervisorExited(reason));
    return sup;
  }

  // ------------------------------------------------------------ delivery

  /** Queues a pending command (or subscription request) on `slot` and wakes its entity; `now` is the clock's time. */
  deliver(slot: Slot, p: Pending, now: number): void {
    slot.queue.push(p);
    this.touch(slot, now);
    this.wake(slot);
  }

  /** The slot of `id`, created (and its entity activated) if it has none. */
  slotFor(id: string): Slot {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      const rt = this.runtime;
      slot = new Slot(rt.nextSlotId(), id, `${this.type.name}|${id}`, this);
      this.slots.set(id, slot);
      rt.activated(this);
      this.touch(slot, this.runtime.system.clock.now());
      this.activate(slot);
    }
    return slot;
  }

  /** For a stateless function: the worker slot with the shortest queue, starting round-robin. */
  workerFor(): Slot {
    const n = this.settings.poolSize;
    const start = this.nextWorker++ % n;
    let best = this.slotFor(String(start));
    for (let i = 1; i < n && best.queue.length > 0; i++) {
      const s = this.slotFor(String((start + i) % n));
      if (s.queue.length < best.queue.length) best = s;
    }
    return best;
  }

  private wake(slot: Slot): void {
    if (!slot.wakePending && slot.actor !== null) {
      slot.wakePending = true;
      slot.actor.tell(WAKE);
    }
  }

  // ------------------------------------------------------------ activation

  /** Starts an actor for `slot` under the type's supervisor; it attaches itself in its `init`. */
  private activate(slot: Slot): void {
    if (!this.supervisor.alive) this.supervisor = this.startSupervisor();
    this.supervisor.startChild(slot).then(undefined, (err: unknown) => {
      // The supervisor is gone (stopping, or gave up) or refused: the slot's commands cannot run.
      if (slot.detached || slot.actor !== null) return;
      this.detach(slot);
      const error = err instanceof Error ? err : new Error(String(err));
      slot.failAll(this.runtime.stopping ? new EntityStoppedError(this.type.name) : error);
    });
  }

  /** Spawns the actor of one incarnation of `slot`'s entity (called by the supervisor's start function, also on restarts). */
  private spawnFor<T>(slot: Slot, spawn: (behavior: Behavior<EntityMsg, EntityCell>) => T): T {
    this.spawning = slot;
    try {
      return spawn(this.behavior);
    } finally {
      this.spawning = null;
    }
  }

  private newCell(slot: Slot, ctx: Context): EntityCell {
    switch (this.type.kind) {
      case 'stateless':
        return new StatelessCell(slot, undefined, ctx);
      case 'value':
        return new ValueCell(slot, undefined, ctx);
      case 'event-sourced':
        return new EventSourcedCell(slot, undefined, ctx);
    }
  }

  /** A new actor serves `slot` (first start or restart): commands queued meanwhile get a wake-up. */
  private attach(slot: Slot, actor: Actor): void {
    slot.actor = actor;
    slot.wakePending = false;
    // A passivation request sent to the incarnation before this one died with it; the restart
    // counts as use, which also re-arms the idle sweep (it skipped the slot while it was asked).
    const asked = slot.passivating;
    this.passivationAnswered(slot);
    if (asked) this.touch(slot, this.runtime.system.clock.now());
    if (slot.queue.length > 0) this.wake(slot);
  }

  /** Loads the state (snapshot, then the events after it, or the stored value); the first message of every incarnation. */
  private async recover(cell: EntityCell, ctx: Context<EntityMsg>): Promise<EntityCell> {
    const slot = cell.slot;
    const previous = this.stopping.get(slot.persistenceId);
    if (previous !== undefined) await previous;
    // The incarnation before this one was killed with a write in flight: that write's outcome
    // answers the commands at the head of the queue, and the state must be read after it.
    if (slot.writing > 0) await slot.whenWritten();
    // Killed while it waited: the incarnation after it recovers, not this one.
    if (!cell.current) return cell;
    const store = this.runtime.store;
    // Read into locals, and only made this incarnation's (and reported) if it is still alive
    // once the reads are done: a killed one's late load must not show as an activation.
    let state: unknown = cell.state;
    let version = 0;
    let fromSnapshot = false;
    let replayed = 0;
    try {
      switch (this.type.kind) {
        case 'stateless':
          break;
        case 'value': {
          const record = await store.durableState.get(slot.persistenceId);
          state = record === undefined ? this.type.initialState() : record.value;
          version = record?.revision ?? 0;
          break;
        }
        case 'event-sourced': {
          const def = this.type as EventSourcedEntity<unknown, { type: string }>;
          // One group read (shared with other entities recovering now) brings the latest
          // snapshot and the events after it; a longer history is replayed from where it stopped.
          const data = await store.recovery.load(slot.persistenceId);
          const snap = data.snapshot;
          state = snap === undefined ? def.initialState() : snap.snapshot;
          let seq = snap?.sequenceNr ?? 0;
          for (const e of data.events) {
            state = def.applyEvent(state, e.payload as { type: string });
            seq = e.sequenceNr;
          }
          replayed = data.events.length;
          if (!data.complete) {
            const rest = await store.journal.replay(slot.persistenceId, { fromSequenceNr: seq + 1 }, (e) => {
              state = def.applyEvent(state, e.payload as { type: string });
              seq = e.sequenceNr;
            });
            replayed += rest.count;
          }
          version = seq;
          fromSnapshot = snap !== undefined;
          break;
        }
      }
    } catch (err) {
      if (!cell.current) return cell;
      this.recoveryFailed(slot, err);
      ctx.stop('normal');
      return cell;
    }
    if (!cell.current) return cell; // killed while it read the store: its successor reads again
    if (this.type.kind !== 'stateless') {
      cell.state = state;
      cell.version = slot.version = version;
      this.emitActivated(slot, version, fromSnapshot, replayed);
    }
    cell.recovered = true;
    if (slot.queue.length > 0) return this.handleWake(cell);
    return cell;
  }

  private emitActivated(slot: Slot, sequenceNr: number, fromSnapshot: boolean, replayed: number): void {
    const events = this.runtime.system.events;
    if (events.active) {
      events.publish({ type: 'entity.activated', entityType: this.type.name, entityId: slot.entityId, sequenceNr, fromSnapshot, replayed });
    }
  }

  /**
   * The state could not be loaded (the store is down, a snapshot cannot be decoded, an event
   * handler throws during replay): the queued commands fail with `RECOVERY_FAILED` and the slot
   * goes away, so the next command tries again — no restart storm while a database is down.
   */
  private recoveryFailed(slot: Slot, err: unknown): void {
    this.runtime.logger.error({ entity: slot.name, err }, 'entity recovery failed');
    const events = this.runtime.system.events;
    if (events.active) {
      events.publish({ type: 'entity.recovery-failed', entityType: this.type.name, entityId: slot.entityId, reason: err instanceof Error ? err : new Error(String(err)) });
    }
    const error = new RecoveryFailedError(this.type.name, slot.entityId, err);
    this.detach(slot);
    slot.failAll(error);
  }

  // ------------------------------------------------------------ handling

  private handleWake(cell: EntityCell): EntityCell | Promise<EntityCell> {
    const slot = cell.slot;
    slot.wakePending = false;
    if (slot.queue.length === 0) {
      this.afterBatch(cell);
      return cell;
    }
    return cell.runBatch();
  }

  /** After each batch: stop to reload, wake up for more, or passivate if asked. */
  afterBatch(cell: EntityCell): void {
    const slot = cell.slot;
    const ctx = cell.actorCtx;
    if (cell.reloadRequested) {
      // After a conflict or an unknown write outcome, memory cannot be trusted: this incarnation
      // ends and the next one (made at once if commands are queued) reloads from the store.
      this.reloadWhenGone(slot, ctx.self as Actor);
      ctx.stop({ shutdown: 'reload' });
    } else if (slot.queue.length > 0) {
      // One batch per wake-up, so other actors get their turn between batches. Commands that
      // arrived during the batch may already have sent a wake-up.
      if (!slot.wakePending) {
        slot.wakePending = true;
        ctx.self.tell(WAKE);
      }
    } else if (cell.passivateRequested) {
      this.tryPassivate(cell, ctx as Context<EntityMsg>, 'requested');
    } else if (this.runtime.overCap && this.type.kind !== 'stateless') {
      // Over the cap because every entity was busy when others were activated: the excess goes
      // as its entities turn idle, this one now.
      this.tryPassivate(cell, ctx as Context<EntityMsg>, 'lru');
    }
  }

  /** Passivates if nothing is queued or running; otherwise the request is dropped (the entity is busy, so not idle). */
  private tryPassivate(cell: EntityCell, ctx: Context<EntityMsg>, reason: 'idle' | 'lru' | 'requested'): void {
    const slot = cell.slot;
    this.passivationAnswered(slot);
    if (slot.detached) return;
    if (!slot.idle) {
      this.touch(slot, this.runtime.system.clock.now()); // busy is the opposite of idle: it counts as used now
      return;
    }
    // Detach synchronously, in the same turn as the emptiness check: a command arriving from now
    // on makes a new slot and a new activation, which waits for this one to be gone.
    this.detach(slot);
    let done!: () => void;
    this.stopping.set(slot.persistenceId, new Promise<void>((r) => (done = r)));
    const pid = slot.persistenceId;
    (ctx.self as Actor).onExit(() => {
      this.stopping.delete(pid);
      done();
    });
    ctx.stop('normal');
    const events = this.runtime.system.events;
    if (events.active) events.publish({ type: 'entity.passivated', entityType: this.type.name, entityId: slot.entityId, reason });
  }

  /** Asks `slot`'s entity to passivate (it only does if idle when the request arrives). */
  requestPassivation(slot: Slot, kind: 'idle' | 'lru'): void {
    // A dead actor (a crashed entity waiting out its restart backoff) would never answer: the
    // slot is left unasked, and the next sweep asks its next incarnation.
    if (slot.actor === null || !slot.actor.alive || slot.passivating || slot.detached) return;
    // On its way out (idle, or to make room): not counted against the cap while the request travels.
    slot.passivating = true;
    this.runtime.passivating++;
    slot.actor.tell(kind === 'idle' ? PASSIVATE_IDLE : PASSIVATE_LRU);
  }

  /** A request to passivate was handled (or died with its actor, or the slot went). */
  private passivationAnswered(slot: Slot): void {
    if (!slot.passivating) return;
    slot.passivating = false;
    this.runtime.passivating--;
  }

  /** Removes a slot from the region; its queue is the caller's business. */
  detach(slot: Slot): void {
    if (slot.detached) return;
    slot.detached = true;
    this.passivationAnswered(slot);
    if (this.slots.get(slot.entityId) === slot) this.slots.delete(slot.entityId);
    this.unlink(slot);
    this.runtime.deactivated(this);
  }

  /**
   * Stops `slot`'s entity now (the cluster lost or hands off its shard): detached, so nothing it
   * computes from now on is written; its queued commands fail with `error`; resolves when its
   * actor is gone and its write in flight, if any, has settled.
   */
  evict(slot: Slot, error: Error): Promise<void> {
    const actor = slot.actor;
    this.detach(slot);
    slot.failAll(error);
    const pid = slot.persistenceId;
    const exited = actor === null || !actor.alive ? Promise.resolve() : new Promise<void>((resolve) => actor.onExit(() => resolve()));
    const done = Promise.all([exited, slot.whenWritten()]).then(() => undefined);
    this.awaitWrite(pid, done);
    if (actor !== null && actor.alive) void actor.stop('shutdown');
    return done;
  }

  /**
   * An incarnation ended itself to reload (after a write conflict or an unknown write outcome):
   * its supervisor does not restart it (the exit is not a crash), so the region brings the entity
   * back at once if commands are waiting.
   */
  private reloadWhenGone(slot: Slot, actor: Actor): void {
    actor.onExit(() => {
      if (slot.actor !== actor || slot.detached) return;
      slot.actor = null;
      slot.wakePending = false;
      if (slot.hasWork || this.type.kind === 'stateless') this.activate(slot);
      else this.detach(slot);
    });
  }

  /** The type's supervisor exited (the runtime stops, or it gave up after too many crashes): every entity of the type is gone. */
  private supervisorExited(reason: ExitReason): void {
    if (!this.runtime.stopping) this.runtime.logger.error({ entityType: this.type.name, reason }, 'entity type supervisor exited; entities of this type were stopped');
    const error = new EntityStoppedError(this.type.name);
    for (const slot of [...this.slots.values()]) {
      this.detach(slot);
      slot.failAll(error);
      if (slot.writing > 0) this.awaitWrite(slot.persistenceId, slot.whenWritten());
    }
  }

  /**
   * A write of a gone slot is still at the database (its outcome answers its commands): the
   * entity's next incarnation, in a new slot, must read its state after it, like after a
   * passivation.
   */
  private awaitWrite(pid: string, write: Promise<void>): void {
    const previous = this.stopping.get(pid);
    const done: Promise<void> = Promise.all([previous, write]).then(() => {
      if (this.stopping.get(pid) === done) this.stopping.delete(pid);
    });
    this.stopping.set(pid, done);
  }

  /** Stops the type's supervisor and with it every entity actor of the type. */
  stopSupervisor(): Promise<void> {
    return this.supervisor.stop('shutdown');
  }

  /** The type's supervisor, for inspection (`whichChildren`, `countChildren`). */
  get typeSupervisor(): DynamicSupervisorRef<[Slot]> {
    return this.supervisor;
  }

  // ------------------------------------------------------------ observers

  persisted(slot: Slot, fromSequenceNr: number, toSequenceNr: number): void {
    const events = this.runtime.system.events;
    if (events.active) events.publish({ type: 'entity.persisted', entityType: this.type.name, entityId: slot.entityId, fromSequenceNr, toSequenceNr });
  }

  snapshotSaved(slot: Slot, sequenceNr: number): void {
    const events = this.runtime.system.events;
    if (events.active) events.publish({ type: 'entity.snapshot', entityType: this.type.name, entityId: slot.entityId, sequenceNr });
  }

  poisoned(slot: Slot, p: Pending): void {
    this.runtime.logger.error({ entity: slot.name, command: p.def?.name, attempts: p.attempts, err: p.lastCrash }, 'poison command dropped');
    const events = this.runtime.system.events;
    if (events.active) events.publish({ type: 'entity.poison-command', entityType: this.type.name, entityId: slot.entityId, attempts: p.attempts });
  }

  // ------------------------------------------------------------ least recently used, idle passivation

  /** Marks `slot` used at `now`: it moves to the most-recently-used end. */
  touch(slot: Slot, now: number): void {
    slot.lastActive = now;
    if (slot.detached) return;
    if (this.lruTail !== slot) {
      this.unlink(slot);
      slot.lruPrev = this.lruTail;
      if (this.lruTail === null) this.lruHead = slot;
      else this.lruTail.lruNext = slot;
      this.lruTail = slot;
    }
    if (this.idleTimer === null && this.settings.idleTimeoutMs !== Infinity) {
      this.idleTimer = this.runtime.system.clock.setTimeout(this.sweep, this.settings.idleTimeoutMs);
    }
  }

  private unlink(slot: Slot): void {
    const { lruPrev: prev, lruNext: next } = slot;
    if (prev === null && next === null && this.lruHead !== slot) return;
    if (prev === null) this.lruHead = next;
    else prev.lruNext = next;
    if (next === null) this.lruTail = prev;
    else next.lruPrev = prev;
    slot.lruPrev = slot.lruNext = null;
  }

  /**
   * The least recently used idle slot (a candidate for eviction), looked for among the
   * `EVICTION_SCAN` least recently used ones: an entity is moved to the other end of the list
   * when it gets a command, so busy ones are rarely in front, and when every entity is busy the
   * look stays short. Null if none.
   */
  idleLeastRecentlyUsed(): Slot | null {
    let s = this.lruHead;
    // Not a busy one (it would refuse), not one being asked already, nor one without a live actor
    // (activating, or a crashed one waiting out its restart backoff): it could not answer.
    for (let n = 0; s !== null && n < EVICTION_SCAN; n++, s = s.lruNext) {
      if (s.idle && !s.passivating && s.actor !== null && s.actor.alive) return s;
    }
    return null;
  }

  /**
   * One timer per region, armed for the least recently used entity: the list is in order of last
   * use, so everything idle long enough is at its front.
   */
  private sweepIdle(): void {
    this.idleTimer = null;
    const clock = this.runtime.system.clock;
    const now = clock.now();
    const idle = this.settings.idleTimeoutMs;
    let s = this.lruHead;
    while (s !== null && now - s.lastActive >= idle) {
      const next = s.lruNext;
      // A crashed entity waiting out its restart backoff is not idle: it is about to run again.
      if (s.actor !== null && !s.actor.alive) this.touch(s, now);
      else if (!s.passivating) this.requestPassivation(s, 'idle');
      s = next;
    }
    // Re-arm for the first slot not yet idle; slots asked to passivate that turn out busy are
    // touched again by their next command.
    let first = this.lruHead;
    while (first !== null && first.passivating) first = first.lruNext;
    if (first !== null) this.idleTimer = clock.setTimeout(this.sweep, Math.max(1, first.lastActive + idle - now));
  }

  /** Stops the idle timer (the runtime is stopping). */
  dispose(): void {
    if (this.idleTimer !== null) this.runtime.system.clock.clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
