import { Ask, type AskTarget } from './ask.js';
import type { Behavior, SpawnOptions } from './behavior.js';
import type { Context } from './context.js';
import { ASK, DOWN, DownEnvelope, EXIT, Envelope, ExitEnvelope, TIMER, type TimerEnvelope } from './envelope.js';
import { ActorCrashError, ActorExitedError, InvalidOptionError, MailboxFullError, NoProcError, StashOverflowError } from './errors.js';
import { type ExitReason, formatReason, isNormalExit } from './exit-reason.js';
import { Mailbox, UNBOUNDED } from './mailbox.js';
import { type ActorRef, type AskOptions, IGNORE, type MonitorRef } from './ref.js';
import { RingBuffer } from './ring-buffer.js';
import type { Runnable } from './scheduler.js';
import type { ActorSystem } from './system.js';
import { ActorTimers } from './timers.js';

/** `current` after the handler stashed its message: the handler is still running. */
const STASHED: unique symbol = Symbol('stashed');

/** An exit signal waiting in an actor's signal queue. @internal */
class ExitSignal {
  constructor(
    readonly from: Actor | null,
    readonly reason: ExitReason,
  ) {}
}

/** A graceful stop request. @internal */
class StopSignal {
  constructor(readonly reason: ExitReason) {}
}

// The common stop requests carry no per-call data: share them.
const STOP_NORMAL = new StopSignal('normal');
const STOP_SHUTDOWN = new StopSignal('shutdown');

/** One monitor: `watcher` (an actor) gets a `down` message, or `callback` is called. @internal */
export class Monitor implements MonitorRef {
  constructor(
    readonly id: number,
    readonly target: Actor,
    readonly watcher: Actor | null,
    readonly callback: ((reason: ExitReason) => void) | null,
  ) {}
}

/** How `start()` ended: running, declined with IGNORE, or failed before it was running. @internal */
export type StartOutcome = { readonly ok: true } | { readonly ignored: true } | { readonly error: ExitReason };

/**
 * What most actors never need, allocated on first use so an idle actor stays small.
 * @internal
 */
class Extras {
  links: Set<Actor> | null = null;
  /** Monitors others hold on this actor. */
  monitors: Map<number, Monitor> | null = null;
  /** Monitors this actor holds on others. */
  watching: Map<number, Monitor> | null = null;
  /** Asks whose handler returned without replying: the actor still owes them a reply. */
  owed: Set<Ask> | null = null;
  timers: ActorTimers | null = null;
  stash: RingBuffer<unknown> | null = null;
  /** -1: the system's default. */
  stashCapacity = -1;
  abort: AbortController | null = null;
  startWaiters: ((outcome: StartOutcome) => void)[] | null = null;
  onAsyncOk: ((state: unknown) => void) | null = null;
  onAsyncErr: ((err: unknown) => void) | null = null;
}

type AnyBehavior = Behavior<unknown, unknown, unknown>;

/**
 * The actor cell. It is also the actor's {@link ActorRef}: one object per actor keeps spawning
 * cheap and an idle actor small. Only the `ActorRef` members are public API; the rest is the
 * runtime's.
 *
 * Life cycle: `init` runs synchronously inside `spawn` (an async `init` keeps the actor busy until
 * it settles; messages wait). Then one message at a time: the signal queue (exit signals, stop)
 * first, then trapped exits, then the mailbox in arrival order. A handler that returns a promise
 * makes the actor busy until it settles. Death is immediate and final: the cell is never reused.
 * @internal
 */
export class Actor implements ActorRef, AskTarget, Runnable {
  scheduled = false;
  /** Messages handled so far (one add per scheduler turn): what the observer's messages per second come from. */
  handled = 0;
  /** Running an async handler, an async init or an async terminate. */
  busy = false;
  dead = false;
  initialized = false;
  /** `terminate` has begun. */
  stopping = false;
  trapExit = false;
  state: unknown = undefined;
  exitReason: ExitReason | undefined = undefined;
  /** A graceful stop asked for while busy, carried out when the current handler settles. */
  stopRequest: ExitReason | undefined = undefined;
  mailbox: Mailbox | null = null;
  /**
   * Exit signals and stop requests: they overtake everything in the mailbox. The oldest waits in
   * `signal` (one field, checked on every turn), later ones in `signals`.
   */
  private signal0: ExitSignal | StopSignal | null = null;
  private signals: RingBuffer<ExitSignal | StopSignal> | null = null;
  /** Called with the exit reason when the actor dies (`stop()`, `awaitExit`, monitors by callback). */
  private exitWaiters: ((reason: ExitReason) => void)[] | null = null;
  /** Trapped exits, delivered before mailbox messages. */
  private priority: RingBuffer<ExitEnvelope> | null = null;
  /**
   * The mailbox item being handled (and below, the ask it is if it is one); STASHED once the
   * handler stashed it while it still runs; undefined between messages.
   */
  current: unknown = undefined;
  currentAsk: Ask | null = null;
  private context: Context | null = null;
  private ext: Extras | null = null;
  /** The system's intrusive list of live actors. */
  listPrev: Actor | null = null;
  listNext: Actor | null = null;

  constructor(
    readonly system: ActorSystem,
    private behavior: AnyBehavior,
    readonly id: number,
    readonly name: string | undefined,
    readonly parent: Actor | null,
  ) {}

  // ---------------------------------------------------------------- public ActorRef

  get alive(): boolean {
    return !this.dead;
  }

  tell(message: unknown): void {
    const sys = this.system;
    if (this.dead) {
      if (sys.events.active) sys.events.publish({ type: 'dead-letter', recipient: this, message });
      return;
    }
    if (sys.messagePassing !== 0) message = sys.prepareMessage(message);
    let mb = this.mailbox;
    if (mb === null) mb = this.mailbox = new Mailbox();
    else if (mb.length >= mb.capacity && !this.makeRoom(mb, message)) return;
    mb.push(message);
    if (!this.scheduled && !this.busy) sys.scheduler.enqueue(this);
  }

  ask<R = unknown>(message: unknown, options?: AskOptions): Promise<R> {
    const sys = this.system;
    if (this.dead) return Promise.reject(new NoProcError(this));
    if (sys.messagePassing !== 0) message = sys.prepareMessage(message);
    const ask = new Ask(message, this);
    if (options === undefined) {
      sys.askTimeouts.add(ask, sys.askTimeout);
    } else {
      const timeout = options.timeout ?? sys.askTimeout;
      if (typeof timeout !== 'number' || !(timeout >= 0)) {
        throw new InvalidOptionError('timeout', `must be a number >= 0 or Infinity, got ${String(timeout)}`);
      }
      sys.askTimeouts.add(ask, timeout);
      if (options.signal !== undefined) {
        ask.watchSignal(options.signal);
        if (ask.settled) return ask.promise as Promise<R>;
      }
    }
    let mb = this.mailbox;
    if (mb === null) mb = this.mailbox = new Mailbox();
    else if (mb.length >= mb.capacity && !this.makeRoom(mb, ask)) return ask.promise as Promise<R>;
    mb.push(ask);
    if (!this.scheduled && !this.busy) sys.scheduler.enqueue(this);
    return ask.promise as Promise<R>;
  }

  stop(reason: ExitReason = 'normal'): Promise<void> {
    if (this.dead) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.onExit(() => resolve()));
    this.signalStop(reason);
    return done;
  }

  toString(): string {
    return this.name === undefined ? `Actor<${this.id}>` : `${this.name}<${this.id}>`;
  }

  // ---------------------------------------------------------------- runtime API

  /** Runs `init`. Called once by the system right after the actor is set up. */
  start(): void {
    const init = this.behavior.init;
    if (init === undefined) {
      this.initialized = true;
      return;
    }
    this.busy = true;
    let result: unknown;
    try {
      result = init(this.ctx);
    } catch (err) {
      this.initFailed(err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (v: unknown) => this.initDone(v),
        (e: unknown) => this.initFailed(e),
      );
    } else {
      this.initDone(result);
    }
  }

  /** Resolves when `init` has succeeded, declined, or failed. */
  whenStarted(): Promise<StartOutcome> {
    if (this.initialized) return Promise.resolve({ ok: true });
    if (this.dead) return Promise.resolve({ error: this.exitReason as ExitReason });
    return new Promise((resolve) => (this.extras().startWaiters ??= []).push(resolve));
  }

  /** Calls `fn` with the exit reason when the actor dies (at once, synchronously, if it is dead). */
  onExit(fn: (reason: ExitReason) => void): void {
    if (this.dead) fn(this.exitReason as ExitReason);
    else (this.exitWaiters ??= []).push(fn);
  }

  get ctx(): Context {
    return (this.context ??= this.system.createContext(this));
  }

  /** Queues a runtime-made item (timer message, down notification), bypassing the capacity bound. */
  enqueueInternal(item: Envelope): void {
    if (this.dead) return;
    const mb = (this.mailbox ??= new Mailbox());
    mb.internal++;
    mb.push(item);
    if (!this.scheduled && !this.busy) this.system.scheduler.enqueue(this);
  }

  /** Makes this a bounded mailbox. Only before the first message. */
  bound(capacity: number, overflow: Mailbox['overflow']): void {
    const mb = (this.mailbox ??= new Mailbox());
    mb.capacity = capacity;
    mb.overflow = overflow;
  }

  setStashCapacity(capacity: number): void {
    this.extras().stashCapacity = capacity;
  }

  runnable(): boolean {
    if (this.dead) return false;
    if (this.signal0 !== null) return true;
    if (this.busy) return false;
    return (this.mailbox !== null && this.mailbox.length > 0) || (this.priority !== null && this.priority.length > 0);
  }

  run(budget: number): number {
    if (this.signal0 !== null) this.processSignals();
    if (this.dead || this.busy) return 1;
    const mb = this.mailbox;
    let n = 0;
    while (n < budget) {
      let item: unknown;
      const pr = this.priority;
      if (pr !== null && pr.length > 0) item = pr.shift();
      else if (mb !== null && mb.length > 0) {
        item = mb.shift();
        if (mb.internal > 0 && isInternalItem(item)) mb.internal--;
      } else break;
      n++;
      this.handle(item);
      if (this.busy || this.dead) break;
      if (this.signal0 !== null) {
        this.processSignals();
        if (this.dead || this.busy) break;
      }
    }
    this.handled += n;
    return n === 0 ? 1 : n;
  }

  // ---------------------------------------------------------------- handling

  private handle(item: unknown): void {
    const b = this.behavior;
    let result: unknown;
    this.current = item;
    try {
      if (item instanceof Envelope) {
        switch (item.kind) {
          case ASK:
            this.currentAsk = item as Ask;
            result = b.receive(this.state, (item as Ask).message, this.ctx);
            break;
          case TIMER: {
            const env = item as TimerEnvelope;
            if (!(this.ext?.timers?.accept(env) ?? false)) {
              this.current = undefined;
              return;
            }
            result = b.receive(this.state, env.message, this.ctx);
            break;
          }
          case EXIT:
            if (b.onExit === undefined) {
              this.unhandledInfo(item as ExitEnvelope | DownEnvelope);
              return;
            }
            result = b.onExit(this.state, item as ExitEnvelope, this.ctx);
            break;
          case DOWN:
            if (b.onDown === undefined) {
              this.unhandledInfo(item as ExitEnvelope | DownEnvelope);
              return;
            }
            result = b.onDown(this.state, item as DownEnvelope, this.ctx);
            break;
        }
      } else {
        result = b.receive(this.state, item, this.ctx);
      }
    } catch (err) {
      this.handlerFailed(err);
      return;
    }
    if (this.dead) return; // killed from inside its own handler
    if (result instanceof Promise) {
      this.busy = true;
      const ext = this.extras();
      if (ext.onAsyncOk === null) {
        ext.onAsyncOk = (v: unknown) => this.asyncDone(v);
        ext.onAsyncErr = (e: unknown) => this.asyncFailed(e);
      }
      result.then(ext.onAsyncOk, ext.onAsyncErr);
    } else {
      this.state = result;
      this.afterHandler();
    }
  }

  private afterHandler(): void {
    const ask = this.currentAsk;
    if (ask !== null) {
      this.currentAsk = null;
      if (!ask.settled) {
        // No reply yet (gen_server's `noreply`): the actor owes one, via `ctx.replyTo`. If it
        // dies first, the asker gets ACTOR_EXITED instead of waiting for the timeout.
        ask.owed = true;
        (this.extras().owed ??= new Set()).add(ask);
      }
    }
    this.current = undefined;
    if (this.stopRequest !== undefined) this.beginTerminate(this.stopRequest);
  }

  private asyncDone(state: unknown): void {
    if (this.dead) return; // killed while awaiting: its late result is ignored
    this.busy = false;
    this.state = state;
    this.afterHandler();
    if (!this.scheduled && this.runnable()) this.system.scheduler.enqueue(this);
  }

  private asyncFailed(err: unknown): void {
    if (this.dead) return;
    this.busy = false;
    this.handlerFailed(err);
  }

  private handlerFailed(err: unknown): void {
    const reason: ExitReason = err instanceof Error ? err : new ActorCrashError(err);
    const msg = this.currentAsk !== null ? this.currentAsk.message : this.current === STASHED ? undefined : this.current;
    this.system.logger.error({ actor: this.toString(), reason, message: msg }, 'actor crashed');
    // As gen_server: terminate/2 runs on a crash, with the state from before the failed message.
    this.stopRequest = undefined;
    this.beginTerminate(reason);
  }

  private unhandledInfo(item: ExitEnvelope | DownEnvelope): void {
    this.current = undefined;
    this.system.logger.warn({ actor: this.toString(), type: item.type, reason: item.reason }, 'unhandled system message');
  }

  private initDone(value: unknown): void {
    if (this.dead) return;
    this.busy = false;
    const waiters = this.ext?.startWaiters ?? null;
    if (value === IGNORE) {
      if (waiters !== null) for (const w of waiters.splice(0)) w({ ignored: true });
      this.die('normal');
      return;
    }
    this.state = value;
    this.initialized = true;
    if (waiters !== null) for (const w of waiters.splice(0)) w({ ok: true });
    if (this.stopRequest !== undefined) this.beginTerminate(this.stopRequest);
    else if (!this.scheduled && this.runnable()) this.system.scheduler.enqueue(this);
  }

  private initFailed(err: unknown): void {
    if (this.dead) return;
    this.busy = false;
    const reason: ExitReason = err instanceof Error ? err : new ActorCrashError(err);
    this.system.logger.error({ actor: this.toString(), reason }, 'actor init failed');
    this.die(reason); // as OTP: terminate/2 is not called when init fails
  }

  // ---------------------------------------------------------------- signals

  private pushSignal(signal: ExitSignal | StopSignal): void {
    if (this.dead) return;
    if (this.signal0 === null) this.signal0 = signal;
    else (this.signals ??= new RingBuffer(4)).push(signal);
    if (!this.scheduled) this.system.scheduler.enqueue(this);
  }

  /** Queues a graceful stop request; it overtakes queued messages. */
  signalStop(reason: ExitReason): void {
    this.pushSignal(reason === 'normal' ? STOP_NORMAL : reason === 'shutdown' ? STOP_SHUTDOWN : new StopSignal(reason));
  }

  /** An exit signal from `from` (null: from outside any actor). `'kill'` is handled by the caller. */
  sendExit(from: Actor | null, reason: ExitReason): void {
    this.pushSignal(new ExitSignal(from, reason));
  }

  private processSignals(): void {
    while (this.signal0 !== null && !this.dead) {
      const s = this.signal0;
      const rest = this.signals;
      this.signal0 = rest !== null && rest.length > 0 ? (rest.shift() as ExitSignal | StopSignal) : null;
      if (s instanceof StopSignal) this.requestStop(s.reason);
      else this.receiveExit(s.from, s.reason);
    }
  }

  /** Graceful stop: after the current handler, `terminate` runs, then the actor exits with `reason`. */
  requestStop(reason: ExitReason): void {
    if (this.stopping || this.dead) return;
    // `current` is STASHED, not undefined, while a handler that stashed its message still runs.
    if (this.busy || this.current !== undefined) this.stopRequest ??= reason;
    else this.beginTerminate(reason);
  }

  private receiveExit(from: Actor | null, reason: ExitReason): void {
    if (this.trapExit) {
      // gen_server: an exit from the parent while trapping means "terminate now" (how a
      // supervisor shuts down a child that traps exits); any other becomes a message.
      if (from !== null && from === this.parent) this.requestStop(reason);
      else (this.priority ??= new RingBuffer(4)).push(new ExitEnvelope(from ?? undefined, reason));
      return;
    }
    if (reason === 'normal' && from !== this) return;
    this.die(reason); // not trapping: no terminate, as OTP
  }

  private beginTerminate(reason: ExitReason): void {
    if (this.stopping || this.dead) return;
    this.stopping = true;
    this.stopRequest = undefined;
    const terminate = this.behavior.terminate;
    if (terminate === undefined) {
      this.die(reason);
      return;
    }
    let result: unknown;
    try {
      result = terminate(this.state, reason, this.ctx);
    } catch (err) {
      this.system.logger.error({ actor: this.toString(), reason, err }, 'terminate threw');
      this.die(reason);
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result.then(
        () => this.die(reason),
        (err: unknown) => {
          this.system.logger.error({ actor: this.toString(), reason, err }, 'terminate rejected');
          this.die(reason);
        },
      );
    } else {
      this.die(reason);
    }
  }

  // ---------------------------------------------------------------- death

  /**
   * Marks the actor dead at once and releases everything: pending asks fail with ACTOR_EXITED,
   * queued messages become dead letters, timers stop, `ctx.signal` aborts, linked actors get an
   * exit signal and monitors a `down`. Whatever a still-running async handler returns later is
   * ignored.
   */
  die(reason: ExitReason): void {
    if (this.dead) return;
    this.dead = true;
    this.busy = false;
    this.stopping = false;
    this.exitReason = reason;
    const sys = this.system;
    sys.detach(this);
    const ext = this.ext;
    if (ext !== null) {
      if (ext.abort !== null) ext.abort.abort(reason);
      if (ext.timers !== null) ext.timers.cancelAll();
    }
    if (this.currentAsk !== null) {
      this.currentAsk.reject(new ActorExitedError(this, reason));
      this.currentAsk = null;
    }
    this.current = undefined;
    const mb = this.mailbox;
    this.mailbox = null;
    if (mb !== null) {
      mb.drain((item) => this.dropOnDeath(item, reason));
      mb.internal = 0;
    }
    if (this.priority !== null) this.priority = null;
    this.signal0 = null;
    this.signals = null;
    if (ext !== null) {
      if (ext.stash !== null) ext.stash.drain((item) => this.dropOnDeath(item, reason));
      if (ext.owed !== null) {
        const owed = ext.owed;
        ext.owed = null;
        for (const ask of owed) {
          ask.owed = false;
          ask.reject(new ActorExitedError(this, reason));
        }
      }
      if (ext.links !== null) {
        const links = ext.links;
        ext.links = null;
        for (const other of links) {
          other.ext?.links?.delete(this);
          other.sendExit(this, reason);
        }
      }
      if (ext.monitors !== null) {
        const monitors = ext.monitors;
        ext.monitors = null;
        for (const m of monitors.values()) {
          if (m.watcher !== null) {
            m.watcher.ext?.watching?.delete(m.id);
            m.watcher.enqueueInternal(new DownEnvelope(m, this, reason));
          } else if (m.callback !== null) {
            this.notify(m.callback, reason, 'monitor callback failed');
          }
        }
      }
      if (ext.watching !== null) {
        for (const m of ext.watching.values()) m.target.ext?.monitors?.delete(m.id);
        ext.watching = null;
      }
      if (ext.startWaiters !== null) for (const w of ext.startWaiters.splice(0)) this.notify(w, { error: reason }, 'start waiter failed');
    }
    const waiters = this.exitWaiters;
    if (waiters !== null) {
      this.exitWaiters = null;
      for (let i = 0; i < waiters.length; i++) this.notify(waiters[i] as (r: ExitReason) => void, reason, 'exit waiter failed');
    }
    this.state = undefined;
    if (sys.events.active) sys.events.publish({ type: 'actor.stopped', actor: this, reason });
    if (!isNormalExit(reason)) sys.logger.debug({ actor: this.toString(), reason: formatReason(reason) }, 'actor exited');
  }

  /**
   * Calls someone told of this death (a monitor callback, a waiter). One that throws is logged:
   * it must not leave the death half done (the waiters after it never told) nor throw out of
   * the scheduler, which would stop every actor.
   */
  private notify<T>(fn: (value: T) => void, value: T, what: string): void {
    try {
      fn(value);
    } catch (err) {
      this.system.logger.error({ err, actor: this.toString() }, what);
    }
  }

  private dropOnDeath(item: unknown, reason: ExitReason): void {
    if (item instanceof Envelope) {
      if (item.kind === ASK) (item as Ask).reject(new ActorExitedError(this, reason));
      return; // timer, exit and down notifications die with their actor
    }
    const sys = this.system;
    if (sys.events.active) sys.events.publish({ type: 'dead-letter', recipient: this, message: item });
  }

  // ---------------------------------------------------------------- overflow

  /** The mailbox is full: apply its policy. Returns true if `item` may now be queued. */
  private makeRoom(mb: Mailbox, item: unknown): boolean {
    const sys = this.system;
    // The bound counts user messages: timer messages and `down` notifications do not take room.
    if (mb.length - mb.internal < mb.capacity) return true;
    switch (mb.overflow) {
      case 'drop-oldest': {
        // The oldest user message goes; the runtime's own items are never evicted.
        // Usually no runtime item is queued, or one or two at the front: they are set aside and
        // put back, so this costs the number of them, not the length of the mailbox.
        let front: unknown[] | null = null;
        while (mb.length > 0 && isInternalItem(mb.peek())) (front ??= []).push(mb.shift());
        if (mb.length > 0) this.dropped(mb.shift(), mb.capacity);
        if (front !== null) for (let i = front.length - 1; i >= 0; i--) mb.unshift(front[i]);
        return true;
      }
      case 'fail':
        if (item instanceof Ask) {
          item.reject(new MailboxFullError(this, mb.capacity));
          return false;
        }
        throw new MailboxFullError(this, mb.capacity);
      default:
        this.dropped(item, mb.capacity);
        void sys;
        return false;
    }
  }

  private dropped(item: unknown, capacity: number): void {
    const sys = this.system;
    if (item instanceof Ask) {
      item.reject(new MailboxFullError(this, capacity));
      if (sys.events.active) sys.events.publish({ type: 'dropped', recipient: this, message: item.message, reason: 'mailbox-full' });
    } else if (sys.events.active) {
      sys.events.publish({ type: 'dropped', recipient: this, message: item, reason: 'mailbox-full' });
    }
  }

  // ---------------------------------------------------------------- asks, stash, timers, links, monitors

  forgetAsk(ask: Ask): void {
    this.ext?.owed?.delete(ask);
  }

  stashCurrent(): void {
    const ext = this.extras();
    const item = this.current;
    if (item === undefined || item === STASHED) throw new InvalidOptionError('stash', 'stash() may only be called while handling a message, once');
    const stash = (ext.stash ??= new RingBuffer(8));
    const capacity = ext.stashCapacity < 0 ? this.system.stashCapacity : ext.stashCapacity;
    if (stash.length >= capacity) throw new StashOverflowError(this, capacity);
    stash.push(item);
    // A stashed ask is not owed: it will be handled (and answered) again after unstashing.
    if (item === this.currentAsk) this.currentAsk = null;
    // Still handling: a stop() the handler asks for after this must wait for it to return.
    this.current = STASHED;
  }

  unstashAll(): number {
    const stash = this.ext?.stash;
    if (stash === undefined || stash === null || stash.length === 0) return 0;
    const n = stash.length;
    const mb = (this.mailbox ??= new Mailbox());
    // Stashed messages go back in front, in the order they were stashed.
    const items: unknown[] = [];
    stash.drain((i) => items.push(i));
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i];
      if (isInternalItem(item)) mb.internal++; // a stashed timer tick or `down` comes back
      mb.unshift(item);
    }
    if (!this.scheduled && !this.busy && this.current === undefined) this.system.scheduler.enqueue(this);
    return n;
  }

  /** @internal What the observer shows of an actor beyond its ref (counts, not the objects). */
  introspect(): { links: number; monitors: number; monitoring: number; owed: number; timers: boolean; stash: number; trapExit: boolean } {
    const e = this.ext;
    return {
      links: e?.links?.size ?? 0,
      monitors: e?.monitors?.size ?? 0,
      monitoring: e?.watching?.size ?? 0,
      owed: e?.owed?.size ?? 0,
      timers: e?.timers != null,
      stash: e?.stash?.length ?? 0,
      trapExit: this.trapExit,
    };
  }

  get stashSize(): number {
    return this.ext?.stash?.length ?? 0;
  }

  get timers(): ActorTimers {
    const ext = this.extras();
    return (ext.timers ??= new ActorTimers(this, this.system.clock));
  }

  get signal(): AbortSignal {
    const ext = this.extras();
    if (ext.abort === null) {
      ext.abort = new AbortController();
      if (this.dead) ext.abort.abort(this.exitReason);
    }
    return ext.abort.signal;
  }

  link(other: Actor): void {
    if (other === this || this.dead) return;
    if (other.dead) {
      // As OTP: linking to a dead actor sends the linker an exit signal with reason noproc.
      this.sendExit(other, 'noproc');
      return;
    }
    (this.extras().links ??= new Set()).add(other);
    (other.extras().links ??= new Set()).add(this);
  }

  unlink(other: Actor): void {
    this.ext?.links?.delete(other);
    other.ext?.links?.delete(this);
  }

  get links(): ReadonlySet<Actor> {
    return this.ext?.links ?? emptySet;
  }

  /** A monitor by actor `watcher` (down message) or by `callback`. On a dead target it fires at once with `noproc`. */
  addMonitor(watcher: Actor | null, callback: ((reason: ExitReason) => void) | null): Monitor {
    const m = new Monitor(this.system.nextMonitorId(), this, watcher, callback);
    if (this.dead) {
      if (watcher !== null) watcher.enqueueInternal(new DownEnvelope(m, this, 'noproc'));
      else if (callback !== null) callback('noproc');
      return m;
    }
    (this.extras().monitors ??= new Map()).set(m.id, m);
    if (watcher !== null) (watcher.extras().watching ??= new Map()).set(m.id, m);
    return m;
  }

  /** Removes a monitor; with `flush`, also a `down` of it already in the watcher's mailbox. */
  removeMonitor(m: Monitor, flush: boolean): void {
    m.target.ext?.monitors?.delete(m.id);
    if (m.watcher !== null) {
      m.watcher.ext?.watching?.delete(m.id);
      const mb = flush ? m.watcher.mailbox : null;
      if (mb !== null) {
        mb.filter((i) => {
          if (!(i instanceof DownEnvelope && i.monitor === m)) return true;
          mb.internal--;
          return false;
        });
      }
    }
  }

  private extras(): Extras {
    return (this.ext ??= new Extras());
  }
}

const emptySet: ReadonlySet<Actor> = new Set();

/** Validates and applies spawn options that shape the cell. @internal */
export function applySpawnOptions(actor: Actor, options: SpawnOptions | undefined): void {
  if (options === undefined) return;
  if (options.trapExit !== undefined) actor.trapExit = options.trapExit === true;
  if (options.stashCapacity !== undefined) {
    const c = options.stashCapacity;
    if (!Number.isInteger(c) || c < 0) throw new InvalidOptionError('stashCapacity', `must be an integer >= 0, got ${String(c)}`);
    actor.setStashCapacity(c);
  }
  const mb = options.mailbox;
  if (mb !== undefined) {
    const cap = mb.capacity ?? Infinity;
    if (cap !== Infinity && (!Number.isInteger(cap) || cap < 1 || cap >= UNBOUNDED)) {
      throw new InvalidOptionError('mailbox.capacity', `must be an integer from 1 to ${UNBOUNDED - 1}, got ${String(cap)}`);
    }
    const overflow = mb.overflow ?? 'drop-newest';
    if (overflow !== 'drop-newest' && overflow !== 'drop-oldest' && overflow !== 'fail') {
      throw new InvalidOptionError('mailbox.overflow', `must be 'drop-newest', 'drop-oldest' or 'fail', got ${String(overflow)}`);
    }
    if (cap !== Infinity) actor.bound(cap, overflow);
  }
}

/** A timer message or a `down` notification: the runtime's, not a user's message or ask. */
function isInternalItem(item: unknown): boolean {
  return item instanceof Envelope && item.kind !== ASK;
}
