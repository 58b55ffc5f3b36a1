import type { Actor } from '../actors/actor.js';
import type { ActorContext } from '../actors/behavior.js';
import { ActorSystem } from '../actors/system.js';
import { type DynamicSupervisorRef, handleOf, type SupervisorRef } from './refs.js';
import { checkRunning, trackTopLevel } from './root.js';
import { spawners } from './spawn.js';
import type { DynamicSupervisorSpec, SupervisorSpec } from './spec.js';
import { started } from './start-context.js';

function parentOf<M, R>(owner: ActorSystem | ActorContext<M, R>): { system: ActorSystem; parent: Actor | null } {
  if (owner instanceof ActorSystem) {
    checkRunning(owner);
    return { system: owner, parent: null };
  }
  return { system: owner.system, parent: owner.system.cellOf(owner.self) };
}

/**
 * Starts a static supervisor and resolves once every child has started, in order
 * (`supervisor:start_link`).
 *
 * - From the system (`startSupervisor(system, spec)`): a top-level supervisor, not linked to
 *   anything; `system.stop()` stops it in order. An exit signal sent to it from outside any actor
 *   (`system.exit(sup.ref, reason)`) stops it, as its parent's would.
 * - From inside an actor (`startSupervisor(ctx, spec)`): linked to that actor, which is its parent.
 * - As a child of another supervisor: `ctx.startSupervisor(spec)` in a child spec's `start`.
 *
 * Rejects at once with `INVALID_SUPERVISOR_FLAGS` or `INVALID_CHILD_SPEC` naming the bad field;
 * with `CHILD_START_FAILED` (after stopping the children already started, in reverse order) if a
 * child fails to start; with `SYSTEM_STOPPED` once the system is stopping.
 */
export async function startSupervisor<M, R>(owner: ActorSystem | ActorContext<M, R>, spec: SupervisorSpec): Promise<SupervisorRef> {
  const { system, parent } = parentOf(owner);
  const cell = spawners.static(system, spec, parent, parent !== null);
  if (parent === null) trackTopLevel(system, cell);
  return (await started(cell)) as SupervisorRef;
}

/**
 * Starts a dynamic supervisor (OTP's `simple_one_for_one`); it starts no child until
 * `startChild(...args)`. Owners and errors as {@link startSupervisor}.
 *
 * ```ts
 * const rooms = await startDynamicSupervisor(system, {
 *   child: { start: (ctx, roomId: string) => ctx.spawn(room(roomId)), restart: 'transient' },
 *   backoff: { minMs: 100, maxMs: 10_000 },
 *   intensity: 100,
 *   period: 10,
 * });
 * const lobby = await rooms.startChild('lobby');
 * ```
 */
export async function startDynamicSupervisor<Args extends unknown[], Msg = unknown, Reply = unknown, M = unknown, R = unknown>(
  owner: ActorSystem | ActorContext<M, R>,
  spec: DynamicSupervisorSpec<Args, Msg, Reply>,
): Promise<DynamicSupervisorRef<Args, Msg, Reply>> {
  const { system, parent } = parentOf(owner);
  const cell = spawners.dynamic(system, spec as unknown as DynamicSupervisorSpec, parent, parent !== null);
  if (parent === null) trackTopLevel(system, cell);
  return (await started(cell)) as DynamicSupervisorRef<Args, Msg, Reply>;
}

/**
 * Spawns a static supervisor and returns its ref at once, without waiting for its children
 * (`system.spawn` to {@link startSupervisor}'s `system.start`). The children start in the
 * background; calls made meanwhile wait for them. If one fails to start, the supervisor exits
 * with the `CHILD_START_FAILED` error as its reason (watch it with `system.monitor(sup.ref, …)`).
 * Throws at once on an invalid spec, or `SYSTEM_STOPPED`.
 */
export function spawnSupervisor<M, R>(owner: ActorSystem | ActorContext<M, R>, spec: SupervisorSpec): SupervisorRef {
  const { system, parent } = parentOf(owner);
  const cell = spawners.static(system, spec, parent, parent !== null);
  if (parent === null) trackTopLevel(system, cell);
  return handleOf(cell) as SupervisorRef;
}

/**
 * Spawns a dynamic supervisor and returns its ref at once; it starts no children, so it is
 * running when this returns. For code that must not wait (say, a registry creating one per type
 * on first use). Owners and errors as {@link startDynamicSupervisor}, thrown synchronously.
 */
export function spawnDynamicSupervisor<Args extends unknown[], Msg = unknown, Reply = unknown, M = unknown, R = unknown>(
  owner: ActorSystem | ActorContext<M, R>,
  spec: DynamicSupervisorSpec<Args, Msg, Reply>,
): DynamicSupervisorRef<Args, Msg, Reply> {
  const { system, parent } = parentOf(owner);
  const cell = spawners.dynamic(system, spec as unknown as DynamicSupervisorSpec, parent, parent !== null);
  if (parent === null) trackTopLevel(system, cell);
  return handleOf(cell) as DynamicSupervisorRef<Args, Msg, Reply>;
}
