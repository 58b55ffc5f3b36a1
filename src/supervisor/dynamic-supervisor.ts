import type { Actor } from '../actors/actor.js';
import type { ExitReason } from '../actors/exit-reason.js';
import { formatReason } from '../actors/exit-reason.js';
import type { ActorRef, ReplyTo } from '../actors/ref.js';
import type { ActorSystem } from '../actors/system.js';
import type { ResolvedChildSpec } from './child-spec.js';
import { ChildState, historyOf, IGNORED, shouldRestart, StartFailure, type StartOutcome, SupervisorCore } from './core.js';
import { ChildNotFoundError, ChildStartError, MaxChildrenError } from './errors.js';
import type { Call } from './protocol.js';
import type { ChildCounts } from './refs.js';
import { isCleanShutdown, shutdownChildren } from './shutdown.js';
import type { ResolvedDynamicSpec } from './spec.js';
import type { Spawners } from './start-context.js';
import { info } from './supervisor.js';

const NO_ARGS: readonly unknown[] = [];

/** A dynamic child: its state and the arguments it is (re)started with. @internal */
class DynamicChild extends ChildState {
  constructor(
    spec: ResolvedChildSpec,
    readonly args: readonly unknown[],
  ) {
    super(spec);
  }
}

/**
 * A dynamic supervisor (OTP's `simple_one_for_one`): one child spec, children started with
 * arguments at run time, one-for-one restarts, all children stopped in parallel.
 * @internal
 */
export class DynamicSupervisor extends SupervisorCore<DynamicChild> {
  private readonly spec: ResolvedChildSpec;
  private readonly maxChildren: number;
  /**
   * Every child, by the actor it runs as, or, while its restart is pending, by the actor it last
   * ran as (OTP keys a restarting dynamic child by `{restarting, OldPid}` the same way). In start
   * order, except that a restarted child moves to the end.
   */
  private readonly children = new Map<Actor, DynamicChild>();

  childList(): Iterable<DynamicChild> {
    return this.children.values();
  }

  get childTotal(): number {
    return this.children.size;
  }

  constructor(system: ActorSystem, spec: ResolvedDynamicSpec, spawners: Spawners) {
    super(system, spec, spawners);
    this.spec = spec.child;
    this.maxChildren = spec.maxChildren;
  }

  protected init(): this {
    return this; // no children at start, as OTP's `init_dynamic`
  }

  // ---------------------------------------------------------------- admin calls

  protected call(call: Call, replyTo: ReplyTo): this | Promise<this> {
    switch (call.op) {
      case 'start-child':
        return this.startChild(call.spec as unknown[], replyTo);
      case 'terminate-child':
        return this.terminateChild(call.child, replyTo);
      case 'which-children': {
        const out = [];
        for (const c of this.children.values()) out.push(info(c));
        replyTo.reply(out);
        return this;
      }
      case 'count-children':
        replyTo.reply(this.counts());
        return this;
      default:
        replyTo.fail(new ChildNotFoundError(String((call as { id?: unknown }).id)));
        return this;
    }
  }

  /** `start_child` with extra arguments. Synchronous whenever the start is, so starting many children costs no extra turns. */
  private startChild(args: unknown[], replyTo: ReplyTo): this | Promise<this> {
    if (this.children.size >= this.maxChildren) {
      replyTo.fail(new MaxChildrenError(this.maxChildren));
      return this;
    }
    const out = this.runStart(this.spec, args);
    if (out instanceof Promise) return out.then((o) => this.started(args, o, replyTo));
    return this.started(args, out, replyTo);
  }

  private started(args: unknown[], out: StartOutcome, replyTo: ReplyTo): this {
    if (this.cell.dead) {
      this.orphan(out);
    } else if (out instanceof StartFailure) {
      this.reportStartFailure(this.spec, out.reason, false);
      replyTo.fail(new ChildStartError(undefined, out.reason));
    } else if (out === IGNORED) {
      replyTo.reply(undefined); // nothing is kept, as OTP
    } else {
      // A temporary child is never restarted: its arguments are not kept (as OTP).
      const child = new DynamicChild(this.spec, this.spec.restart === 'temporary' ? NO_ARGS : args);
      this.children.set(out, child);
      this.running(child, out);
      this.emitStarted(child, out);
      replyTo.reply(out);
    }
    return this;
  }

  /** `terminate_child` by ref. */
  private terminateChild(target: unknown, replyTo: ReplyTo): this | Promise<this> {
    let cell: Actor;
    try {
      cell = this.system.cellOf(target as ActorRef);
    } catch (err) {
      replyTo.fail(err as Error);
      return this;
    }
    const child = this.children.get(cell);
    if (child === undefined) {
      // As OTP: a dead process is as good as terminated; a live one that is not ours is not found.
      if (cell.dead) replyTo.reply(undefined);
      else replyTo.fail(new ChildNotFoundError(cell));
      return this;
    }
    this.cancelRestart(child);
    this.children.delete(cell);
    const done = (): this => {
      replyTo.reply(undefined);
      return this;
    };
    if (child.cell === null) return done();
    child.last = cell;
    child.cell = null;
    const r = this.stopChild(child, cell);
    return r instanceof Promise ? r.then(done) : done();
  }

  private counts(): ChildCounts {
    let active = 0;
    for (const c of this.children.values()) if (c.cell !== null) active++;
    const n = this.children.size;
    return this.spec.type === 'supervisor' ? { specs: 1, active, supervisors: n, workers: 0 } : { specs: 1, active, supervisors: 0, workers: n };
  }

  // ---------------------------------------------------------------- exits and restarts

  protected childExit(from: Actor, reason: ExitReason): this | Promise<this> {
    const child = this.children.get(from);
    if (child === undefined || child.cell !== from) return this;
    child.last = from;
    child.cell = null;
    const restart = shouldRestart(this.spec, reason);
    this.reportExit(child, from, reason, restart);
    if (restart) {
      const delay = this.backoffDelay(child);
      if (delay === 0) return this.restartNow(child, reason);
      this.scheduleRestart(child, delay, false);
      return this;
    }
    this.children.delete(from);
    // `do_auto_shutdown` for simple_one_for_one: every child is significant or none is.
    const mode = this.flags.autoShutdown;
    if (this.spec.significant && (mode === 'any-significant' || (mode === 'all-significant' && this.children.size === 0))) this.autoShutdown(child);
    return this;
  }

  protected restartDue(child: DynamicChild): this | Promise<this> {
    return this.restartNow(child, historyOf(child).reason);
  }

  /** `restart(simple_one_for_one, …)`: the same arguments again. */
  private restartNow(child: DynamicChild, reason: ExitReason): this | Promise<this> {
    if (this.intensityExceeded(child, reason)) {
      this.cancelRestart(child);
      this.children.delete(child.last as Actor);
      return this;
    }
    const out = this.runStart(this.spec, child.args);
    if (out instanceof Promise) return out.then((o) => this.restarted(child, o));
    return this.restarted(child, out);
  }

  private restarted(child: DynamicChild, out: StartOutcome): this {
    if (this.cell.dead) {
      this.orphan(out);
    } else if (out instanceof StartFailure) {
      this.restartFailed(child, out.reason);
    } else if (out === IGNORED) {
      this.cancelRestart(child);
      this.children.delete(child.last as Actor);
      this.emitRestarted(child, undefined);
    } else {
      this.children.delete(child.last as Actor);
      this.children.set(out, child);
      this.running(child, out);
      this.emitRestarted(child, out);
    }
    return this;
  }

  // ---------------------------------------------------------------- stop (`terminate_dynamic_children`)

  async terminate(reason: ExitReason): Promise<void> {
    this.emitShutdown(reason);
    const kids: DynamicChild[] = [];
    const cells: Actor[] = [];
    for (const child of this.children.values()) {
      this.cancelRestart(child);
      if (child.cell !== null) {
        kids.push(child);
        cells.push(child.cell);
      }
    }
    const reasons = await shutdownChildren(this.cell, cells, this.spec.shutdown);
    // One report per distinct reason, as OTP (which stacks the pids under each reason).
    const reported = new Set<string>();
    for (let i = 0; i < kids.length; i++) {
      const r = reasons[i] as ExitReason;
      const cell = cells[i] as Actor;
      if (!isCleanShutdown(r, this.spec.shutdown, this.spec.restart)) {
        const key = formatReason(r);
        if (!reported.has(key)) {
          reported.add(key);
          this.reporter.error('shutdown_error', r, this.spec, cell);
        }
      }
      if (this.reporter.observed) {
        this.reporter.emit({ type: 'supervisor.child-terminated', supervisor: this.cell, childId: undefined, child: cell, reason: r });
      }
    }
  }
}
