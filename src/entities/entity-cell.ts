import type { Logger } from '../logger.js';
import { JournalConflictError, DurableStateConflictError, AppendOutcomeUnknownError } from '../persistence/errors.js';
import type { EventToAppend } from '../persistence/journal.js';
import type { EntityRefs, EventSourcedEntity, ValueEntity } from './definition.js';
import { DELETE, EffectBuilder, failure, type Failure, isEffect, NO_WRITE, type Step, UPDATE } from './effect.js';
import type { CommandSpecs, EntityRef } from './entity-ref.js';
import { EntityConflictError, PersistFailedError, PoisonCommandError } from './errors.js';
import { COMMAND, type Pending } from './pending.js';
import type { Region } from './region.js';
import type { Slot } from './slot.js';

const NO_CRASH: unknown = Symbol('no crash');

/** How a write ended: committed, failed (entity goes on), or failed so that the entity must reload. @internal */
type WriteOutcome = { readonly ok: true } | { readonly ok: false; readonly error: Error; readonly reload: boolean };

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
  readonly ctx: HandlerCtx;
  private readonly batch: Pending[] = [];
  private readonly effects: EffectBuilder<unknown, unknown>[] = [];
  private readonly states: unknown[] = [];

  constructor(
    readonly slot: Slot,
    public state: unknown,
  ) {
    this.ctx = new HandlerCtx(this);
  }

  get region(): Region {
    return this.slot.region;
  }

  /** Applies an effect's write to `state` in memory (not yet persisted); returns the new state. */
  protected abstract apply(state: unknown, effect: EffectBuilder<unknown, unknown>): unknown;

  /** Persists the batch's writes; undefined when there is nothing to write. */
  protected abstract write(batch: readonly Pending[], effects: readonly EffectBuilder<unknown, unknown>[], finalState: unknown): Promise<WriteOutcome> | undefined;

  /** After a committed write: notify observers, snapshot. */
  protected abstract committed(effects: readonly EffectBuilder<unknown, unknown>[], states: readonly unknown[], fromVersion: number): void;

  /** True if an effect must end the batch after itself (a value entity's delete). */
  protected endsBatch(_effect: EffectBuilder<unknown, unknown>): boolean {
    return false;
  }

  /**
   * Handles one batch from the head of the queue. Returns undefined when it finished
   * synchronously, or a promise when it waits for a write, an async handler or a side effect. A
   * crash is thrown (or rejected) after the commands before it were written and answered.
   */
  runBatch(): Promise<void> | undefined {
    const q = this.slot.queue;
    const region = this.region;
    const maxAttempts = region.settings.maxCommandAttempts;
    const head = q.peek() as Pending;
    if (head.kind !== COMMAND) {
      q.shift();
      return region.runtime.subscriptions.start(this, head);
    }
    if (head.attempts >= maxAttempts) {
      q.shift();
      region.poisoned(this.slot, head);
      head.fail(new PoisonCommandError(region.type.name, this.slot.entityId, head.def?.name ?? '?', head.attempts, head.lastCrash));
      return undefined;
    }
    const batch = this.batch;
    const effects = this.effects;
    const states = this.states;
    batch.length = effects.length = states.length = 0;
    const ctx = this.ctx;
    const n = Math.min(q.length, region.settings.maxBatchSize);
    let state = this.state;
    let crash = NO_CRASH;
    for (let i = 0; i < n; i++) {
      const p = q.at(i) as Pending;
      if (p.kind !== COMMAND || p.attempts >= maxAttempts) break; // handled alone, in a batch of its own
      const def = p.def as NonNullable<Pending['def']>;
      p.attempts++;
      ctx.command = def.name;
      let effect: unknown;
      try {
        effect = def.handler(state, p.input, ctx as never);
      } catch (err) {
        crash = err;
        p.lastCrash = err;
        break;
      }
      if (effect instanceof Promise) {
        if (i > 0) {
          p.attempts--; // not tried yet: it will be the next batch, alone
          break;
        }
        return this.runAsyncHead(p, effect);
      }
      if (!isEffect(effect)) {
        crash = new TypeError(`${region.type.name}.${def.name} must return an effect built with its ctx, got ${typeof effect}`);
        p.lastCrash = crash;
        break;
      }
      try {
        state = this.apply(state, effect);
      } catch (err) {
        crash = err;
        p.lastCrash = err;
        break;
      }
      batch.push(p);
      effects.push(effect);
      states.push(state);
      if (this.endsBatch(effect)) break;
    }
    if (batch.length === 0) throw crash;
    const fromVersion = this.version;
    const written = this.write(batch, effects, state);
    if (written === undefined) {
      this.succeeded(state, fromVersion);
      const done = this.completeAll();
      if (crash !== NO_CRASH) {
        if (done === undefined) throw crash;
        return done.then(() => {
          throw crash;
        });
      }
      return done;
    }
    return written.then((outcome) => {
      if (outcome.ok) this.succeeded(state, fromVersion);
      else this.failed(outcome);
      const done = outcome.ok ? this.completeAll() : undefined;
      if (crash !== NO_CRASH) {
        if (done === undefined) throw crash;
        return done.then(() => {
          throw crash;
        });
      }
      return done;
    });
  }

  /** An async handler at the head of the queue: awaited alone, then written and answered. */
  private async runAsyncHead(p: Pending, effectPromise: Promise<unknown>): Promise<void> {
    let effect: unknown;
    try {
      effect = await effectPromise;
      if (!isEffect(effect)) throw new TypeError(`${this.region.type.name}.${p.def?.name ?? '?'} must return an effect built with its ctx`);
    } catch (err) {
      p.lastCrash = err;
      throw err;
    }
    let state: unknown;
    try {
      state = this.apply(this.state, effect);
    } catch (err) {
      p.lastCrash = err;
      throw err;
    }
    this.batch.length = this.effects.length = this.states.length = 0;
    this.batch.push(p);
    this.effects.push(effect);
    this.states.push(state);
    const fromVersion = this.version;
    const written = this.write(this.batch, this.effects, state);
    const outcome = written === undefined ? ({ ok: true } as const) : await written;
    if (outcome.ok) {
      this.succeeded(state, fromVersion);
      await this.completeAll();
    } else {
      this.failed(outcome);
    }
  }

  /** The write committed: the batch is done (off the queue), the state is the new state. `fromVersion` is the version before the write. */
  private succeeded(finalState: unknown, fromVersion: number): void {
    const q = this.slot.queue;
    for (let i = 0; i < this.batch.length; i++) q.shift();
    this.state = finalState;
    this.committed(this.effects, this.states, fromVersion);
  }

  /** The write failed: every command of the batch fails with it, nothing was applied. */
  private failed(outcome: Extract<WriteOutcome, { ok: false }>): void {
    const q = this.slot.queue;
    for (let i = 0; i < this.batch.length; i++) {
      q.shift();
      (this.batch[i] as Pending).fail(outcome.error);
    }
    if (outcome.reload) this.reloadRequested = true;
    this.batch.length = this.effects.length = this.states.length = 0;
  }

  /**
   * Runs every command's steps in order (replies, side effects, forwards). The batch arrays are
   * reused by the next batch, which cannot start before this one completes (the actor is busy).
   */
  private completeAll(): Promise<void> | undefined {
    return this.completeFrom(this.batch, this.effects, this.states, 0, 0);
  }

  private completeFrom(
    batch: Pending[],
    effects: EffectBuilder<unknown, unknown>[],
    states: unknown[],
    from: number,
    fromStep: number,
  ): Promise<void> | undefined {
    for (let i = from; i < batch.length; i++) {
      const p = batch[i] as Pending;
      const effect = effects[i] as EffectBuilder<unknown, unknown>;
      if (effect.failure !== null) {
        p.fail(effect.failure);
        continue;
      }
      const steps = effect.steps;
      if (steps !== null) {
        for (let s = i === from ? fromStep : 0; s < steps.length; s++) {
          const pending = this.runStep(p, steps[s] as Step<unknown>, states[i]);
          if (pending !== undefined) return pending.then(() => this.completeFrom(batch, effects, states, i, s + 1));
        }
      }
      if (!effect.replies) p.reply(undefined);
    }
    return undefined;
  }

  private runStep(p: Pending, step: Step<unknown>, state: unknown): Promise<void> | undefined {
    switch (step.kind) {
      case 'reply':
        try {
          p.reply(step.fn(state));
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
        ref.ask(step.command, step.input).then(
          (v) => p.reply(v),
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
    this.ctx.log.error({ err, command: this.ctx.command }, 'side effect failed');
  }
}

/** Maps a store error to what the caller gets, and whether the entity must reload. @internal */
export function writeFailure(region: Region, slot: Slot, err: unknown): Extract<WriteOutcome, { ok: false }> {
  if (err instanceof JournalConflictError || err instanceof DurableStateConflictError) {
    return { ok: false, error: new EntityConflictError(region.type.name, slot.entityId, err), reload: true };
  }
  // Whether it committed is unknown: the in-memory version can no longer be trusted.
  const reload = err instanceof AppendOutcomeUnknownError;
  return { ok: false, error: new PersistFailedError(region.type.name, slot.entityId, err), reload };
}

const OK: WriteOutcome = { ok: true };

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

  protected write(_batch: readonly Pending[], effects: readonly EffectBuilder<unknown, unknown>[]): Promise<WriteOutcome> | undefined {
    let toAppend: EventToAppend[] | null = null;
    for (let i = 0; i < effects.length; i++) {
      const events = (effects[i] as EffectBuilder<unknown, unknown>).events;
      if (events === null) continue;
      toAppend ??= [];
      for (let j = 0; j < events.length; j++) {
        const event = events[j] as { type?: unknown };
        toAppend.push({ payload: event, type: typeof event?.type === 'string' ? event.type : '' });
      }
    }
    if (toAppend === null) return undefined;
    const region = this.region;
    const slot = this.slot;
    return region.runtime.store.journal.append(slot.persistenceId, this.version, toAppend).then(
      (r) => {
        this.version = r.highestSequenceNr;
        slot.version = r.highestSequenceNr;
        return OK;
      },
      (err: unknown) => writeFailure(region, slot, err),
    );
  }

  protected committed(effects: readonly EffectBuilder<unknown, unknown>[], states: readonly unknown[], fromVersion: number): void {
    if (this.version === fromVersion) return;
    const region = this.region;
    region.persisted(this.slot, fromVersion + 1, this.version);
    region.runtime.subscriptions.publish(this.slot, effects, states, fromVersion);
    const every = region.settings.snapshotEvery;
    if (every > 0 && Math.floor(fromVersion / every) !== Math.floor(this.version / every)) this.snapshot();
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
        (err: unknown) => this.ctx.log.warn({ err, sequenceNr: seq }, 'snapshot failed'),
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

  protected write(_batch: readonly Pending[], effects: readonly EffectBuilder<unknown, unknown>[], finalState: unknown): Promise<WriteOutcome> | undefined {
    let last = NO_WRITE;
    for (let i = 0; i < effects.length; i++) {
      const w = (effects[i] as EffectBuilder<unknown, unknown>).write;
      if (w !== NO_WRITE) last = w;
    }
    if (last === NO_WRITE) return undefined;
    const region = this.region;
    const slot = this.slot;
    const store = region.runtime.store.durableState;
    // Only the batch's final state matters: one compare-and-set write for the whole batch.
    const op =
      last === DELETE
        ? store.delete(slot.persistenceId, this.version).then(() => 0)
        : store.upsert(slot.persistenceId, this.version, finalState, { type: region.type.name }).then((r) => r.revision);
    return op.then(
      (revision) => {
        this.version = revision;
        slot.version = revision;
        return OK;
      },
      (err: unknown) => writeFailure(region, slot, err),
    );
  }

  protected committed(effects: readonly EffectBuilder<unknown, unknown>[], states: readonly unknown[], fromVersion: number): void {
    let wrote = false;
    for (let i = 0; i < effects.length; i++) if ((effects[i] as EffectBuilder<unknown, unknown>).write !== NO_WRITE) wrote = true;
    if (!wrote) return;
    this.region.persisted(this.slot, fromVersion, this.version);
    this.region.runtime.subscriptions.publish(this.slot, effects, states, fromVersion);
  }
}

/** A stateless worker: no state, no writes. @internal */
export class StatelessCell extends EntityCell {
  protected apply(state: unknown): unknown {
    return state;
  }
  protected write(): undefined {
    return undefined;
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
  private logger: Logger | null = null;

  constructor(private readonly cell: EntityCell) {}

  get entityType(): string {
    return this.cell.region.type.name;
  }
  get entityId(): string {
    return this.cell.slot.entityId;
  }
  get sequenceNr(): number {
    return this.cell.version;
  }
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
    return this.cell.region.runtime.system.clock.now();
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
