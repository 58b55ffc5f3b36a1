import { Actor } from '../actors/actor.js';
import type { Behavior } from '../actors/behavior.js';
import type { Context } from '../actors/context.js';
import { ActorCrashError, InvalidOptionError } from '../actors/errors.js';
import { type ExitReason, isNormalExit, isShutdownWith } from '../actors/exit-reason.js';
import { runtimeMessage } from '../actors/messages.js';
import { type ExitMessage, IGNORE, type ReplyTo } from '../actors/ref.js';
import type { ActorSystem } from '../actors/system.js';
import { BackoffState } from './backoff.js';
import type { ResolvedChildSpec } from './child-spec.js';
import type { ResolvedFlags } from './flags.js';
import { addRestart } from './intensity.js';
import { type Call, RetryRestart } from './protocol.js';
import { SupervisorHandle } from './refs.js';
import { Reporter } from './reports.js';
import { isCleanShutdown, shutdownChild } from './shutdown.js';
import type { ResolvedSupervisorSpec } from './spec.js';
import { type Spawners, StartContext } from './start-context.js';

/** A start function returned `IGNORE`. @internal */
export const IGNORED: unique symbol = Symbol('beamstate.supervisor.ignored');

/** A start function failed; `reason` is why. @internal */
export class StartFailure {
  constructor(readonly reason: ExitReason) {}
}

/** How one start went: the child's cell, `IGNORED`, or a failure. @internal */
export type StartOutcome = Actor | typeof IGNORED | StartFailure;

const NO_ARGS: readonly unknown[] = [];

/**
 * What the supervisor knows about one child (OTP's `#child{}`): the running instance, or none,
 * or a pending restart (`restarting`, OTP's `{restarting, Pid}`). Kept small, since a dynamic
 * supervisor may hold a great many: what only matters once a child has exited lives in
 * `history`, allocated then.
 * @internal
 */
export class ChildState {
  cell: Actor | null = null;
  /** The instance that ran last, reported as `previous` when the child is restarted. */
  last: Actor | null = null;
  /** A restart is pending (a backoff delay, or a retry after a failed start). */
  restarting = false;
  history: RestartHistory | null = null;

  constructor(readonly spec: ResolvedChildSpec) {}
}

/** A child's restart bookkeeping. @internal */
export class RestartHistory {
  /** Identifies the pending restart, so a stale retry message is ignored. */
  token = 0;
  /** Failed restarts in a row, for the `attempt` of restart events. */
  retries = 0;
  /** Why the child last exited or failed to start: what an escalation reports. */
  reason: ExitReason = 'normal';
  backoff: BackoffState | null = null;
  /** Times the child was restarted (for the observer). */
  restarts = 0;
}

/** @internal */
export function historyOf(child: ChildState): RestartHistory {
  return (child.history ??= new RestartHistory());
}

/** Turns anything thrown or rejected into an exit reason. */
function toReason(thrown: unknown): ExitReason {
  if (thrown instanceof Error) return thrown;
  if (thrown === 'normal' || thrown === 'shutdown' || thrown === 'killed' || thrown === 'noproc' || isShutdownWith(thrown)) return thrown;
  return new ActorCrashError(thrown);
}

/** OTP's `do_restart/3` decision: permanent always, transient unless the exit was normal, temporary never. @internal */
export function shouldRestart(spec: ResolvedChildSpec, reason: ExitReason): boolean {
  return spec.restart === 'permanent' || (spec.restart === 'transient' && !isNormalExit(reason));
}

function onReceive(core: SupervisorCore, msg: unknown, ctx: Context): SupervisorCore | Promise<SupervisorCore> {
  return core.receive(msg, ctx);
}
function onExit(core: SupervisorCore, msg: ExitMessage): SupervisorCore | Promise<SupervisorCore> {
  return core.exit(msg);
}
function onTerminate(core: SupervisorCore, reason: ExitReason): void | Promise<void> {
  return core.terminate(reason);
}

/**
 * What static and dynamic supervisors share: the actor behavior around them, running start
 * functions, restart intensity, backoff and retry scheduling, stopping a child, reports.
 * A supervisor is an actor that traps exits; its state is this object, mutated in place.
 * @internal
 */
export abstract class SupervisorCore<C extends ChildState = ChildState> {
  cell!: Actor;
  ctx!: Context<unknown>;
  reporter!: Reporter;
  readonly flags: ResolvedFlags;
  /** Restarts of any child since the supervisor started (for the observer). */
  restartCount = 0;
  private restarts: readonly number[] = [];
  private readonly random: () => number;
  private readonly listener: ResolvedSupervisorSpec['onEvent'];

  constructor(
    readonly system: ActorSystem,
    spec: ResolvedSupervisorSpec,
    private readonly spawners: Spawners,
  ) {
    this.flags = spec.flags;
    this.random = spec.random;
    this.listener = spec.onEvent;
  }

  /** The supervisor's actor behavior. */
  behavior(): Behavior<unknown, SupervisorCore> {
    return {
      init: (ctx) => {
        this.ctx = ctx as Context<unknown>;
        this.cell = this.system.cellOf(ctx.self);
        this.reporter = new Reporter(this.system, this.cell, this.listener);
        return this.init();
      },
      receive: onReceive,
      onExit,
      terminate: onTerminate,
    };
  }

  protected abstract init(): SupervisorCore | Promise<SupervisorCore>;
  /** The children, in start order, and how many (read by the observer between messages; not to be mutated). */
  abstract childList(): Iterable<C>;
  abstract get childTotal(): number;
  /** An admin call; reply through `replyTo`. */
  protected abstract call(call: Call, replyTo: ReplyTo): this | Promise<this>;
  /** A linked actor exited; it may be one of the children. */
  protected abstract childExit(from: Actor, reason: ExitReason): this | Promise<this>;
  /** A restart came due for `child` (after a backoff delay, or to retry a failed start). */
  protected abstract restartDue(child: C): this | Promise<this>;
  /** The supervisor is stopping: stop every child. */
  abstract terminate(reason: ExitReason): void | Promise<void>;

  receive(msg: unknown, ctx: Context): this | Promise<this> {
    if (msg instanceof RetryRestart) {
      const child = msg.child as C;
      if (!child.restarting || child.history?.token !== msg.token) return this; // cancelled or superseded
      return this.restartDue(child);
    }
    const replyTo = ctx.replyTo;
    if (replyTo !== undefined && typeof msg === 'object' && msg !== null && 'op' in msg) return this.call(msg as Call, replyTo);
    ctx.log.warn({ message: msg }, 'supervisor received an unexpected message');
    if (replyTo !== undefined) replyTo.fail(new InvalidOptionError('message', 'not a supervisor call'));
    return this;
  }

  exit(msg: ExitMessage): this | Promise<this> {
    if (msg.from === undefined) {
      // An exit signal from outside any actor (`system.exit(ref, reason)`): to a supervisor
      // without a parent it means what its parent's exit signal would (stop with that reason).
      if (this.cell.parent === null) this.ctx.stop(msg.reason);
      return this;
    }
    return this.childExit(msg.from as Actor, msg.reason);
  }

  // ---------------------------------------------------------------- starting

  /**
   * Runs a start function. The outcome is returned synchronously when it is known at once (the
   * start function returned a ref, `IGNORE`, threw, or returned the promise of a `ctx.spawn`
   * whose init already finished), otherwise as a promise. Never rejects.
   */
  protected runStart(spec: ResolvedChildSpec, args: readonly unknown[] = NO_ARGS): StartOutcome | Promise<StartOutcome> {
    const ctx = new StartContext(this.cell, this.spawners);
    let result: unknown;
    try {
      result = args.length === 0 ? spec.start(ctx) : spec.start(ctx, ...args);
    } catch (err) {
      ctx.closed = true;
      return new StartFailure(toReason(err));
    }
    if (!(result instanceof Promise)) {
      ctx.closed = true;
      return this.outcomeOf(result);
    }
    if (result === ctx.lastPromise) {
      const cell = ctx.lastCell as Actor;
      if (cell.initialized || cell.dead) {
        ctx.closed = true;
        if (cell.initialized) return this.accept(cell);
        return cell.exitReason === 'normal' ? IGNORED : new StartFailure(cell.exitReason as ExitReason);
      }
    }
    return result.then(
      (value: unknown) => {
        ctx.closed = true;
        return this.outcomeOf(value);
      },
      (err: unknown) => {
        ctx.closed = true;
        return new StartFailure(toReason(err));
      },
    );
  }

  private outcomeOf(value: unknown): StartOutcome {
    if (value === IGNORE) return IGNORED;
    if (value instanceof Actor && value.system === this.system) return this.accept(value);
    if (value instanceof SupervisorHandle && value.cell.system === this.system) return this.accept(value.cell);
    return new StartFailure(new TypeError(`a start function must return an ActorRef of this system, a supervisor ref or IGNORE, got ${String(value)}`));
  }

  /** A started child must be linked to the supervisor; `ctx.spawn` did that, a hand-made start may not have. */
  private accept(cell: Actor): Actor {
    if (cell.parent !== this.cell && !this.cell.links.has(cell)) this.cell.link(cell); // a dead one sends us `noproc`
    return cell;
  }

  /** The supervisor died while a start was pending: the new child must not outlive it. */
  protected orphan(outcome: StartOutcome): void {
    if (outcome instanceof Actor) this.system.sendExitSignal(null, outcome, 'kill');
  }

  // ---------------------------------------------------------------- exits and restarts

  /** Reports a child's own exit: logged as `child_terminated` unless it was an expected normal exit (as OTP). */
  protected reportExit(child: C, cell: Actor, reason: ExitReason, willRestart: boolean): void {
    historyOf(child).reason = reason;
    if (child.spec.restart === 'permanent' || !isNormalExit(reason)) this.reporter.error('child_terminated', reason, child.spec, cell);
    if (this.reporter.observed) {
      this.reporter.emit({ type: 'supervisor.child-exited', supervisor: this.cell, childId: child.spec.id, child: cell, reason, willRestart });
    }
  }

  /**
   * Records a restart against the intensity (OTP's `add_restart/1`). Returns true if the
   * supervisor must give up, after reporting it and asking itself to stop with `shutdown`.
   */
  protected intensityExceeded(child: C, reason: ExitReason): boolean {
    const w = addRestart(this.restarts, this.system.clock.now(), this.flags.intensity, this.flags.periodMs);
    this.restarts = w.restarts;
    if (!w.exceeded) return false;
    this.reporter.error('shutdown', 'reached_max_restart_intensity', child.spec, child.cell);
    if (this.reporter.observed) this.reporter.emit({ type: 'supervisor.escalated', supervisor: this.cell, childId: child.spec.id, reason });
    this.ctx.stop('shutdown');
    return true;
  }

  /** The backoff that applies to a child: its own, else the supervisor's, else none. */
  protected backoffOf(child: C): ResolvedChildSpec['backoff'] {
    return child.spec.backoff ?? this.flags.backoff;
  }

  /**
   * If the child has a backoff, records its exit and returns the delay before its restart;
   * otherwise 0 (restart at once).
   */
  protected backoffDelay(child: C): number {
    const backoff = this.backoffOf(child);
    if (backoff === undefined) return 0;
    const state = (historyOf(child).backoff ??= new BackoffState());
    state.exited(this.system.clock.now(), backoff);
    return state.next(backoff, this.random);
  }

  /**
   * Marks the child `restarting` and arranges for `restartDue` to run: after `delayMs` on the
   * system clock, or, with no delay, after the messages already queued (OTP's
   * `try_again_restart` cast, which lets admin calls and stop requests in between).
   */
  protected scheduleRestart(child: C, delayMs: number, afterFailure: boolean): void {
    child.restarting = true;
    const h = historyOf(child);
    const token = ++h.token;
    if (afterFailure) h.retries++;
    if (this.reporter.observed) {
      this.reporter.emit({ type: 'supervisor.restart-scheduled', supervisor: this.cell, childId: child.spec.id, delayMs, attempt: h.retries + 1 });
    }
    const msg = runtimeMessage(new RetryRestart(child, token));
    if (delayMs > 0) this.ctx.timers.startSingle(child, msg, delayMs);
    else this.cell.tell(msg);
  }

  /** A restart's start failed: report it and retry, after the backoff delay if the child has one. */
  protected restartFailed(child: C, reason: ExitReason): void {
    const h = historyOf(child);
    h.reason = reason;
    this.reportStartFailure(child.spec, reason);
    const backoff = this.backoffOf(child);
    const delay = backoff === undefined ? 0 : (h.backoff ??= new BackoffState()).next(backoff, this.random);
    this.scheduleRestart(child, delay, true);
  }

  /** A start failed. Logged as OTP's `start_error` unless the caller of an admin call gets the error instead (`log` false). */
  protected reportStartFailure(spec: ResolvedChildSpec, reason: ExitReason, log = true): void {
    if (log) this.reporter.error('start_error', reason, spec, null);
    if (this.reporter.observed) this.reporter.emit({ type: 'supervisor.start-failed', supervisor: this.cell, childId: spec.id, reason });
  }

  /** Forgets a pending restart (the child was started or terminated by other means). */
  protected cancelRestart(child: C): void {
    if (!child.restarting) return;
    child.restarting = false;
    historyOf(child).token++;
    this.ctx.timers.cancel(child);
  }

  /** The child is running as `cell` (started, restarted, or restarted by an admin call). */
  protected running(child: C, cell: Actor): void {
    this.cancelRestart(child);
    child.cell = cell;
    const h = child.history;
    if (h !== null) {
      h.retries = 0;
      if (h.backoff !== null) h.backoff.startedAt = this.system.clock.now();
    }
    this.reporter.progress(child.spec, cell);
  }

  protected emitStarted(child: C, cell: Actor): void {
    if (this.reporter.observed) this.reporter.emit({ type: 'supervisor.child-started', supervisor: this.cell, childId: child.spec.id, child: cell });
  }

  protected emitRestarted(child: C, cell: Actor | undefined): void {
    historyOf(child).restarts++;
    this.restartCount++;
    this.reporter.restarted(child.spec, cell, child.last ?? undefined);
    if (this.reporter.observed) {
      this.reporter.emit({
        type: 'supervisor.child-restarted',
        supervisor: this.cell,
        childId: child.spec.id,
        child: cell,
        previous: child.last ?? undefined,
      });
    }
  }

  /** OTP's `do_auto_shutdown`: a significant child exited on its own and nothing restarts it. */
  protected autoShutdown(child: C): void {
    this.reporter.info({ childId: child.spec.id, autoShutdown: this.flags.autoShutdown }, 'supervisor: significant child exited, shutting down');
    if (this.reporter.observed) this.reporter.emit({ type: 'supervisor.auto-shutdown', supervisor: this.cell, childId: child.spec.id });
    this.ctx.stop('shutdown');
  }

  // ---------------------------------------------------------------- stopping

  /** Stops one child as its spec says, reporting a `shutdown_error` if it did not stop cleanly. */
  protected stopChild(child: C, cell: Actor): ExitReason | Promise<ExitReason> {
    const r = shutdownChild(this.cell, cell, child.spec.shutdown);
    if (r instanceof Promise) return r.then((reason) => this.childStopped(child, cell, reason));
    return this.childStopped(child, cell, r);
  }

  protected childStopped(child: C, cell: Actor, reason: ExitReason): ExitReason {
    if (!isCleanShutdown(reason, child.spec.shutdown, child.spec.restart)) this.reporter.error('shutdown_error', reason, child.spec, cell);
    else this.reporter.terminated(child.spec, cell, reason);
    if (this.reporter.observed) this.reporter.emit({ type: 'supervisor.child-terminated', supervisor: this.cell, childId: child.spec.id, child: cell, reason });
    return reason;
  }

  protected emitShutdown(reason: ExitReason): void {
    this.reporter.info({ reason }, 'supervisor: shutting down');
    if (this.reporter.observed) this.reporter.emit({ type: 'supervisor.shutdown', supervisor: this.cell, reason });
  }
}
