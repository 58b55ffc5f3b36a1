import { describe, expect, it } from 'vitest';
import { type InspectionEvent } from '../../src/index.js';
import { recordEvents, testSystem } from './support.js';

describe('inspection stream', () => {
  it('reports spawned and stopped with the reason', async () => {
    const { system } = testSystem();
    const events = recordEvents(system, ['actor.spawned', 'actor.stopped']);
    const parent = system.spawn<string, undefined>({
      receive(s, _m, ctx) {
        ctx.spawn({ receive: (st: undefined) => st });
        return s;
      },
    });
    parent.tell('spawn a child');
    await system.whenIdle();
    await parent.stop('shutdown');
    expect(events.map((e) => e.type)).toEqual(['actor.spawned', 'actor.spawned', 'actor.stopped']);
    expect(events[1]).toMatchObject({ type: 'actor.spawned', parent });
    expect(events[2]).toEqual({ type: 'actor.stopped', actor: parent, reason: 'shutdown' });
  });

  it('builds no event when nobody listens, and stops delivering after unsubscribe', async () => {
    const { system } = testSystem();
    expect(system.events.active).toBe(false);
    const seen: InspectionEvent[] = [];
    const off = system.events.subscribe((e) => seen.push(e));
    expect(system.events.active).toBe(true);
    system.spawn({ receive: (s: undefined) => s });
    off();
    expect(system.events.active).toBe(false);
    system.spawn({ receive: (s: undefined) => s });
    expect(seen).toHaveLength(1);
  });

  it('a throwing listener does not disturb the system or other listeners', async () => {
    const { system } = testSystem();
    const seen: string[] = [];
    system.events.subscribe(() => {
      throw new Error('bad listener');
    });
    system.events.subscribe((e) => seen.push(e.type));
    const ref = system.spawn({ receive: (s: undefined) => s });
    await ref.stop();
    expect(seen).toEqual(['actor.spawned', 'actor.stopped']);
  });

  it('supports `using` for subscriptions', () => {
    const { system } = testSystem();
    {
      using _sub = system.events.subscribe(() => {});
      expect(system.events.active).toBe(true);
    }
    expect(system.events.active).toBe(false);
  });
});
