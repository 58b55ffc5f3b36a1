import { defaultLogger, type Logger } from '../logger.js';
import { Actor, applySpawnOptions } from './actor.js';
import { AskTimeouts } from './ask.js';
import type { Behavior, SpawnOptions } from './behavior.js';
import { type Clock, systemClock } from './clock.js';
import { Context } from './context.js';
import { ActorInitError, InvalidOptionError, NameTakenError, SystemStoppedError } from './errors.js';
import type { ExitReason, ExitSignalReason } from './exit-reason.js';
import { EventStream } from './inspection.js';
import { deepFreeze, isRuntimeMessage, type MessagePassing } from './messages.js';
import type { ActorRef } from './ref.js';
import { LocalRegistry, type Registry } from './registry.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';

export interface ActorSystemOptions {
  /** A label for logs. Default `'beamstate'`. */
  readonly name?: string;
  /** Time source for timers, ask timeouts and everything built on them. Default the real clock; pass a `ManualClock` in tests. */
  readonly clock?: Clock;
  /** A pino-shaped logger. Default `defaultLogger`: warnings and errors to stderr, one JSON line each; `silentLogger` for none. */
  readonly logger?: Logger;
  /** Where actor names live. Default a local map. */
  readonly registry?: Registry;
  /** Default ask timeout in ms (gen_server:call's 5000). */
  readonly askTimeout?: number;
  /** `'freeze'` or `'clone'` messages to expose shared mutable state (development only). Default `'reference'`. */
  readonly messages?: MessagePassing;
  readonly scheduler?: SchedulerOptions;
  /** Default stash capacity per actor. Default 1000. */
  readonly stashCapacity?: number;
  /** How long `stop()` waits for each remaining actor's graceful stop before killing it. Default 5000 ms. */
  readonly shutdownTimeout?: number;
}

/** Every default of {@link ActorSystemOptions}, in one place. */
export const actorSystemDefaults = {
  name: 'beamstate',
  askTimeout: 5000,
  messages: 'reference',
  stashCapacity: 1000,
  shutdownTimeout: 5000,
} as const;

/** A cancellable one-shot timer (`erlang:send_after`). */
export interface Cancellable {
  /** Returns false if it already fired or was cancelled. */
  cancel(): boolean;
}

type StopHook = () => Promise<void>;

/**
 * The actor system: owns the scheduler, the clock, the registry, the inspection stream and the
 * logger, and every actor spawned in it. `stop()` (or `await using`) stops them all.
 */
export class ActorSystem implements AsyncDisposable {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: Registry;
  /** The typed inspection stream. */
  readonly events: EventStream;
  /** @internal */ readonly scheduler: Scheduler;
  /** @internal */ readonly askTimeouts: AskTimeouts;
  /** @internal */ readonly askTimeout: number;
  /** @internal 0 reference, 1 freeze, 2 clone. */
  readonly messagePassing: 0 | 1 | 2;
  /** @internal */ readonly stashCapacity: number;
  private readonly shutdownTimeout: number;
  private nextId = 1;
  private monitorSeq = 0;
  private first: Actor | null = null;
  private last: Actor | null = null;
  private live = 0;
  private state: 'running' | 'stopping' | 'stopped' = 'running';
  private stopping: Promise<void> | null = null;
  private readonly stopHooks: StopHook[] = [];

  constructor(options: ActorSystemOptions = {}) {
    this.name = options.name ?? actorSystemDefaults.name;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? defaultLogger).child({ system: this.name });
    this.registry = options.registry ?? new LocalRegistry();
    this.events = new EventStream(this.logger);
    this.scheduler = new Scheduler(validateScheduler(options.scheduler), (err) => this.logger.error({ err }, 'an actor run failed in the scheduler'));
    this.askTimeout = checkTimeout('askTimeout', options.askTimeout ?? actorSystemDefaults.askTimeout);
    this.askTimeouts = new AskTimeouts(this.clock, this.askTimeout);
    const mp = options.messages ?? actorSystemDefaults.messages;
    if (mp !== 'reference' && mp !== 'freeze' && mp !== 'clone') {
      throw new InvalidOptionError('messages', `must be 'reference', 'freeze' or 'clone', got ${String(mp)}`);
    }
    this.messagePassing = mp === 'reference' ? 0 : mp === 'freeze' ? 1 : 2;
    this.stashCapacity = options.stashCapacity ?? actorSystemDefaults.stashCapacity;
    if (!Number.isInteger(this.stashCapacity) || this.stashCapacity < 0) {
      throw new InvalidOptionError('stashCapacity', `must be an integer >= 0, got ${String(this.stashCapacity)}`);
    }
    this.shutdownTimeout = checkTimeout('shutdownTimeout', options.shutdownTimeout ?? actorSystemDefaults.shutdownTimeout);
  }

  /** Spawns a top-level actor and runs its `init`. Throws `NAME_TAKEN` or `SYSTEM_STOPPED`. */
  spawn<Msg, State, Reply = unknown>(behavior: Behavior<Msg, State, Reply>, options?: SpawnOptions): ActorRef<Msg, Reply> {
    return this.spawnActor(behavior, options, null, false) as ActorRef<Msg, Reply>;
  }

  /**
   * Spawns an actor and waits for its `init` (`gen_server:start`). Rejects with `INIT_FAILED`
   * (the `cause` is init's error) if init fails or declines with `IGNORE`.
   */
  async start<Msg, State, Reply = unknown>(behavior: Behavior<Msg, State, Reply>, options?: SpawnOptions): Promise<ActorRef<Msg, Reply>> {
    const actor = this.spawnActor(behavior, options, null, false);
    const outcome = await actor.whenStarted();
    if ('ok' in outcome) return actor as ActorRef<Msg, Reply>;
    throw new ActorInitError(actor, 'ignored' in outcome ? 'normal' : outcome.error);
  }

  /** The live actor registered under `name`. */
  whereis<Msg = unknown, Reply = unknown>(name: string): ActorRef<Msg, Reply> | undefined {
    return this.registry.whereis(name) as ActorRef<Msg, Reply> | undefined;
  }

  /** Sends an exit signal from outside any actor (`exit/2`). `'kill'` kills at once and cannot be trapped. */
  exit(ref: ActorRef, reason: ExitSignalReason): void {
    this.sendExitSignal(null, this.cellOf(ref), reason);
  }

  /** `exit(ref, 'kill')`: the actor is dead when this returns. */
  kill(ref: ActorRef): void {
    this.sendExitSignal(null, this.cellOf(ref), 'kill');
  }

  /** Resolves with the actor's exit reason when it exits (at once if it already has). */
  awaitExit(ref: ActorRef): Promise<ExitReason> {
    const cell = this.cellOf(ref);
    return new Promise((resolve) => cell.onExit(resolve));
  }

  /** Calls `callback` with the reason when `ref` exits; with `'noproc'` at once if it is dead. Returns a cancel function. */
  monitor(ref: ActorRef, callback: (reason: ExitReason) => void): () => void {
    const cell = this.cellOf(ref);
    const m = cell.addMonitor(null, callback);
    return () => cell.removeMonitor(m, false);
  }

  /**
   * Delivers `message` to `ref` after `ms` on the system clock (`erlang:send_after`). As in OTP,
   * the timer is cancelled when `ref` exits (at once if it is dead), and by `stop()`.
   */
  sendAfter<Msg>(ref: ActorRef<Msg>, message: Msg, ms: number): Cancellable {
    checkTimeout('ms', ms);
    const pending = this.sendAfters;
    let demonitor: (() => void) | null = null;
    const finish = (): void => {
      pending.delete(cancellable);
      this.clock.clearTimeout(handle);
      demonitor?.();
      demonitor = null;
    };
    const cancellable: Cancellable = {
      cancel: () => {
        if (!pending.has(cancellable)) return false;
        finish();
        return true;
      },
    };
    const handle = this.clock.setTimeout(() => {
      if (!pending.has(cancellable)) return;
      finish();
      try {
        ref.tell(message);
      } catch (err) {
        // A full mailbox that refuses (`overflow: 'fail'`), a message that cannot be cloned:
        // there is no caller left to tell, and a throw here would end the process.
        this.logger.warn({ err, recipient: String(ref) }, 'a sendAfter message could not be delivered');
        if (this.events.active) this.events.publish({ type: 'dead-letter', recipient: ref, message });
      }
    }, ms);
    pending.add(cancellable);
    if (ref instanceof Actor && ref.system === this) {
      const stop = this.monitor(ref, finish);
      if (pending.has(cancellable)) demonitor = stop; // a dead target ran `finish` already
    }
    return cancellable;
  }

  /** `sendAfter` timers not yet fired nor cancelled. */
  private readonly sendAfters = new Set<Cancellable>();

  /** Number of live actors. */
  get actorCount(): number {
    return this.live;
  }

  /** Live actors, oldest first. */
  *actors(): IterableIterator<ActorRef> {
    for (let a = this.first; a !== null; a = a.listNext) yield a;
  }

  /**
   * Resolves once no actor has a message it could handle right now (run queue empty). Actors
   * awaiting I/O in async handlers are not waited for. For tests: `clock.advance(…)`, then
   * `await system.whenIdle()`.
   */
  async whenIdle(): Promise<void> {
    do {
      await new Promise<void>((resolve) => setImmediate(resolve));
    } while (!this.scheduler.idle);
  }

  /**
   * Stops everything: first the hooks registered by higher layers (the root supervisor stops its
   * tree in order), then every remaining actor, newest first, gracefully with reason `shutdown`,
   * killing any that take longer than `shutdownTimeout`. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  get stopped(): boolean {
    return this.state === 'stopped';
  }

  // ---------------------------------------------------------------- internal

  /** @internal Registers work to do first when the system stops; the last registered runs first. */
  onStop(hook: StopHook): void {
    this.stopHooks.push(hook);
  }

  /** @internal */
  spawnActor(behavior: Behavior<never, unknown, never>, options: SpawnOptions | undefined, parent: Actor | null, link: boolean): Actor {
    if (this.state === 'stopped') throw new SystemStoppedError();
    if (typeof behavior !== 'object' || behavior === null || typeof behavior.receive !== 'function') {
      throw new InvalidOptionError('behavior.receive', 'a behavior must have a receive function');
    }
    const name = options?.name;
    if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
      throw new InvalidOptionError('name', `must be a non-empty string, got ${String(name)}`);
    }
    const actor = new Actor(this, behavior as Behavior<unknown, unknown, unknown>, this.nextId++, name, parent);
    applySpawnOptions(actor, options);
    if (name !== undefined && !this.registry.register(name, actor)) throw new NameTakenError(name);
    this.attach(actor);
    if (link && parent !== null) parent.link(actor);
    if (this.events.active) this.events.publish({ type: 'actor.spawned', actor, parent: parent ?? undefined });
    actor.start();
    return actor;
  }

  /** @internal */
  createContext(actor: Actor): Context {
    return new Context(actor);
  }

  /** @internal The cell behind a ref of this system. */
  cellOf(ref: ActorRef): Actor {
    if (!(ref instanceof Actor) || ref.system !== this) {
      throw new InvalidOptionError('ref', `${String(ref)} is not an actor of this system`);
    }
    return ref;
  }

  /** @internal */
  sendExitSignal(from: Actor | null, target: Actor, reason: ExitSignalReason): void {
    if (reason === 'kill') target.die('killed');
    else target.sendExit(from, reason);
  }

  /** @internal */
  nextMonitorId(): number {
    return ++this.monitorSeq;
  }

  /** @internal */
  prepareMessage(message: unknown): unknown {
    // Primitives and symbols are immutable (and a symbol, such as an entity's wake-up, cannot be
    // cloned, nor needs to be); the runtime's own messages carry functions and refs by design.
    if (typeof message !== 'object' || message === null) {
      if (typeof message !== 'function') return message;
    } else if (isRuntimeMessage(message)) {
      return message;
    }
    return this.messagePassing === 1 ? deepFreeze(message) : structuredClone(message);
  }

  /** @internal Called by an actor when it dies. */
  detach(actor: Actor): void {
    const { listPrev: prev, listNext: next } = actor;
    if (prev === null) this.first = next;
    else prev.listNext = next;
    if (next === null) this.last = prev;
    else next.listPrev = prev;
    actor.listPrev = actor.listNext = null;
    this.live--;
    if (actor.name !== undefined) this.registry.unregister(actor.name, actor);
  }

  private attach(actor: Actor): void {
    actor.listPrev = this.last;
    if (this.last === null) this.first = actor;
    else this.last.listNext = actor;
    this.last = actor;
    this.live++;
  }

  private async doStop(): Promise<void> {
    this.state = 'stopping';
    this.logger.info({ actors: this.live }, 'actor system stopping');
    for (const timer of [...this.sendAfters]) timer.cancel();
    for (let i = this.stopHooks.length - 1; i >= 0; i--) {
      try {
        await (this.stopHooks[i] as StopHook)();
      } catch (err) {
        this.logger.error({ err }, 'stop hook failed');
      }
    }
    // Whatever is left, newest first (children before the parents that spawned them).
    const pending: Promise<void>[] = [];
    for (let a = this.last; a !== null; a = a.listPrev) {
      const actor = a;
      if (actor.dead) continue;
      pending.push(
        new Promise<void>((resolve) => {
          const timer = this.clock.setTimeout(() => actor.die('killed'), this.shutdownTimeout);
          actor.onExit(() => {
            this.clock.clearTimeout(timer);
            resolve();
          });
          actor.signalStop('shutdown');
        }),
      );
    }
    await Promise.all(pending);
    this.askTimeouts.dispose();
    this.state = 'stopped';
    this.logger.info({}, 'actor system stopped');
  }
}

/** Creates an actor system. */
export function createActorSystem(options?: ActorSystemOptions): ActorSystem {
  return new ActorSystem(options);
}

function checkTimeout(field: string, ms: number): number {
  if (typeof ms !== 'number' || !(ms >= 0)) throw new InvalidOptionError(field, `must be a number >= 0 or Infinity, got ${String(ms)}`);
  return ms;
}

function validateScheduler(options: SchedulerOptions | undefined): SchedulerOptions {
  if (options === undefined) return {};
  const { throughput, sliceMs } = options;
  if (throughput !== undefined && (!Number.isInteger(throughput) || throughput < 1)) {
    throw new InvalidOptionError('scheduler.throughput', `must be an integer >= 1, got ${String(throughput)}`);
  }
  if (sliceMs !== undefined && !(sliceMs > 0)) throw new InvalidOptionError('scheduler.sliceMs', `must be > 0, got ${String(sliceMs)}`);
  return options;
}
