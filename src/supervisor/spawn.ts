import type { Actor } from '../actors/actor.js';
import type { SpawnOptions } from '../actors/behavior.js';
import type { ActorSystem } from '../actors/system.js';
import { DynamicSupervisor } from './dynamic-supervisor.js';
import { DynamicSupervisorRef, registerHandle, SupervisorRef } from './refs.js';
import { resolveDynamicSpec, resolveStaticSpec } from './spec.js';
import type { Spawners } from './start-context.js';
import { StaticSupervisor } from './supervisor.js';

const TRAP: SpawnOptions = { trapExit: true };

function options(name: string | undefined): SpawnOptions {
  return name === undefined ? TRAP : { name, trapExit: true };
}

/**
 * Spawns supervisor actors: validates the spec (throwing `INVALID_SUPERVISOR_FLAGS` or
 * `INVALID_CHILD_SPEC`), spawns the actor trapping exits, and registers its ref. The actor's
 * `init` starts the children; wait for it with `started(cell)`.
 * @internal
 */
export const spawners: Spawners = {
  static(system: ActorSystem, spec, parent: Actor | null, link: boolean): Actor {
    const resolved = resolveStaticSpec(spec);
    const core = new StaticSupervisor(system, resolved, spawners);
    const cell = system.spawnActor(core.behavior(), options(resolved.name), parent, link);
    registerHandle(new SupervisorRef(cell));
    return cell;
  },
  dynamic(system: ActorSystem, spec, parent: Actor | null, link: boolean): Actor {
    const resolved = resolveDynamicSpec(spec);
    const core = new DynamicSupervisor(system, resolved, spawners);
    const cell = system.spawnActor(core.behavior(), options(resolved.name), parent, link);
    registerHandle(new DynamicSupervisorRef(cell));
    return cell;
  },
};
