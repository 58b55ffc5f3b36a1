import type { ExitReason, ExitSignalReason } from './exit-reason.js';

/** Options of an ask. */
export interface AskOptions {
  /** Milliseconds before the ask rejects with `ASK_TIMEOUT`; default the system's `askTimeout` (5000). `Infinity` waits forever. */
  readonly timeout?: number;
  /** Aborting rejects the ask with `ASK_ABORTED`; the message may still be handled. */
  readonly signal?: AbortSignal;
}

/**
 * An address of an actor: what you send messages to. Holding a ref does not keep an actor
 * alive, and a ref to a dead actor stays valid as a value (messages to it become dead letters).
 */
export interface ActorRef<Msg = unknown, Reply = unknown> {
  /** Unique within the system, never reused. */
  readonly id: number;
  /** The registered name, if it was spawned with one. */
  readonly name: string | undefined;
  /** False once the actor has exited. */
  readonly alive: boolean;
  /** Fire and forget (`gen_server:cast`). A message to a dead actor becomes a dead letter. */
  tell(message: Msg): void;
  /**
   * Request and reply (`gen_server:call`). Rejects with `NOPROC` at once if the actor is dead,
   * `ACTOR_EXITED` if it dies before replying, `ASK_TIMEOUT` after the timeout (5 s by default),
   * `ASK_ABORTED` when the signal aborts, or with the error the actor replied with via `fail`.
   */
  ask<R = Reply>(message: Msg, options?: AskOptions): Promise<R>;
  /**
   * Stops the actor gracefully, after the message it is handling: its `terminate` runs, then it
   * exits with `reason` (default `'normal'`). Resolves when it is dead; at once if it already is.
   */
  stop(reason?: ExitReason): Promise<void>;
  toString(): string;
}

/** A handle for replying to an ask later: after an `await`, or from another actor (`gen_server:reply/2`). */
export interface ReplyTo<Reply = unknown> {
  /** Resolves the asker's promise. Returns false if it was already settled (replied, timed out, aborted). */
  reply(value: Reply): boolean;
  /** Rejects the asker's promise with `error`. Returns false if it was already settled. */
  fail(error: Error): boolean;
  /** True once replied, failed, timed out or aborted. */
  readonly settled: boolean;
}

/** The message a trapping actor gets when a linked actor exits or an exit signal is sent to it. */
export interface ExitMessage {
  readonly type: 'exit';
  /** The actor that exited or sent the signal; undefined when sent from outside any actor. */
  readonly from: ActorRef | undefined;
  readonly reason: ExitReason;
}

/** The message a monitoring actor gets when the monitored actor exits (`'noproc'` if it was already dead). */
export interface DownMessage {
  readonly type: 'down';
  readonly monitor: MonitorRef;
  readonly actor: ActorRef;
  readonly reason: ExitReason;
}

/** Identifies one monitor; pass it to `demonitor`. */
export interface MonitorRef {
  readonly id: number;
}

/** Keyed timers owned by an actor (Akka's `TimerScheduler`). Starting a key again replaces its timer; all are cancelled when the actor stops. */
export interface Timers<Msg> {
  /** Delivers `message` once after `delayMs`. */
  startSingle(key: unknown, message: Msg, delayMs: number): void;
  /** Delivers `message` every `intervalMs` (fixed rate; late ticks are not bunched up). */
  startInterval(key: unknown, message: Msg, intervalMs: number): void;
  /** Cancels the timer; a message of it already in the mailbox is discarded too. */
  cancel(key: unknown): void;
  isActive(key: unknown): boolean;
  cancelAll(): void;
}

/** Where a bounded mailbox puts a message when it is full. */
export type OverflowPolicy = 'drop-newest' | 'drop-oldest' | 'fail';

export interface MailboxOptions {
  /** Maximum queued user messages; default unbounded. */
  readonly capacity?: number;
  /**
   * What happens beyond `capacity`: `'drop-newest'` (default) drops the new message,
   * `'drop-oldest'` evicts the oldest, `'fail'` makes `tell` throw and `ask` reject with
   * `MAILBOX_FULL`. Dropped messages are published as `dropped` events; a dropped ask rejects
   * with `MAILBOX_FULL`.
   */
  readonly overflow?: OverflowPolicy;
}

/** The value `init` may return instead of a state to decline to start (OTP's `ignore`). */
export const IGNORE: unique symbol = Symbol.for('beamstate.ignore');
export type Ignore = typeof IGNORE;

/** An exit signal's reason as sent with `exit`, re-exported for convenience. */
export type { ExitSignalReason };
