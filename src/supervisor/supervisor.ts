import type { Actor } from '../actors/actor.js';
import type { ExitReason } from '../actors/exit-reason.js';
import type { ReplyTo } from '../actors/ref.js';
import type { ActorSystem } from '../actors/system.js';
import { InvalidOptionError } from '../actors/errors.js';
import { type ResolvedChildSpec, resolveChildSpec } from './child-spec.js';
import { ChildState, historyOf, IGNORED, shouldRestart, StartFailure, type StartOutcome, SupervisorCore } from './core.js';
import {
  AlreadyPresentError,
  AlreadyStartedError,
  ChildNotFoundError,
  ChildRestartingError,
  ChildRunningError,
  ChildStartError,
} from './errors.js';
import type { Call } from './protocol.js';
import type { ChildCounts, ChildInfo } from './refs.js';
import type { ResolvedStaticSpec } from './spec.js';
import type { Spawners } from './start-context.js';

/**
 * A static supervisor (OTP's `one_for_one`, `one_for_all`, `rest_for_one`): an ordered list of
 * children, each from its own spec. The code follows `supervisor.erl` closely; the OTP function
 * each method mirrors is named in its comment.
 * @internal
 */
export class StaticSupervisor extends SupervisorCore {
  /** In start order. */
  private readonly children: ChildState[] = [];

  childList(): Iterable<ChildState> {
    return this.children;
  }

  get childTotal(): number {
    return this.children.length;
  }
  private readonly byId = new Map<string, ChildState>();
  private readonly byCell = new Map<Actor, ChildState>();

  constructor(system: ActorSystem, spec: ResolvedStaticSpec, spawners: Spawners) {
    super(system, spec, spawners);
    for (const s of spec.children) this.add(new ChildState(s));
  }

  // ---------------------------------------------------------------- bookkeeping

  private add(child: ChildState): void {
    this.children.push(child);
    this.byId.set(child.spec.id as string, child);
  }

  /** `remove_child`: forgets the spec. */
  private remove(child: ChildState): void {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    this.byId.delete(child.spec.id as string);
    if (child.cell !== null) this.byCell.delete(child.cell);
    this.cancelRestart(child);
  }

  /** `del_child`: the child is not running; a temporary child's spec is forgotten. */
  private delChild(child: ChildState): void {
    this.cancelRestart(child);
    if (child.spec.restart === 'temporary') this.remove(child);
  }

  private register(child: ChildState, cell: Actor): void {
    this.running(child, cell);
    this.byCell.set(cell, child);
  }

  /** The child is no longer running as `cell`. */
  private unregister(child: ChildState, cell: Actor): void {
    this.byCell.delete(cell);
    child.last = cell;
    child.cell = null;
  }

  // ---------------------------------------------------------------- start (`init_children`)

  protected async init(): Promise<this> {
    for (const child of this.children.slice()) {
      let out = this.runStart(child.spec);
      if (out instanceof Promise) out = await out;
      if (this.cell.dead) {
        this.orphan(out);
        return this;
      }
      if (out instanceof StartFailure) {
        this.reportStartFailure(child.spec, out.reason);
        // As OTP: stop what was started, in reverse order, and fail the start with the reason.
        await this.terminateFrom(0);
        throw new ChildStartError(child.spec.id, out.reason);
      }
      if (out === IGNORED) {
        if (child.spec.restart === 'temporary') this.remove(child);
        continue;
      }
      this.register(child, out);
      this.emitStarted(child, out);
    }
    return this;
  }

  // ---------------------------------------------------------------- exits (`restart_child`, `do_restart`)

  protected childExit(from: Actor, reason: ExitReason): this | Promise<this> {
    const child = this.byCell.get(from);
    if (child === undefined) return this; // not a child, or one already stopped or replaced
    this.unregister(child, from);
    const restart = shouldRestart(child.spec, reason);
    this.reportExit(child, from, reason, restart);
    if (restart) return this.restart(child, reason);
    this.delChild(child);
    if (this.autoShutdownDue(child)) this.autoShutdown(child);
    return this;
  }

  /** `do_auto_shutdown`. */
  private autoShutdownDue(child: ChildState): boolean {
    const mode = this.flags.autoShutdown;
    if (mode === 'never' || !child.spec.significant) return false;
    if (mode === 'any-significant') return true;
    for (const c of this.children) if (c.spec.significant && (c.cell !== null || c.restarting)) return false;
    return true;
  }

  /** A child must be restarted: at once, or after its backoff delay. */
  private restart(child: ChildState, reason: ExitReason): this | Promise<this> {
    const delay = this.backoffDelay(child);
    if (delay === 0) return this.restartNow(child, reason);
    if (this.flags.strategy === 'one-for-one') {
      this.scheduleRestart(child, delay, false);
      return this;
    }
    // The siblings restarted with it stop now: they must not run without it while it waits.
    return this.terminateFrom(this.groupStart(child)).then(() => {
      if (!this.cell.dead) this.scheduleRestart(child, delay, false);
      return this;
    });
  }

  protected restartDue(child: ChildState): this | Promise<this> {
    return this.restartNow(child, historyOf(child).reason);
  }

  /** `restart/2`: count the restart against the intensity, then restart per the strategy. */
  private restartNow(child: ChildState, reason: ExitReason): this | Promise<this> {
    if (this.intensityExceeded(child, reason)) {
      this.delChild(child);
      return this;
    }
    if (this.flags.strategy === 'one-for-one') {
      const out = this.runStart(child.spec);
      if (out instanceof Promise) return out.then((o) => this.restartedOne(child, o));
      return this.restartedOne(child, out);
    }
    return this.restartGroup(child);
  }

  private restartedOne(child: ChildState, out: StartOutcome): this {
    if (this.cell.dead) {
      this.orphan(out);
    } else if (out instanceof StartFailure) {
      this.restartFailed(child, out.reason); // `{try_again, Id}`
    } else if (out === IGNORED) {
      this.cancelRestart(child);
      this.emitRestarted(child, undefined);
    } else {
      this.register(child, out);
      this.emitRestarted(child, out);
    }
    return this;
  }

  /** Where the group restarted with `child` begins: every child (one-for-all) or `child` and those after it (rest-for-one). */
  private groupStart(child: ChildState): number {
    return this.flags.strategy === 'one-for-all' ? 0 : Math.max(0, this.children.indexOf(child));
  }

  /** `restart_multiple_children`: stop the group in reverse order, then start it in order. */
  private async restartGroup(child: ChildState): Promise<this> {
    const from = this.groupStart(child);
    await this.terminateFrom(from);
    if (this.cell.dead) return this;
    for (let i = from; i < this.children.length; i++) {
      const c = this.children[i] as ChildState;
      if (c.cell !== null) continue;
      let out = this.runStart(c.spec);
      if (out instanceof Promise) out = await out;
      if (this.cell.dead) {
        this.orphan(out);
        return this;
      }
      if (out instanceof StartFailure) {
        // The failed one is retried later (it is `restarting`); the ones after it wait, stopped.
        this.restartFailed(c, out.reason);
        return this;
      }
      if (out === IGNORED) {
        if (c.spec.restart === 'temporary') {
          this.remove(c);
          i--;
        } else {
          this.cancelRestart(c);
          this.emitRestarted(c, undefined);
        }
        continue;
      }
      this.register(c, out);
      this.emitRestarted(c, out);
    }
    return this;
  }

  // ---------------------------------------------------------------- stop (`terminate_children`)

  /**
   * Stops `children[from..]` one by one in reverse start order, each as its shutdown says.
   * Temporary children are forgotten; the others are kept, stopped, with any pending restart
   * cancelled.
   */
  private async terminateFrom(from: number): Promise<void> {
    for (let i = this.children.length - 1; i >= from; i--) {
      const child = this.children[i] as ChildState;
      this.cancelRestart(child);
      const cell = child.cell;
      if (cell !== null) {
        this.unregister(child, cell);
        const r = this.stopChild(child, cell);
        if (r instanceof Promise) await r;
        if (this.cell.dead) return;
      }
      if (child.spec.restart === 'temporary') this.remove(child);
    }
  }

  async terminate(reason: ExitReason): Promise<void> {
    this.emitShutdown(reason);
    await this.terminateFrom(0);
  }

  // ---------------------------------------------------------------- admin calls

  protected call(call: Call, replyTo: ReplyTo): this | Promise<this> {
    switch (call.op) {
      case 'start-child':
        return this.startChild(call.spec, replyTo);
      case 'terminate-child':
        return this.terminateChild(call.child, replyTo);
      case 'restart-child':
        return this.restartChild(call.id, replyTo);
      case 'delete-child': {
        const child = this.find(call.id, replyTo);
        if (child !== undefined) {
          this.remove(child);
          replyTo.reply(undefined);
        }
        return this;
      }
      case 'get-child-spec': {
        const child = this.byId.get(call.id);
        if (child === undefined) replyTo.fail(new ChildNotFoundError(call.id));
        else replyTo.reply(child.spec.original);
        return this;
      }
      case 'which-children':
        replyTo.reply(this.children.map((c) => info(c)));
        return this;
      case 'count-children':
        replyTo.reply(this.counts());
        return this;
      default:
        // Only reachable through the untyped `ref`: answered, and the supervisor goes on.
        replyTo.fail(new InvalidOptionError('op', `not a supervisor call: ${String((call as { op?: unknown }).op)}`));
        return this;
    }
  }

  /** A child by id that is not running and not restarting, or undefined after replying with why not. */
  private find(id: string, replyTo: ReplyTo): ChildState | undefined {
    const child = this.byId.get(id);
    if (child === undefined) replyTo.fail(new ChildNotFoundError(id));
    else if (child.restarting) replyTo.fail(new ChildRestartingError(id));
    else if (child.cell !== null) replyTo.fail(new ChildRunningError(id));
    else return child;
    return undefined;
  }

  /** `handle_start_child`. */
  private async startChild(value: unknown, replyTo: ReplyTo): Promise<this> {
    let spec: ResolvedChildSpec;
    try {
      spec = resolveChildSpec(value, this.flags.autoShutdown);
    } catch (err) {
      replyTo.fail(err as Error);
      return this;
    }
    const id = spec.id as string;
    const existing = this.byId.get(id);
    if (existing !== undefined) {
      replyTo.fail(existing.cell !== null ? new AlreadyStartedError(id, existing.cell) : new AlreadyPresentError(id));
      return this;
    }
    const child = new ChildState(spec);
    let out = this.runStart(spec);
    if (out instanceof Promise) out = await out;
    if (this.cell.dead) {
      this.orphan(out);
      return this;
    }
    if (out instanceof StartFailure) {
      this.reportStartFailure(spec, out.reason, false);
      replyTo.fail(new ChildStartError(id, out.reason));
    } else if (out === IGNORED) {
      if (spec.restart !== 'temporary') this.add(child);
      replyTo.reply(undefined);
    } else {
      this.add(child);
      this.register(child, out);
      this.emitStarted(child, out);
      replyTo.reply(out);
    }
    return this;
  }

  /** `terminate_child` by id: the spec is kept (unless temporary), not running. */
  private async terminateChild(target: unknown, replyTo: ReplyTo): Promise<this> {
    const child = typeof target === 'string' ? this.byId.get(target) : undefined;
    if (child === undefined) {
      replyTo.fail(new ChildNotFoundError(typeof target === 'string' ? target : String(target)));
      return this;
    }
    this.cancelRestart(child);
    const cell = child.cell;
    if (cell !== null) {
      this.unregister(child, cell);
      const r = this.stopChild(child, cell);
      if (r instanceof Promise) await r;
      if (this.cell.dead) return this;
    }
    this.delChild(child);
    replyTo.reply(undefined);
    return this;
  }

  /** `restart_child`: start a stopped child again; does not count toward intensity. */
  private async restartChild(id: string, replyTo: ReplyTo): Promise<this> {
    const child = this.find(id, replyTo);
    if (child === undefined) return this;
    let out = this.runStart(child.spec);
    if (out instanceof Promise) out = await out;
    if (this.cell.dead) {
      this.orphan(out);
      return this;
    }
    if (out instanceof StartFailure) {
      this.reportStartFailure(child.spec, out.reason, false);
      replyTo.fail(new ChildStartError(id, out.reason));
    } else if (out === IGNORED) {
      replyTo.reply(undefined);
    } else {
      this.register(child, out);
      this.emitStarted(child, out);
      replyTo.reply(out);
    }
    return this;
  }

  private counts(): ChildCounts {
    let active = 0;
    let supervisors = 0;
    for (const c of this.children) {
      if (c.cell !== null) active++;
      if (c.spec.type === 'supervisor') supervisors++;
    }
    return { specs: this.children.length, active, supervisors, workers: this.children.length - supervisors };
  }
}

/** @internal */
export function info(c: ChildState): ChildInfo {
  return {
    id: c.spec.id,
    status: c.cell !== null ? 'running' : c.restarting ? 'restarting' : 'stopped',
    ref: c.cell ?? undefined,
    type: c.spec.type,
  };
}
