import { afterEach } from 'vitest';
import { type ActorSystem, type ActorSystemOptions, createActorSystem, type InspectionEvent, ManualClock, silentLogger } from '../../src/index.js';

const systems: ActorSystem[] = [];

/**
 * A system on a manual clock, stopped after the test. Silent unless `options.logger` says
 * otherwise: these tests crash actors on purpose, and the default logger would print each crash.
 */
export function testSystem(options: ActorSystemOptions = {}): { system: ActorSystem; clock: ManualClock } {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock();
  const system = createActorSystem({ clock, logger: silentLogger, ...options });
  systems.push(system);
  return { system, clock };
}

afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop();
});

/** Collects inspection events of the given types. */
export function recordEvents(system: ActorSystem, types?: InspectionEvent['type'][]): InspectionEvent[] {
  const events: InspectionEvent[] = [];
  system.events.subscribe((e) => events.push(e), types);
  return events;
}

/** A promise plus its resolver. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
