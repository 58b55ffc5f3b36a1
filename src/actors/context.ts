import type { Actor, Monitor } from './actor.js';
import type { Behavior, SpawnOptions } from './behavior.js';
import { InvalidOptionError } from './errors.js';
import type { ExitReason, ExitSignalReason } from './exit-reason.js';
import type { Logger } from '../logger.js';
import type { ActorRef, MonitorRef, ReplyTo, Timers } from './ref.js';
import type { ActorSystem } from './system.js';

/**
 * An actor's view of itself and the system, passed to every callback. Use it from inside the
 * actor's callbacks only (and `replyTo`, `timers` or `self` from anywhere).
 */
export class Context<Msg = unknown, Reply = unknown> {
  private logger: Logger | null = null;

  /** @internal */
  constructor(private readonly actor: Actor) {}

  /** This actor's ref. */
  get self(): ActorRef<Msg, Reply> {
    return this.actor as ActorRef<Msg, Reply>;
  }

  get system(): ActorSystem {
    return this.actor.system;
  }

  /** The actor that spawned this one with `ctx.spawn`/`spawnLink` (a supervisor, for its children). */
  get parent(): ActorRef | undefined {
    return this.actor.parent ?? undefined;
  }

  /** The system's logger, bound to this actor. */
  get log(): Logger {
    return (this.logger ??= this.actor.system.logger.child({ actor: this.actor.toString() }));
  }

  /**
   * Aborted when the actor dies, with its exit reason. Pass it to `fetch`, database calls and the
   * like in async handlers: JavaScript cannot stop a running handler, so this is how a killed
   * actor's pending work learns it should give up.
   */
  get signal(): AbortSignal {
    return this.actor.signal;
  }

  /** The ask being handled, as a handle for replying later; undefined for a told message. */
  get replyTo(): ReplyTo<Reply> | undefined {
    return (this.actor.currentAsk ?? undefined) as ReplyTo<Reply> | undefined;
  }

  /** Replies to the ask being handled. Returns false for a told message or an ask already settled. */
  reply(value: Reply): boolean {
    const ask = this.actor.currentAsk;
    return ask !== null && ask.reply(value);
  }

  /** Keyed timers delivering messages to this actor, all cancelled when it stops. */
  get timers(): Timers<Msg> {
    return this.actor.timers as Timers<Msg>;
  }

  /** Whether exit signals become `onExit` messages (`process_flag(trap_exit, …)`). */
  get trapExit(): boolean {
    return this.actor.trapExit;
  }
  set trapExit(value: boolean) {
    this.actor.trapExit = value;
  }

  /** Spawns a child (its `parent` is this actor), not linked. */
  spawn<M, S, R>(behavior: Behavior<M, S, R>, options?: SpawnOptions): ActorRef<M, R> {
    return this.actor.system.spawnActor(behavior, options, this.actor, false) as ActorRef<M, R>;
  }

  /** Spawns a child linked to this actor, atomically (`spawn_link`). */
  spawnLink<M, S, R>(behavior: Behavior<M, S, R>, options?: SpawnOptions): ActorRef<M, R> {
    return this.actor.system.spawnActor(behavior, options, this.actor, true) as ActorRef<M, R>;
  }

  /** Links this actor with `ref`, both ways. Linking to a dead actor sends this one an exit signal `noproc`. */
  link(ref: ActorRef): void {
    this.actor.link(this.actor.system.cellOf(ref));
  }

  unlink(ref: ActorRef): void {
    this.actor.unlink(this.actor.system.cellOf(ref));
  }

  /** Monitors `ref`: when it exits, this actor's `onDown` gets its reason (`noproc` at once if it is dead). */
  monitor(ref: ActorRef): MonitorRef {
    return this.actor.system.cellOf(ref).addMonitor(this.actor, null);
  }

  /** Removes a monitor; with `flush`, also drops its `down` message if already queued. */
  demonitor(monitor: MonitorRef, options?: { flush?: boolean }): void {
    const m = monitor as Monitor;
    if (m.watcher !== this.actor) throw new InvalidOptionError('monitor', 'not a monitor held by this actor');
    this.actor.removeMonitor(m, options?.flush === true);
  }

  /** Sends an exit signal to `ref` (`exit/2`); `'kill'` cannot be trapped. */
  exit(ref: ActorRef, reason: ExitSignalReason): void {
    this.actor.system.sendExitSignal(this.actor, this.actor.system.cellOf(ref), reason);
  }

  /** Stops this actor after the current callback: `terminate` runs, then it exits with `reason` (default `normal`). */
  stop(reason: ExitReason = 'normal'): void {
    this.actor.requestStop(reason);
  }

  /** Sets the message being handled aside; `unstashAll` puts stashed messages back in front of the mailbox. Throws `STASH_FULL` beyond capacity. */
  stash(): void {
    this.actor.stashCurrent();
  }

  /** Returns every stashed message to the front of the mailbox, in stash order. Returns how many. */
  unstashAll(): number {
    return this.actor.unstashAll();
  }

  get stashSize(): number {
    return this.actor.stashSize;
  }
}
