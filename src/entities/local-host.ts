import type { Actor } from '../actors/actor.js';
import type { ExitReason } from '../actors/exit-reason.js';
import { backoffDelay, type EntityHost, trackExit } from './host.js';
import type { Region } from './region.js';
import type { EntityRuntime } from './runtime.js';
import type { Slot } from './slot.js';

/**
 * Spawns entity actors directly in the system and restarts crashed ones after a backoff.
 * @internal
 */
export class LocalHost implements EntityHost {
  private readonly live = new Set<Actor>();

  constructor(
    private readonly runtime: EntityRuntime,
    private readonly random: () => number = Math.random,
  ) {}

  start(region: Region, slot: Slot): void {
    const actor = region.spawnFor(slot, (behavior) => this.runtime.system.spawnActor(behavior, undefined, null, false));
    if (actor.dead) {
      region.attach(slot, actor);
      region.actorExited(slot, actor, actor.exitReason as ExitReason);
      return;
    }
    region.attach(slot, actor);
    trackExit(actor, region, slot, this.live);
  }

  restart(region: Region, slot: Slot): void {
    const clock = this.runtime.system.clock;
    const { minMs, maxMs, randomFactor } = region.settings.backoff;
    const now = clock.now();
    if (now - slot.lastRestartAt > maxMs * 10) slot.restarts = 0;
    const delay = backoffDelay(slot.restarts++, minMs, maxMs, randomFactor, this.random);
    slot.lastRestartAt = now;
    clock.setTimeout(() => {
      if (!slot.detached && slot.actor === null && !this.runtime.stopping) this.start(region, slot);
    }, delay);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.live].map((a) => a.stop('shutdown')));
  }
}
