import type { Actor } from '../actors/actor.js';
import { SystemStoppedError } from '../actors/errors.js';
import type { ActorSystem } from '../actors/system.js';
import { handleOf, type SupervisorRef } from './refs.js';
import { spawners } from './spawn.js';

/** What a system knows about its supervision trees. */
interface Supervision {
  /** Supervisors started from outside any actor (the root among them), in start order. */
  readonly topLevel: Set<Actor>;
  root: SupervisorRef | null;
  stopping: boolean;
}

const bySystem = new WeakMap<ActorSystem, Supervision>();

function supervisionOf(system: ActorSystem): Supervision {
  let s = bySystem.get(system);
  if (s === undefined) {
    const created: Supervision = { topLevel: new Set(), root: null, stopping: false };
    bySystem.set(system, created);
    // `system.stop()` runs this before it stops the remaining actors, so each tree comes down in
    // order (children in reverse start order, subtrees first) instead of all at once.
    system.onStop(() => stopTrees(created));
    s = created;
  }
  return s;
}

/** Stops the top-level supervisors, newest first, each taking its whole tree down in order. */
async function stopTrees(s: Supervision): Promise<void> {
  s.stopping = true;
  for (const cell of [...s.topLevel].reverse()) await cell.stop('shutdown');
}

/**
 * Makes sure the system's supervision stop hook is registered now. A layer that must stop before
 * the supervision trees (the entity runtime drains its commands first) calls this before
 * registering its own hook, since hooks run newest first. @internal
 */
export function ensureSupervision(system: ActorSystem): void {
  supervisionOf(system);
}

/** Throws `SYSTEM_STOPPED` once the system is stopping: a tree started now would escape its ordered stop. @internal */
export function checkRunning(system: ActorSystem): void {
  if (system.stopped || bySystem.get(system)?.stopping === true) throw new SystemStoppedError();
}

/** Records a supervisor started from outside any actor, so `system.stop()` stops it in order. @internal */
export function trackTopLevel(system: ActorSystem, cell: Actor): void {
  const s = supervisionOf(system);
  s.topLevel.add(cell);
  cell.onExit(() => s.topLevel.delete(cell));
}

/**
 * The system's root supervisor: a one-for-one supervisor with OTP's default intensity (1 restart
 * in 5 s), created on first use. Hang long-lived subtrees on it with `startChild`, so the whole
 * application is one tree. `system.stop()` stops it (and every other top-level supervisor, newest
 * first) before any other actor, each tree in order. If the root gives up (intensity exceeded),
 * the next call creates a new one. Throws `SYSTEM_STOPPED` once the system is stopping.
 */
export function rootSupervisor(system: ActorSystem): SupervisorRef {
  const s = supervisionOf(system);
  if (s.root !== null && s.root.alive) return s.root;
  checkRunning(system);
  const cell = spawners.static(system, { strategy: 'one-for-one' }, null, false);
  trackTopLevel(system, cell);
  s.root = handleOf(cell) as SupervisorRef;
  return s.root;
}
