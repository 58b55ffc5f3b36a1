import type { Context } from '../actors/context.js';
import { systemTimeOf } from '../actors/clock.js';
import type { Logger } from '../logger.js';
import { JournalConflictError, DurableStateConflictError, WriteOutcomeUnknownError } from '../persistence/errors.js';
import type { AppendResult, EventToAppend } from '../persistence/journal.js';
import { appendsNow } from '../persistence/memory/memory-journal.js';
import type { UpsertStateResult } from '../persistence/durable-state-store.js';
import type { EntityRefs, EventSourcedEntity } from './definition.js';
import { DELETE, EffectBuilder, failure, type Failure, isEffect, NO_WRITE, type Step, UPDATE } from './effect.js';
import type { CommandSpecs, EntityRef } from './entity-ref.js';
import { EntityConflictError, PersistFailedError, PoisonCommandError } from './errors.js';
import { COMMAND, type CommandTrace, type Pending } from './pending.js';
import type { Region } from './region.js';
import type { Slot } from './slot.js';
import type { TimerChange, TimerWrites } from '../persistence/timer-store.js';
import { InvalidTimerError, scheduleChange, checkTimerName, type TimerDelivery, type TimerWhen } from './timers/schedule.js';
import type { Delivery } from './timers/timer-service.js';

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
  // The first command (most batches hold only one) in fields of its own; the others in `items`:
  // pending, effect, state after it; pending, effect, state; … (one array, not three).
  private p0: Pending | null = null;
  private effect0: EffectBuilder<unknown, unknown> | null = null;
  private state0: unknown = undefined;
  private readonly items: unknown[] | null;
  size = 0;
  finalState: unknown = undefined;
  fromVersion = 0;
  /** Its write committed (or it had none): its commands' ctx now tell what they committed. */
  committed = false;
  /** The entity's version after it committed. */
  toVersion = 0;
  /** A handler that threw after the commands above: rethrown once they are answered. */
  crash: unknown = NO_CRASH;
  /** Durable-timer changes of its commands, in order (null: none), written with its write. */
  timers: TimerChange[] | null = null;
  /** The earliest time a timer it schedules is due (epoch ms). */
  soonestTimer = Infinity;
  /** A command of it has spans (src/tracing): its write is told to them. */
  traced = false;

  constructor(capacity: number) {
    this.items = capacity > 1 ? new Array<unknown>((capacity - 1) * 3) : null;
  }

  add(p: Pending, effect: EffectBuilder<unknown, unknown>, state: unknown): void {
    const n = this.size++;
    if (n === 0) {
      this.p0 = p;
      this.effect0 = effect;
      this.state0 = state;
      return;
    }
    const items = this.items as unknown[];
    const i = 3 * (n - 1);
    items[i] = p;
    items[i + 1] = effect;
    items[i + 2] = state;
  }

  pending(i: number): Pending {
    return (i === 0 ? this.p0 : (this.items as unknown[])[3 * (i - 1)]) as Pending;
  }

  effect(i: number): EffectBuilder<unknown, unknown> {
    return (i === 0 ? this.effect0 : (this.items as unknown[])[3 * (i - 1) + 1]) as EffectBuilder<unknown, unknown>;
  }

  state(i: number): unknown {
    return i === 0 ? this.state0 : (this.items as unknown[])[3 * (i - 1) + 2];
  }

  /**
   * Adds a command's timer changes, once its effect is known to be written (not a failure): a
   * timer delivery's completion first, so that the command's own schedule or cancel of the same
   * name comes after it and wins.
   */
  addTimers(ctx: HandlerCtx): void {
    const d = ctx.delivery;
    const own = ctx.timerChanges;
    if (d === null && own === null) return;
    const list = (this.timers ??= []);
    if (d !== null) list.push({ kind: 'complete', name: d.name, claim: d.claim, nextDueAt: d.nextDueAt });
    if (own !== null) {
      for (const c of own) {
        list.push(c);
        if (c.kind === 'schedule' && c.dueAt < this.soonestTimer) this.soonestTimer = c.dueAt;
      }
    }
  }

  /** The timer changes to write, or undefined if none. */
  timerWrites(entityType: string, entityId: string): TimerWrites | undefined {
    return this.timers === null ? undefined : { entityType, entityId, changes: this.timers };
  }
}

/** What `EntityCell.write` returns when the store wrote the batch (or refused it) before returning. */
const WRITTEN_NOW = Symbol('written now');
const FAILED_NOW = Symbol('failed now');

/** What a write of timer changes alone resolves to (the entity's version does not move). */
const TIMERS_ONLY = Symbol('timers only');

/** The batch of a command that has none yet (held, see `EntityCell.runBatch`): never committed. */
const NO_BATCH = new Batch(0);

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
  /**
   * A plain handler that returned a promise behind other commands of its batch: the batch ended
   * before it, and it goes on, with that promise, once the batch has committed (see `runBatch`).
   */
  private held: HeldCall | null = null;
  private logger: Logger | null = null;

  constructor(
    readonly slot: Slot,
    public state: unknown,
    /** The serving actor's context, to stop or wake it. */
    readonly actorCtx: Context,
  ) {}

  /** The runtime's logger, bound to this entity (made on first use). */
  get log(): Logger {
    return (this.logger ??= this.region.runtime.logger.child({ entity: this.slot.name }));
  }

  get region(): Region {
    return this.slot.region;
  }

  /** Applies an effect's write to `state` in memory (not yet persisted); returns the new state. */
  protected abstract apply(state: unknown, effect: EffectBuilder<unknown, unknown>): unknown;

  /**
   * Persists the batch's writes; undefined when there is nothing to write. `versionAfter` reads
   * the new version from what it resolves to. WRITTEN_NOW or FAILED_NOW: the store wrote (or
   * refused) it synchronously, and `writeResult` holds what it returned (or threw).
   */
  protected abstract write(batch: Batch): Promise<unknown> | undefined | typeof WRITTEN_NOW | typeof FAILED_NOW;
  /** What a synchronous write returned or threw (see `write`); cleared once read. */
  protected writeResult: unknown = undefined;

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
    const held = this.held;
    if (held !== null && held.p === head) {
      // Called behind the batch that has just committed, on the state it left: its promise
      // stands (its attempt was counted when it was called).
      this.held = null;
      return this.runAsyncHead(head, held.ctx, held.effect);
    }
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
    let state = this.state;
    // Events of the commands before this one in the batch, not yet persisted: each handler's
    // sequence number counts them, as if the commands had run one by one.
    let ahead = 0;
    for (let i = 0; i < n; i++) {
      const p = q.at(i) as Pending;
      if (p.type !== COMMAND || p.attempts >= maxAttempts) break; // handled alone, in a batch of its own
      const def = p.def as NonNullable<Pending['def']>;
      // A handler that returns promises is awaited alone, at the head of a batch: behind other
      // commands it is not even called, since the state it would see may never commit.
      if (i > 0 && def.async) break;
      p.attempts++;
      const trace = p.trace;
      if (trace !== null) {
        batch.traced = true;
        trace.handling(this.version + ahead, p.attempts);
      }
      // Each command has a ctx of its own: what it reads there (in the handler, after an await,
      // in its reply or side effects) is about this command, not about the batch's last one.
      const ctx = new HandlerCtx(this, def.name, this.version + ahead, batch, i);
      ctx.delivery = p.timer;
      let effect: unknown;
      try {
        effect = def.handler(state, p.input, ctx as never);
      } catch (err) {
        batch.crash = p.lastCrash = err;
        trace?.handled(err);
        break;
      }
      if (trace !== null) traceHandled(trace, effect);
      if (effect instanceof Promise) {
        def.async = true; // a plain function that returns promises: from now on, as if async
        if (i > 0) {
          // Found out behind other commands, once called: it is not called again. The batch ends
          // before it and is written; the command joins the batch's fate. If the batch commits,
          // the state it was given is the committed state, and its promise goes on at the head
          // (runBatch, above). If the write fails, it fails with the same error (`failed`). Its
          // rejection is observed now, since it may come before anyone awaits it.
          effect.catch(ignore);
          ctx.batch = NO_BATCH; // not this batch's: it commits before this command is written
          this.held = { p, ctx, effect };
          break;
        }
        return this.runAsyncHead(p, ctx, effect);
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
      if (effect.failure === null) batch.addTimers(ctx);
      // The next handler sees this one's events in its state, so in its sequence number too.
      if (effect.events !== null) ahead += effect.events.length;
      if (this.endsBatch(effect)) break;
    }
    if (batch.size === 0) throw batch.crash;
    batch.finalState = state;
    return this.persist(batch);
  }

  /** An async handler at the head of the queue: awaited alone, then written and answered. */
  private async runAsyncHead(p: Pending, ctx: HandlerCtx, effectPromise: Promise<unknown>): Promise<EntityCell> {
    const batch = new Batch(1);
    batch.traced = p.trace !== null;
    try {
      const effect = await effectPromise;
      // Stopped while the handler ran (the runtime stopped and failed the command, or the actor
      // was killed and the command waits for the next incarnation): nothing may be written.
      if (!this.current) return this;
      if (!isEffect(effect)) throw new TypeError(`${this.region.type.name}.${p.def?.name ?? '?'} must return an effect built with its ctx`);
      batch.finalState = this.apply(this.state, effect);
      ctx.batch = batch;
      ctx.index = 0;
      batch.add(p, effect, batch.finalState);
      if (effect.failure === null) batch.addTimers(ctx);
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
    if (written === WRITTEN_NOW || written === FAILED_NOW) {
      // Written (or refused) synchronously by the in-memory store: answered in this same turn,
      // as `written` / `writeFailed` would be after the promise, without its hops.
      const result = this.writeResult;
      this.writeResult = undefined;
      if (written === FAILED_NOW) {
        const failure = writeFailure(this.region, this.slot, result);
        if (batch.traced) traceCommit(batch, true, failure.error, this.version);
        this.failed(batch, failure);
        return this.finishOrCrash(batch);
      }
      this.version = this.slot.version = this.versionAfter(result);
      if (batch.traced) traceCommit(batch, true, undefined, this.version);
      this.succeeded(batch);
      return this.complete(batch);
    }
    // One batch is written at a time, so the continuations are made once per incarnation and
    // find the batch in `writing`, instead of two closures per write.
    this.writing = batch;
    this.slot.startWriting(batch.size);
    if (batch.traced) traceCommit(batch, false, undefined, 0);
    return written.then((this.onWritten ??= (result) => this.written(result)), (this.onWriteFailed ??= (err) => this.writeFailed(err)));
  }

  private written(result: unknown): EntityCell | Promise<EntityCell> {
    const batch = this.writing as Batch;
    this.writing = null;
    this.slot.writeSettled(); // waiters run later, once succeeded() has taken the batch off the queue
    this.version = this.slot.version = this.versionAfter(result);
    if (batch.traced) traceCommitted(batch, undefined, this.version);
    this.succeeded(batch);
    return this.complete(batch);
  }

  private writeFailed(err: unknown): EntityCell {
    const batch = this.writing as Batch;
    this.writing = null;
    this.slot.writeSettled();
    const failure = writeFailure(this.region, this.slot, err);
    if (batch.traced) traceCommitted(batch, failure.error, this.version);
    this.failed(batch, failure);
    return this.finishOrCrash(batch);
  }

  /** The write committed: the batch is done (off the queue), the state is the new state. */
  private succeeded(batch: Batch): void {
    const q = this.slot.queue;
    for (let i = 0; i < batch.size; i++) q.shift();
    // From now on (their replies, side effects, forwards) the commands' ctx tell what they committed.
    batch.committed = true;
    batch.toVersion = this.version;
    this.state = batch.finalState;
    this.committed(batch);
    if (batch.soonestTimer !== Infinity) this.region.runtime.timers.scheduled(batch.soonestTimer);
  }

  /** The write failed: every command of the batch fails with it, nothing was applied. */
  private failed(batch: Batch, failure: WriteFailure): void {
    const q = this.slot.queue;
    for (let i = 0; i < batch.size; i++) {
      q.shift();
      batch.pending(i).fail(failure.error);
    }
    // A command called behind this batch, on the state it would have left, shares its fate: its
    // handler is not called a second time (on the real state) to undo what it may have done.
    const held = this.held;
    if (held !== null) {
      this.held = null;
      if (q.peek() === held.p) {
        q.shift();
        held.p.fail(failure.error);
      }
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
    // has answered its commands; what comes next is not its business, nor a command it held
    // (the next incarnation calls it again, on the state it reloads).
    if (this.current) this.region.afterBatch(this);
    else this.held = null;
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
          this.sideEffectFailed(err, p);
          return undefined;
        }
        if (r instanceof Promise) return r.then(undefined, (err: unknown) => this.sideEffectFailed(err, p));
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

  private sideEffectFailed(err: unknown, p: Pending): void {
    logSafely(() => this.log.error({ err, command: p.def?.name }, 'side effect failed'));
  }
}

/** A traced handler returned: its span ends now, or when the promise it returned settles. */
function traceHandled(trace: CommandTrace, effect: unknown): void {
  if (effect instanceof Promise) effect.then(() => trace.handled(undefined), (err: unknown) => trace.handled(err));
  else trace.handled(undefined);
}

/** The batch's write began (and, when `done`, settled with `error`): told to its traced commands. */
function traceCommit(batch: Batch, done: boolean, error: unknown, sequenceNr: number): void {
  for (let i = 0; i < batch.size; i++) batch.pending(i).trace?.committing(batch.size);
  if (done) traceCommitted(batch, error, sequenceNr);
}

function traceCommitted(batch: Batch, error: unknown, sequenceNr: number): void {
  for (let i = 0; i < batch.size; i++) batch.pending(i).trace?.committed(error, sequenceNr);
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
  /** A snapshot boundary was crossed while one was being saved: save again once it is done. */
  private snapshotDue = false;

  protected apply(state: unknown, effect: EffectBuilder<unknown, unknown>): unknown {
    const events = effect.events;
    if (events === null) return state;
    const def = this.region.type as EventSourcedEntity<unknown, { type: string }>;
    for (let i = 0; i < events.length; i++) state = def.applyEvent(state, events[i] as { type: string });
    return state;
  }

  protected versionAfter(result: unknown): number {
    return result === TIMERS_ONLY ? this.version : (result as AppendResult).highestSequenceNr;
  }

  protected write(batch: Batch): Promise<unknown> | undefined | typeof WRITTEN_NOW | typeof FAILED_NOW {
    // Counted first, so that the array is made at its size (a push-grown one starts at 17 slots).
    let count = 0;
    for (let i = 0; i < batch.size; i++) {
      const events = batch.effect(i).events;
      if (events !== null) count += events.length;
    }
    let toAppend: EventToAppend[] | null = null;
    if (count > 0) {
      toAppend = new Array<EventToAppend>(count);
      let k = 0;
      for (let i = 0; i < batch.size; i++) {
        const effect = batch.effect(i);
        const events = effect.events;
        if (events === null) continue;
        const tags = effect.tags;
        for (let j = 0; j < events.length; j++) {
          const event = events[j] as { type: string };
          toAppend[k++] = tags === null ? { payload: event, type: event.type } : { payload: event, type: event.type, tags };
        }
      }
    }
    const store = this.region.runtime.store;
    const timers = batch.timerWrites(this.region.type.name, this.slot.entityId);
    if (toAppend === null) return timers === undefined ? undefined : store.timers.write(this.slot.persistenceId, timers).then(timersOnly);
    const journal = store.journal;
    const options = timers === undefined ? undefined : { timers };
    if (appendsNow(journal)) {
      try {
        this.writeResult = journal.appendNow(this.slot.persistenceId, this.version, toAppend, options);
        return WRITTEN_NOW;
      } catch (err) {
        this.writeResult = err;
        return FAILED_NOW;
      }
    }
    return options === undefined ? journal.append(this.slot.persistenceId, this.version, toAppend) : journal.append(this.slot.persistenceId, this.version, toAppend, options);
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

  /**
   * Saves the current state as a snapshot in the background, then trims old ones. One at a time:
   * a boundary crossed while one is being saved (or trimmed) is not skipped but remembered, and
   * once that save is done one more is taken, of the state at that moment. Several boundaries
   * crossed meanwhile make that one save (of the latest state), not one each: recovery needs the
   * latest, and a queue of saves of older states would only fall further behind.
   */
  private snapshot(): void {
    if (this.snapshotting) {
      this.snapshotDue = true;
      return;
    }
    this.snapshotting = true;
    this.snapshotDue = false;
    const region = this.region;
    const { persistenceId } = this.slot;
    const seq = this.version;
    const store = region.runtime.store;
    let saved: Promise<unknown>;
    try {
      saved = store.snapshots.save(persistenceId, seq, this.state);
    } catch (err) {
      saved = Promise.reject(err); // a store that throws instead of rejecting: reported the same way
    }
    saved
      .then(() => store.snapshots.keepLast(persistenceId, region.settings.snapshotKeep))
      .then(
        () => region.snapshotSaved(this.slot, seq),
        (err: unknown) => logSafely(() => this.log.warn({ err, sequenceNr: seq }, 'snapshot failed')),
      )
      .finally(() => {
        this.snapshotting = false;
        // Also after a passivation or a kill meanwhile: the state in memory is still the fold of
        // the events up to this.version, which never change. Not once the runtime is stopping
        // (the store may be closed next).
        if (this.snapshotDue && !region.runtime.stopping) this.snapshot();
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
    return result === DELETED ? 0 : result === TIMERS_ONLY ? this.version : (result as UpsertStateResult).revision;
  }

  protected write(batch: Batch): Promise<unknown> | undefined {
    let last = NO_WRITE;
    for (let i = 0; i < batch.size; i++) {
      const w = batch.effect(i).write;
      if (w !== NO_WRITE) last = w;
    }
    const { persistenceId } = this.slot;
    const stores = this.region.runtime.store;
    const timers = batch.timerWrites(this.region.type.name, this.slot.entityId);
    // Nothing stored to delete: the timers are the only write.
    if (last === DELETE && this.version === 0 && timers !== undefined) return stores.timers.write(persistenceId, timers).then(deleted);
    if (last === NO_WRITE) return timers === undefined ? undefined : stores.timers.write(persistenceId, timers).then(timersOnly);
    const store = stores.durableState;
    // Only the batch's final state matters: one compare-and-set write for the whole batch.
    if (timers !== undefined) {
      return last === DELETE
        ? store.delete(persistenceId, this.version, { timers }).then(deleted)
        : store.upsert(persistenceId, this.version, batch.finalState, { type: this.region.type.name, timers });
    }
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
const timersOnly = (): typeof TIMERS_ONLY => TIMERS_ONLY;

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

/** A command whose plain handler returned a promise behind other commands of its batch. @internal */
interface HeldCall {
  readonly p: Pending;
  readonly ctx: HandlerCtx;
  readonly effect: Promise<unknown>;
}

/**
 * The `ctx` a handler gets: effect constructors and facts about the entity and the command. One
 * per command (a few fields; the methods are shared), so that what it reads is the command's own
 * in every step, also in a batch: in the handler, the version it was handled at; in its reply,
 * side effects and forward, the version it committed. Nothing is written to it at the commit:
 * it reads that from its batch when asked.
 * @internal
 */
export class HandlerCtx {
  constructor(
    private readonly cell: EntityCell,
    readonly command: string,
    /** The version its handler sees (counting the events of the commands before it in its batch). @internal */
    readonly version: number,
    /** The batch it is written in, and its place there. @internal */
    public batch: Batch,
    /** @internal */
    public index: number,
  ) {}

  /** @internal The durable timer this command delivers, if it is a delivery. */
  delivery: Delivery | null = null;
  /** @internal Its `schedule` and `cancel` calls, in order. */
  timerChanges: TimerChange[] | null = null;

  /** Set when the command is a durable timer's delivery. */
  get timer(): TimerDelivery | undefined {
    const d = this.delivery;
    return d === null ? undefined : { name: d.name, deliveryId: d.deliveryId, attempt: d.attempt, scheduledFor: d.scheduledFor };
  }

  schedule(name: string, when: TimerWhen, command: string, payload?: unknown): void {
    const region = this.cell.region;
    if (region.type.kind === 'stateless') throw new InvalidTimerError('ctx.schedule', 'a stateless function has no identity to wake: durable timers belong to entities');
    const change = scheduleChange(region.type.commands, region.type.name, name, when, command, payload, this.now());
    (this.timerChanges ??= []).push(change);
  }

  cancel(name: string): void {
    if (this.cell.region.type.kind === 'stateless') throw new InvalidTimerError('ctx.cancel', 'a stateless function has no timers');
    (this.timerChanges ??= []).push({ kind: 'cancel', name: checkTimerName(name) });
  }

  get entityType(): string {
    return this.cell.region.type.name;
  }
  get entityId(): string {
    return this.cell.slot.entityId;
  }
  /** Event-sourced: after the commit, the sequence number of its own last event. */
  get sequenceNr(): number {
    const batch = this.batch;
    if (!batch.committed) return this.version;
    const events = batch.effect(this.index).events;
    return events === null ? this.version : this.version + events.length;
  }
  /** Value: the persisted revision; a batch is one write, so its commands share the one before it, then the one it made. */
  get revision(): number {
    const batch = this.batch;
    return batch.committed ? batch.toVersion : this.version;
  }
  get log(): Logger {
    return this.cell.log;
  }
  get entities(): EntityRefs {
    return this.cell.region.runtime;
  }
  now(): number {
    // Wall-clock time: a handler's "now" ends up in events and state, where a monotonic reading means nothing after a restart.
    return systemTimeOf(this.cell.region.runtime.system.clock);
  }

  emit(...events: unknown[]): EffectBuilder<unknown, undefined> {
    // `ctx.emit(e1, e2, { tags })`: a last argument without a string "type" but with "tags" is the options.
    let tags: readonly string[] | null = null;
    const last = events[events.length - 1] as { type?: unknown; tags?: unknown } | null | undefined;
    if (events.length > 1 && typeof last === 'object' && last !== null && typeof last.type !== 'string' && 'tags' in last) {
      events = events.slice(0, -1);
      tags = emitTags(last.tags);
    }
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as { type?: unknown } | null;
      if (typeof e !== 'object' || e === null || typeof e.type !== 'string') {
        throw new TypeError(`ctx.emit: events must be objects with a string "type", got ${e === null ? 'null' : typeof e}`);
      }
    }
    const effect = new EffectBuilder<unknown, undefined>();
    if (events.length > 0) effect.events = events;
    if (tags !== null && events.length > 0) effect.tags = tags;
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

/** `ctx.emit`'s `tags` option: an array of strings (checked in full when appended). */
function emitTags(value: unknown): readonly string[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string')) {
    throw new TypeError(`ctx.emit: options.tags must be an array of strings, got ${JSON.stringify(value)}`);
  }
  return value.length === 0 ? null : (value as string[]);
}
