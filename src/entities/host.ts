import type { Actor } from '../actors/actor.js';
import type { ExitReason } from '../actors/exit-reason.js';
import type { Region } from './region.js';
import type { Slot } from './slot.js';

/**
 * Starts, restarts and stops the actors that serve entities. The region decides *that* an entity
 * needs an actor; the host decides how it is spawned and supervised. It must call
 * `region.attach(slot, actor)` for every actor it starts (also for restarts), and
 * `region.actorExited(slot, actor, reason)` when one exits.
 * @internal
 */
export interface EntityHost {
  start(region: Region, slot: Slot): void;
  /** The entity crashed: bring it back (after a backoff). */
  restart(region: Region, slot: Slot, reason: ExitReason): void;
  /** Stops every actor it started. */
  stop(): Promise<void>;
}

/** Exponential backoff with jitter, as Akka's BackoffSupervisor computes it. @internal */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, randomFactor: number, random: () => number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return base * (1 + random() * randomFactor);
}

/** Keeps the actors it started so that `stop` can stop them. @internal */
export function trackExit(actor: Actor, region: Region, slot: Slot, live: Set<Actor>): void {
  live.add(actor);
  actor.onExit((reason) => {
    live.delete(actor);
    region.actorExited(slot, actor, reason);
  });
}
