import type { Context } from '../actors/context.js';
import { systemTimeOf } from '../actors/clock.js';
import type { Logger } from '../logger.js';
import { JournalConflictError, DurableStateConflictError, WriteOutcomeUnknownError } from '../persistence/errors.js';
import type { AppendResult, EventToAppend } from '../persistence/journal.js';
import type { UpsertStateResult } from '../persistence/durable-state-store.js';
import type { EntityRefs, EventSourcedEntity } from './definition.js';
import { DELETE, EffectBuilder, failure, type Failure, isEffect, NO_WRITE, type Step, UPDATE } from './effect.js';
import type { CommandSpecs, EntityRef } from './entity-ref.js';
import { EntityConflictError, PersistFailedError, PoisonCommandError } from './errors.js';
import { COMMAND, type Pending } from './pending.js';
import type { Region } from './region.js';
import type { Slot } from './slot.js';

const NO_CRASH: unknown = Symbol('no crash');
const ignore = (): void => {};

/** A failed write: what the callers get, and whether the entity must reload. @internal */
export interface WriteFailure {
  readonly error: Error;
  readonly reload: boolean;
}

/**
 * The commands handled together, with their effects and the state after each. Arrays are sized
 * for the batch up front (most batches hold one command), and `size` says how many are used.
 * @internal
 */
export class Batch {
  /** Pending, effect, state after it; pending, effect, state; … (one array, not three). */
  private readonly items: unknown[];
  size = 0;
  finalState: unknown = undefined;
  fromVersion = 0;
  /** A handler that threw after the commands above: rethrown once they are answered. */
  crash: unknown = NO_CRASH;

  constructor(capacity: number) {
    this.items = new Array<unknown>(capacity * 3);
  }

  add(p: Pending, effect: EffectBuilder<unknown, unknown>, state: unknown): void {
    const i = 3 * this.size++;
    this.items[i] = p;
    this.items[i + 1] = effect;
    this.items[i + 2] = state;
  }

  pending(i: number): Pending {
    return this.items[3 * i] as Pending;
  }

  effect(i: number): EffectBuilder<unknown, unknown> {
    return this.items[3 * i + 1] as EffectBuilder<unknown, unknown>;
  }

  state(i: number): unknown {
    return this.items[3 * i + 2];
  }
}

/**
 * One incarnation of an entity: its state in memory and the logic that turns queued commands into
 * writes and replies. It lives inside the entity's actor (it is the actor's state); the queue it
 * reads is its slot's.
 *
 * Queued commands are handled in batches: each handler sees the state left by the one before
 * (exactly as if they ran one by one), their events (or the final state) are written in one
 * atomic write, and only after it commits are the replies sent and side effects run, in order.
 * A handler that throws ends the batch: the commands before it are written and answered, then
 * the entity crashes and the failed command stays at the head of the queue for the restarted
 * entity, which counts the attempt.
 * @internal
 */
export abstract class EntityCell {
  /** Sequence number (event-sourced) or revision (value) of what is persisted. */
  version = 0;
  /** Passivate when the queue is empty: asked for by an effect. */
  passivateRequested = false;
  /** The actor should stop after this batch (conflict, unknown outcome): it reloads from the store. */
  reloadRequested = false;
  /** The state has been loaded; commands wait until then. */
  recovered = false;
  /** The batch whose write is in flight. */
  private writing: Batch | null = null;
  private onWritten: ((result: unknown) => EntityCell | Promise<EntityCell>) | null = null;
  private onWriteFailed: ((err: unknown) => EntityCell) | null = null;
  readonly ctx: HandlerCtx;

  constructor(
    readonly slot: Slot,
    public state: unknown,
    /** The serving actor's context, to stop or wake it. */
    readonly actorCtx: Context,
  ) {
    this.ctx = new HandlerCtx(this);
  }

  get region(): Region {
    return this.slot.region;
  }

  /** Applies an effect's write to `state` in memory (not yet persisted); returns the new state. */
  protected abstract apply(state: unknown, effect: EffectBuilder<unknown, unknown>): unknown;

  /** Persists the batch's writes; undefined when there is nothing to write. `versionAfter` reads the new version from what it resolves to. */
  protected abstract write(batch: Batch): Promise<unknown> | undefined;

  /** The persisted version after a write resolved with `result`. */
  protected abstract versionAfter(result: unknown): number;

  /** After a committed write: notify observers, snapshot. */
  protected abstract committed(batch: Batch): void;

  /** True if an effect must end the batch after itself (a value entity's delete). */
  protected endsBatch(_effect: EffectBuilder<unknown, unknown>): boolean {
    return false;
  }

  /**
   * Handles one batch from the head of the queue and resolves to this cell (the actor's next
   * state), synchronously when nothing had to be awaited. A crash is thrown (or rejected) after
   * the commands before it were written and answered.
   */
  runBatch(): EntityCell | Promise<EntityCell> {
    const q = this.slot.queue;
    const region = this.region;
    const maxAttempts = region.settings.maxCommandAttempts;
    const head = q.peek() as Pending;
    if (head.type !== COMMAND) {
      q.shift();
      const started = region.runtime.subscriptions.start(this, head);
      return started === undefined ? this.finish() : started.then(() => this.finish());
    }
    if (head.attempts >= maxAttempts) {
      q.shift();
      region.poisoned(this.slot, head);
      head.fail(new PoisonCommandError(region.type.name, this.slot.entityId, head.def?.name ?? '?', head.attempts, head.lastCrash));
      return this.finish();
    }
    const n = Math.min(q.length, region.settings.maxBatchSize);
    const batch = new Batch(n);
    const ctx = this.ctx;
    let state = this.state;
    for (let i = 0; i < n; i++) {
      const p = q.at(i) as Pending;
      if (p.type !== COMMAND || p.attempts >= maxAttempts) break; // handled alone, in a batch of its own
      const def = p.def as NonNullable<Pending['def']>;
      // A handler that returns promises is awaited alone, at the head of a batch: behind other
      // commands it is not even called, since the state it would see may never commit.
      if (i > 0 && def.async) break;
      p.attempts++;
      ctx.command = def.name;
      let effect: unknown;
      try {
        effect = def.handler(state, p.input, ctx as never);
      } catch (err) {
        batch.crash = p.lastCrash = err;
        break;
      }
      if (effect instanceof Promise) {
        def.async = true; // a plain function that returns promises: from now on, as if async
        if (i > 0) {
          // Found out too late, behind other commands: what it started on a state that may
          // not commit is dropped (its rejection observed), and it runs again at the head.
          p.attempts--;
          effect.catch(ignore);
          break;
        }
        return this.runAsyncHead(p, effect);
      }
      if (!isEffect(effect)) {
        batch.crash = p.lastCrash = new TypeError(`${region.type.name}.${def.name} must return an effect built with its ctx, got ${typeof effect}`);
        break;
      }
      try {
        state = this.apply(state, effect);
      } catch (err) {
        batch.crash = p.lastCrash = err;
        break;
      }
      batch.add(p, effect, state);
      // The next handler sees this one's events in its state, so in its sequence number too.
      if (effect.events !== null) ctx.ahead += effect.events.length;
      if (this.endsBatch(effect)) break;
    }
    ctx.ahead = 0;
    if (batch.size === 0) throw batch.crash;
    batch.finalState = state;
    return this.persist(batch);
  }

  /** An async handler at the head of the queue: awaited alone, then written and answered. */
  private async runAsyncHead(p: Pending, effectPromise: Promise<unknown>): Promise<EntityCell> {
    const batch = new Batch(1);
    try {
      const effect = await effectPromise;
      // Stopped while the handler ran (the runtime stopped and failed the command, or the actor
      // was killed and the command waits for the next incarnation): nothing may be written.
      if (!this.current) return this;
      if (!isEffect(effect)) throw new TypeError(`${this.region.type.name}.${p.def?.name ?? '?'} must return an effect built with its ctx`);
      batch.finalState = this.apply(this.state, effect);
      batch.add(p, effect, batch.finalState);
    } catch (err) {
      p.lastCrash = err;
      throw err;
    }
    return this.persist(batch);
  }

  /** Writes the batch, then answers it: one continuation after the store, however it ends. */
  private persist(batch: Batch): EntityCell | Promise<EntityCell> {
    batch.fromVersion = this.version;
    const written = this.write(batch);
    if (written === undefined) {
      this.succeeded(batch);
      return this.complete(batch);
    }
    // One batch is written at a time, so the continuations are made once per incarnation and
    // find the batch in `writing`, instead of two closures per write.
    this.writing = batch;
    this.slot.startWriting(batch.size);
    return written.then((this.onWritten ??= (result) => this.written(result)), (this.onWriteFailed ??= (err) => this.writeFailed(err)));
  }

  private written(result: unknown): EntityCell | Promise<EntityCell> {
    const batch = this.writing as Batch;
    this.writing = null;
    this.slot.writeSettled(); // waiters run later, once succeeded() has taken the batch off the queue
    this.version = this.slot.version = this.versionAfter(result);
    this.succeeded(batch);
    return this.complete(batch);
  }

  private writeFailed(err: unknown): EntityCell {
    const batch = this.writing as Batch;
    this.writing = null;
    this.slot.writeSettled();
    this.failed(batch, writeFailure(this.region, this.slot, err));
    return this.finishOrCrash(batch);
  }

  /** The write committed: the batch is done (off the queue), the state is the new state. */
  private succeeded(batch: Batch): void {
    const q = this.slot.queue;
    for (let i = 0; i < batch.size; i++) q.shift();
    this.state = batch.finalState;
    this.committed(batch);
  }

  /** The write failed: every command of the batch fails with it, nothing was applied. */
  private failed(batch: Batch, failure: WriteFailure): void {
    const q = this.slot.queue;
    for (let i = 0; i < batch.size; i++) {
      q.shift();
      batch.pending(i).fail(failure.error);
    }
    if (failure.reload) this.reloadRequested = true;
  }

  /** Runs every command's steps in order (replies, side effects, forwards), then finishes. */
  private complete(batch: Batch): EntityCell | Promise<EntityCell> {
    const pending = this.completeFrom(batch, 0, 0);
    return pending === undefined ? this.finishOrCrash(batch) : pending.then(() => this.finishOrCrash(batch));
  }

  private finishOrCrash(batch: Batch): EntityCell {
    if (batch.crash !== NO_CRASH && this.current) throw batch.crash;
    return this.finish();
  }

  private finish(): EntityCell {
    // An incarnation that no longer serves its slot (its write settled after it was stopped)
    // has answered its commands; what comes next is not its business.
    if (this.current) this.region.afterBatch(this);
    return this;
  }

  /**
   * This incarnation still serves its slot: its actor is alive and is the slot's, and the slot
   * is in its region. False once the runtime stopped, the supervisor killed the actor, or the
   * entity was passivated, which can happen while a handler or a write is awaited.
   */
  get current(): boolean {
    const slot = this.slot;
    const actor = slot.actor;
    return !slot.detached && actor !== null && actor === (this.actorCtx.self as unknown) && actor.alive;
  }

  private completeFrom(batch: Batch, from: number, fromStep: number): Promise<void> | undefined {
    for (let i = from; i < batch.size; i++) {
      const p = batch.pending(i);
      const effect = batch.effect(i);
      if (effect.failure !== null) {
        p.fail(effect.failure);
        continue;
      }
      const replyFn = effect.replyFn;
      if (replyFn !== null) {
        try {
          p.succeed(replyFn(batch.state(i)));
        } catch (err) {
          p.fail(err);
        }
        continue;
      }
      const steps = effect.steps;
      if (steps !== null) {
        for (let s = i === from ? fromStep : 0; s < steps.length; s++) {
          const running = this.runStep(p, steps[s] as Step<unknown>, batch.state(i));
          if (running !== undefined) return running.then(() => this.completeFrom(batch, i, s + 1));
        }
      }
      if (!effect.replies) p.succeed(undefined);
    }
    return undefined;
  }

  private runStep(p: Pending, step: Step<unknown>, state: unknown): Promise<void> | undefined {
    switch (step.kind) {
      case 'reply':
        try {
          p.succeed(step.fn(state));
        } catch (err) {
          p.fail(err);
        }
        return undefined;
      case 'run': {
        let r: unknown;
        try {
          r = step.fn(state);
        } catch (err) {
          this.sideEffectFailed(err);
          return undefined;
        }
        if (r instanceof Promise) return r.then(undefined, (err: unknown) => this.sideEffectFailed(err));
        return undefined;
      }
      case 'forward': {
        const ref = step.ref as EntityRef<CommandSpecs> & { ask(c: string, i: unknown): Promise<unknown> };
        let forwarded: Promise<unknown>;
        try {
          // Promise.resolve: a ref's ask returns a promise (kept as is); anything else passed
          // as a ref must not break the batch either.
          forwarded = Promise.resolve(ref.ask(step.command, step.input));
        } catch (err) {
          p.fail(err); // not a ref of this runtime, say: the caller hears it, the batch goes on
          return undefined;
        }
        forwarded.then(
          (v) => p.succeed(v),
          (e: unknown) => p.fail(e),
        );
        return undefined;
      }
      case 'passivate':
        this.passivateRequested = true;
        return undefined;
    }
  }

  private sideEffectFailed(err: unknown): void {
    logSafely(() => this.ctx.log.error({ err, command: this.ctx.command }, 'side effect failed'));
  }
}

/**
 * Logs through the user's logger, which may throw: that must not cost the commands still to be
 * answered after a side effect failed, nor leave a rejection unobserved.
 */
function logSafely(log: () => void): void {
  try {
    log();
  } catch {
    // Nothing better to report it to.
  }
}

/** Maps a store error to what the caller gets, and whether the entity must reload. @internal */
export function writeFailure(region: Region, slot: Slot, err: unknown): WriteFailure {
  if (err instanceof JournalConflictError || err instanceof DurableStateConflictError) {
    return { error: new EntityConflictError(region.type.name, slot.entityId, err), reload: true };
  }
  // Whether it committed is unknown: the in-memory version can no longer be trusted.
  const reload = err instanceof WriteOutcomeUnknownError;
  return { error: new PersistFailedError(region.type.name, slot.entityId, err), reload };
}

/** An event-sourced entity's incarnation. @internal */
export class EventSourcedCell extends EntityCell {
  private snapshotting = false;

  protected apply(state: unknown, effect: EffectBuilder<unknown, unknown>): unknown {
    const events = effect.events;
    if (events === null) return state;
    const def = this.region.type as EventSourcedEntity<unknown, { type: string }>;
    for (let i = 0; i < events.length; i++) state = def.applyEvent(state, events[i] as { type: string });
    return state;
  }

  protected versionAfter(result: unknown): number {
    return (result as AppendResult).highestSequenceNr;
  }

  protected write(batch: Batch): Promise<unknown> | undefined {
    let toAppend: EventToAppend[] | null = null;
    for (let i = 0; i < batch.size; i++) {
      const events = batch.effect(i).events;
      if (events === null) continue;
      toAppend ??= [];
      for (let j = 0; j < events.length; j++) {
        const event = events[j] as { type: string };
        toAppend.push({ payload: event, type: event.type });
      }
    }
    if (toAppend === null) return undefined;
    return this.region.runtime.store.journal.append(this.slot.persistenceId, this.version, toAppend);
  }

  protected committed(batch: Batch): void {
    const from = batch.fromVersion;
    if (this.version === from) return;
    const region = this.region;
    region.persisted(this.slot, from + 1, this.version);
    region.runtime.subscriptions.publish(this.slot, batch, from);
    const every = region.settings.snapshotEvery;
    if (every > 0 && this.current && Math.floor(from / every) !== Math.floor(this.version / every)) this.snapshot();
  }

  /** Saves the current state as a snapshot in the background (one at a time), then trims old ones. */
  private snapshot(): void {
    if (this.snapshotting) return;
    this.snapshotting = true;
    const region = this.region;
    const { persistenceId } = this.slot;
    const seq = this.version;
    const store = region.runtime.store;
    store.snapshots
      .save(persistenceId, seq, this.state)
      .then(() => store.snapshots.keepLast(persistenceId, region.settings.snapshotKeep))
      .then(
        () => region.snapshotSaved(this.slot, seq),
        (err: unknown) => logSafely(() => this.ctx.log.warn({ err, sequenceNr: seq }, 'snapshot failed')),
      )
      .finally(() => {
        this.snapshotting = false;
      });
  }
}

/** A value entity's incarnation. @internal */
export class ValueCell extends EntityCell {
  protected apply(state: unknown, effect: EffectBuilder<unknown, unknown>): unknown {
    if (effect.write === UPDATE) return effect.newState;
    if (effect.write === DELETE) return this.region.type.initialState();
    return state;
  }

  protected override endsBatch(effect: EffectBuilder<unknown, unknown>): boolean {
    return effect.write === DELETE;
  }

  protected versionAfter(result: unknown): number {
    return result === DELETED ? 0 : (result as UpsertStateResult).revision;
  }

  protected write(batch: Batch): Promise<unknown> | undefined {
    let last = NO_WRITE;
    for (let i = 0; i < batch.size; i++) {
      const w = batch.effect(i).write;
      if (w !== NO_WRITE) last = w;
    }
    if (last === NO_WRITE) return undefined;
    const { persistenceId } = this.slot;
    const store = this.region.runtime.store.durableState;
    // Only the batch's final state matters: one compare-and-set write for the whole batch.
    return last === DELETE
      ? store.delete(persistenceId, this.version).then(deleted)
      : store.upsert(persistenceId, this.version, batch.finalState, { type: this.region.type.name });
  }

  protected committed(batch: Batch): void {
    let wrote = false;
    for (let i = 0; i < batch.size; i++) if (batch.effect(i).write !== NO_WRITE) wrote = true;
    if (!wrote) return;
    this.region.persisted(this.slot, batch.fromVersion, this.version);
    this.region.runtime.subscriptions.publish(this.slot, batch, batch.fromVersion);
  }
}

const DELETED = Symbol('deleted');
const deleted = (): typeof DELETED => DELETED;

/** A stateless worker: no state, no writes. @internal */
export class StatelessCell extends EntityCell {
  protected apply(state: unknown): unknown {
    return state;
  }
  protected write(): undefined {
    return undefined;
  }
  protected versionAfter(): number {
    return 0;
  }
  protected committed(): void {}
}

/**
 * The `ctx` handlers get: effect constructors and facts about the entity. One per incarnation,
 * reused for every command.
 * @internal
 */
export class HandlerCtx {
  command = '';
  /** Events of the commands before this one in its batch, not yet persisted (0 outside a batch). */
  ahead = 0;
  private logger: Logger | null = null;

  constructor(private readonly cell: EntityCell) {}

  get entityType(): string {
    return this.cell.region.type.name;
  }
  get entityId(): string {
    return this.cell.slot.entityId;
  }
  get sequenceNr(): number {
    return this.cell.version + this.ahead;
  }
  /** The persisted revision: a batch of commands is one write, so handlers in it share one. */
  get revision(): number {
    return this.cell.version;
  }
  get log(): Logger {
    return (this.logger ??= this.cell.region.runtime.logger.child({ entity: this.cell.slot.name }));
  }
  get entities(): EntityRefs {
    return this.cell.region.runtime;
  }
  now(): number {
    // Wall-clock time: a handler's "now" ends up in events and state, where a monotonic reading means nothing after a restart.
    return systemTimeOf(this.cell.region.runtime.system.clock);
  }

  emit(...events: unknown[]): EffectBuilder<unknown, undefined> {
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as { type?: unknown } | null;
      if (typeof e !== 'object' || e === null || typeof e.type !== 'string') {
        throw new TypeError(`ctx.emit: events must be objects with a string "type", got ${e === null ? 'null' : typeof e}`);
      }
    }
    const effect = new EffectBuilder<unknown, undefined>();
    if (events.length > 0) effect.events = events;
    return effect;
  }

  update(state: unknown): EffectBuilder<unknown, undefined> {
    const effect = new EffectBuilder<unknown, undefined>();
    effect.write = UPDATE;
    effect.newState = state;
    return effect;
  }

  delete(): EffectBuilder<unknown, undefined> {
    const effect = new EffectBuilder<unknown, undefined>();
    effect.write = DELETE;
    return effect;
  }

  none(): EffectBuilder<unknown, undefined> {
    return new EffectBuilder<unknown, undefined>();
  }

  reply<R>(value: R): EffectBuilder<unknown, R> {
    return new EffectBuilder<unknown, undefined>().reply(value);
  }

  fail(message: string, details?: unknown): Failure {
    return failure(message, details);
  }

  forward<C extends CommandSpecs, K extends keyof C & string>(ref: EntityRef<C>, command: K, input: C[K]['input']): EffectBuilder<unknown, C[K]['reply']> {
    return new EffectBuilder<unknown, undefined>().thenForward(ref, command, input);
  }
}
