import type { Context } from './context.js';
import type { ExitReason } from './exit-reason.js';
import type { DownMessage, ExitMessage, Ignore, MailboxOptions } from './ref.js';

/** The context passed to every callback of an actor. See {@link Context}. */
export type ActorContext<Msg = unknown, Reply = unknown> = Context<Msg, Reply>;

/**
 * What an actor does, as plain callbacks (gen_server's `init`, `handle_call`/`handle_cast`,
 * `handle_info` and `terminate`). Every callback may be async; the actor handles nothing else
 * until it settles. A callback that throws or rejects crashes the actor with that error.
 *
 * ```ts
 * const counter: Behavior<{ type: 'inc' } | { type: 'get' }, number, number> = {
 *   init: () => 0,
 *   receive(n, msg, ctx) {
 *     if (msg.type === 'inc') return n + 1;
 *     ctx.reply(n);
 *     return n;
 *   },
 * };
 * ```
 */
export interface Behavior<Msg, State = undefined, Reply = unknown> {
  /**
   * Builds the initial state. Runs inside `spawn`, synchronously if it is synchronous; if it
   * returns a promise, messages wait until it resolves. Return `IGNORE` to decline to start
   * (the actor exits `normal`). Without `init` the state is `undefined`.
   */
  init?(ctx: ActorContext<Msg, Reply>): State | Ignore | Promise<State | Ignore>;
  /**
   * Handles one message (told or asked) and returns the next state. For an ask, reply with
   * `ctx.reply(value)` now, or keep `ctx.replyTo` and reply later.
   */
  receive(state: State, message: Msg, ctx: ActorContext<Msg, Reply>): State | Promise<State>;
  /** A linked actor exited, or an exit signal arrived, while this actor traps exits. */
  onExit?(state: State, message: ExitMessage, ctx: ActorContext<Msg, Reply>): State | Promise<State>;
  /** A monitored actor exited. */
  onDown?(state: State, message: DownMessage, ctx: ActorContext<Msg, Reply>): State | Promise<State>;
  /**
   * Runs when the actor stops gracefully (`stop()`, `ctx.stop()`, its parent's exit while it
   * traps exits) or crashes in a callback. Not when it is killed or when an exit signal takes
   * it down without trapping (as OTP).
   */
  terminate?(state: State, reason: ExitReason, ctx: ActorContext<Msg, Reply>): void | Promise<void>;
}

export interface SpawnOptions {
  /** Registers the actor under this name; spawning fails with `NAME_TAKEN` if a live actor holds it. */
  readonly name?: string;
  /** Turn exit signals into `onExit` messages (`process_flag(trap_exit, true)`). Default false. */
  readonly trapExit?: boolean;
  /** Bound the mailbox. Default unbounded. */
  readonly mailbox?: MailboxOptions;
  /** Maximum stashed messages; `ctx.stash()` beyond it throws `STASH_FULL`. Default the system's (1000). */
  readonly stashCapacity?: number;
}
