import type { Actor } from '../actors/actor.js';
import type { ExitReason } from '../actors/exit-reason.js';
import type { ActorRef } from '../actors/ref.js';
import type { ChildSpec, ChildType } from './child-spec.js';
import type { Call } from './protocol.js';
import { runtimeMessage } from '../actors/messages.js';

/** One child as `whichChildren` reports it (OTP's `{Id, Child, Type, Modules}`). */
export interface ChildInfo {
  /** The child spec's id; undefined under a dynamic supervisor. */
  readonly id: string | undefined;
  /**
   * `'running'`; `'restarting'` when a restart is pending (a backoff delay, or a retry after the
   * restart's start failed); `'stopped'` when the spec is kept but no actor runs (terminated,
   * exited without being restarted, or its start returned `IGNORE`).
   */
  readonly status: 'running' | 'restarting' | 'stopped';
  /** The running child; undefined unless `status` is `'running'`. */
  readonly ref: ActorRef | undefined;
  readonly type: ChildType;
}

/** Child counts, as OTP's `count_children`. */
export interface ChildCounts {
  /** Child specs held, running or not (always 1 for a dynamic supervisor). */
  readonly specs: number;
  /** Children running now. */
  readonly active: number;
  /** Children (running or not) of type `'supervisor'`. */
  readonly supervisors: number;
  /** Children (running or not) of type `'worker'`. */
  readonly workers: number;
}

// Admin calls wait as long as it takes, as OTP's supervisor calls (`infinity`): stopping a child
// may legitimately take its whole shutdown time.
const CALL = { timeout: Infinity } as const;

/** What every supervisor ref can do. */
export abstract class SupervisorHandle {
  /** The supervisor actor: monitor it, link to it, or stop it. It accepts no user messages. */
  readonly ref: ActorRef<never, never>;
  /** @internal */
  readonly cell: Actor;

  /** @internal */
  constructor(cell: Actor) {
    this.cell = cell;
    this.ref = cell as ActorRef<never, never>;
  }

  /** False once the supervisor has exited. */
  get alive(): boolean {
    return !this.cell.dead;
  }

  /** Every child, in start order, with its status. */
  whichChildren(): Promise<ChildInfo[]> {
    return this.call({ op: 'which-children' });
  }

  countChildren(): Promise<ChildCounts> {
    return this.call({ op: 'count-children' });
  }

  /**
   * Stops the supervisor: it stops its children (in reverse start order; a dynamic supervisor's
   * in parallel), then exits with `reason` (default `'shutdown'`). Resolves when it is dead.
   */
  stop(reason: ExitReason = 'shutdown'): Promise<void> {
    return this.cell.stop(reason);
  }

  toString(): string {
    return String(this.cell);
  }

  /** @internal */
  protected call<R>(call: Call): Promise<R> {
    return this.cell.ask<R>(runtimeMessage(call), CALL);
  }
}

/** A static supervisor (one-for-one, one-for-all or rest-for-one). Every call is serialized with the supervisor's exit handling, as OTP's. */
export class SupervisorRef extends SupervisorHandle {
  /**
   * Adds a child spec and starts the child (OTP's `start_child/2`). Resolves with the child's ref,
   * or undefined if its start returned `IGNORE` (the spec is kept unless temporary). Rejects with
   * `INVALID_CHILD_SPEC`, `ALREADY_STARTED`, `ALREADY_PRESENT` or `CHILD_START_FAILED`.
   */
  startChild<Msg = unknown, Reply = unknown>(spec: ChildSpec<Msg, Reply>): Promise<ActorRef<Msg, Reply> | undefined> {
    return this.call({ op: 'start-child', spec });
  }

  /**
   * Stops a child by id (its shutdown applies) and keeps its spec, unless it is temporary
   * (OTP's `terminate_child/2`). A pending restart is cancelled. Rejects with `CHILD_NOT_FOUND`.
   */
  terminateChild(id: string): Promise<void> {
    return this.call({ op: 'terminate-child', child: id });
  }

  /**
   * Starts a stopped child again from its spec. Does not count toward restart intensity. Rejects
   * with `CHILD_RUNNING`, `CHILD_RESTARTING`, `CHILD_NOT_FOUND` or `CHILD_START_FAILED`.
   */
  restartChild<Msg = unknown, Reply = unknown>(id: string): Promise<ActorRef<Msg, Reply> | undefined> {
    return this.call({ op: 'restart-child', id });
  }

  /** Forgets a stopped child's spec. Rejects with `CHILD_RUNNING`, `CHILD_RESTARTING` or `CHILD_NOT_FOUND`. */
  deleteChild(id: string): Promise<void> {
    return this.call({ op: 'delete-child', id });
  }

  /** The spec of a child as it was given (OTP's `get_childspec/2`). Rejects with `CHILD_NOT_FOUND`. */
  getChildSpec(id: string): Promise<ChildSpec> {
    return this.call({ op: 'get-child-spec', id });
  }
}

/** A dynamic supervisor (OTP's `simple_one_for_one`): children started with arguments, told apart by ref. */
export class DynamicSupervisorRef<Args extends unknown[] = unknown[], Msg = unknown, Reply = unknown> extends SupervisorHandle {
  /**
   * Starts a child: the spec's `start(ctx, ...args)`. Resolves with its ref, or undefined if its
   * start returned `IGNORE` (nothing is kept). Rejects with `CHILD_START_FAILED` or `MAX_CHILDREN`.
   * A restarted child is started with the same arguments.
   */
  startChild(...args: Args): Promise<ActorRef<Msg, Reply> | undefined> {
    return this.call({ op: 'start-child', spec: args });
  }

  /**
   * Stops a child (the spec's shutdown applies) and forgets it; a pending restart of it is
   * cancelled. Resolves at once if `ref` is already dead; rejects with `CHILD_NOT_FOUND` if it
   * is alive but not a child of this supervisor.
   */
  terminateChild(ref: ActorRef): Promise<void> {
    return this.call({ op: 'terminate-child', child: ref });
  }
}

const handles = new WeakMap<Actor, SupervisorHandle>();

/** @internal Registers the handle of a new supervisor actor. */
export function registerHandle(handle: SupervisorHandle): void {
  handles.set(handle.cell, handle);
}

/** @internal */
export function handleOf(cell: Actor): SupervisorHandle {
  return handles.get(cell) as SupervisorHandle;
}

/**
 * The supervisor ref of a supervisor actor (say a nested supervisor found with `whichChildren`),
 * or undefined if `ref` is not a supervisor. Check the kind with `instanceof SupervisorRef` or
 * `instanceof DynamicSupervisorRef`.
 */
export function supervisorOf(ref: ActorRef): SupervisorRef | DynamicSupervisorRef | undefined {
  return handles.get(ref as Actor) as SupervisorRef | DynamicSupervisorRef | undefined;
}
