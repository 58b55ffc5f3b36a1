import { describe, expect, it } from 'vitest';
import { type ActorRef, LocalRegistry, type Registry } from '../../src/index.js';
import { testSystem } from './support.js';

const noop = { receive: (s: undefined) => s };

describe('names', () => {
  it('registers, looks up and releases names when the actor dies', async () => {
    const { system } = testSystem();
    const ref = system.spawn(noop, { name: 'counter' });
    expect(ref.name).toBe('counter');
    expect(system.whereis('counter')).toBe(ref);
    expect(String(ref)).toBe(`counter<${ref.id}>`);
    await ref.stop();
    expect(system.whereis('counter')).toBeUndefined();
    const again = system.spawn(noop, { name: 'counter' });
    expect(system.whereis('counter')).toBe(again);
  });

  it('names are unique among live actors: NAME_TAKEN', () => {
    const { system } = testSystem();
    system.spawn(noop, { name: 'x' });
    expect(() => system.spawn(noop, { name: 'x' })).toThrow(expect.objectContaining({ code: 'NAME_TAKEN', actorName: 'x' }));
    expect(system.actorCount).toBe(1);
  });

  it('rejects empty names', () => {
    const { system } = testSystem();
    expect(() => system.spawn(noop, { name: '' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', field: 'name' }));
  });

  it('uses a pluggable registry', async () => {
    const calls: string[] = [];
    const inner = new LocalRegistry();
    const registry: Registry = {
      register: (n: string, r: ActorRef) => (calls.push(`register ${n}`), inner.register(n, r)),
      unregister: (n: string, r: ActorRef) => (calls.push(`unregister ${n}`), inner.unregister(n, r)),
      whereis: (n: string) => inner.whereis(n),
      names: () => inner.names(),
    };
    const { system } = testSystem({ registry });
    const ref = system.spawn(noop, { name: 'svc' });
    expect(system.whereis('svc')).toBe(ref);
    await ref.stop();
    expect(calls).toEqual(['register svc', 'unregister svc']);
  });

  it('refs from another system are refused with INVALID_OPTION', () => {
    const { system: a } = testSystem();
    const { system: b } = testSystem();
    const ref = a.spawn(noop);
    expect(() => b.kill(ref)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', field: 'ref' }));
  });
});
