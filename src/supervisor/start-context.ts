import type { Actor } from '../actors/actor.js';
import type { Behavior, SpawnOptions } from '../actors/behavior.js';
import { ActorInitError, InvalidOptionError, NoProcError } from '../actors/errors.js';
import { type ActorRef, IGNORE, type Ignore } from '../actors/ref.js';
import type { ActorSystem } from '../actors/system.js';
import type { ChildStartContext } from './child-spec.js';
import { type DynamicSupervisorRef, type SupervisorRef, handleOf } from './refs.js';
import type { DynamicSupervisorSpec, SupervisorSpec } from './spec.js';

/** Spawns supervisor actors; injected so this module does not import the supervisors themselves. @internal */
export interface Spawners {
  /** Validates `spec` (throwing on a bad one) and spawns a static supervisor. */
  static(system: ActorSystem, spec: SupervisorSpec, parent: Actor | null, link: boolean): Actor;
  dynamic(system: ActorSystem, spec: DynamicSupervisorSpec, parent: Actor | null, link: boolean): Actor;
}

/**
 * The context one start function runs with. It remembers the last child it spawned and that
 * spawn's promise, so that when a start function returns that very promise and the child's
 * `init` already finished synchronously, the supervisor can take the outcome without waiting a
 * turn of the event loop (the common `(ctx) => ctx.spawn(behavior)` costs no extra hop).
 * @internal
 */
export class StartContext implements ChildStartContext {
  lastCell: Actor | null = null;
  lastPromise: Promise<unknown> | null = null;
  /** Set once the start function has settled: spawning later would make an unsupervised actor. */
  closed = false;

  constructor(
    private readonly supervisorCell: Actor,
    private readonly spawners: Spawners,
  ) {}

  get system(): ActorSystem {
    return this.supervisorCell.system;
  }

  get supervisor(): ActorRef {
    return this.supervisorCell;
  }

  spawn<Msg, State, Reply>(behavior: Behavior<Msg, State, Reply>, options?: SpawnOptions): Promise<ActorRef<Msg, Reply> | Ignore> {
    const cell = this.system.spawnActor(behavior, options, this.checkOpen(), true);
    let p: Promise<ActorRef<Msg, Reply> | Ignore>;
    if (cell.initialized) p = Promise.resolve(cell as ActorRef<Msg, Reply>);
    else if (cell.dead) p = this.failedInit(cell);
    else {
      p = cell.whenStarted().then((outcome) => {
        if ('ok' in outcome) return cell as ActorRef<Msg, Reply>;
        if ('ignored' in outcome) return IGNORE;
        throw outcome.error instanceof Error ? outcome.error : new ActorInitError(cell, outcome.error);
      });
    }
    this.lastCell = cell;
    this.lastPromise = p;
    return p;
  }

  startSupervisor(spec: SupervisorSpec): Promise<SupervisorRef> {
    const cell = this.spawners.static(this.system, spec, this.checkOpen(), true);
    return started(cell) as Promise<SupervisorRef>;
  }

  startDynamicSupervisor<Args extends unknown[], Msg = unknown, Reply = unknown>(
    spec: DynamicSupervisorSpec<Args, Msg, Reply>,
  ): Promise<DynamicSupervisorRef<Args, Msg, Reply>> {
    const cell = this.spawners.dynamic(this.system, spec as unknown as DynamicSupervisorSpec, this.checkOpen(), true);
    return started(cell) as Promise<DynamicSupervisorRef<Args, Msg, Reply>>;
  }

  private checkOpen(): Actor {
    if (this.closed) throw new InvalidOptionError('ctx', 'a start context can only be used while its start function runs');
    if (this.supervisorCell.dead) throw new NoProcError(this.supervisorCell);
    return this.supervisorCell;
  }

  private failedInit<T>(cell: Actor): Promise<T | Ignore> {
    const reason = cell.exitReason;
    // An init that returned IGNORE exits `normal`; a failed init exits with its error.
    if (reason === 'normal') return Promise.resolve(IGNORE);
    const p = Promise.reject(reason instanceof Error ? reason : new ActorInitError(cell, reason ?? 'noproc'));
    // The fast path may read the outcome without awaiting this promise: keep it from being reported as unhandled.
    p.catch(() => {});
    return p;
  }
}

/** Waits for a supervisor actor's start; resolves with its handle or rejects with why it failed. @internal */
export async function started(cell: Actor): Promise<unknown> {
  const outcome = await cell.whenStarted();
  if ('ok' in outcome) return handleOf(cell);
  const reason = 'ignored' in outcome ? 'normal' : outcome.error;
  throw reason instanceof Error ? reason : new ActorInitError(cell, reason);
}
