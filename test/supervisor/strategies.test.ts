import { describe, expect, it } from 'vitest';
import { startSupervisor } from '../../src/index.js';
import { child, crash, exitWith, refs, statuses, testSystem } from './support.js';

describe('strategies', () => {
  it('one-for-one restarts only the child that crashed', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { strategy: 'one-for-one', children: [child('a', log), child('b', log), child('c', log)] });
    const before = await refs(sup);
    log.length = 0;
    await crash(system, before.b);
    const after = await refs(sup);
    expect(after.a).toBe(before.a);
    expect(after.c).toBe(before.c);
    expect(after.b).not.toBe(before.b);
    expect(after.b?.alive).toBe(true);
    expect(log).toEqual(['stop:b', 'start:b']); // stop:b is the crashed worker's own terminate
  });

  it('one-for-one is the default strategy', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('a'), child('b')] });
    const before = await refs(sup);
    await crash(system, before.a);
    const after = await refs(sup);
    expect(after.b).toBe(before.b);
    expect(after.a).not.toBe(before.a);
  });

  it('one-for-all stops the others in reverse start order, then starts all in order', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { strategy: 'one-for-all', children: [child('a', log), child('b', log), child('c', log), child('d', log)] });
    const before = await refs(sup);
    log.length = 0;
    await crash(system, before.b);
    expect(log).toEqual(['stop:b', 'stop:d', 'stop:c', 'stop:a', 'start:a', 'start:b', 'start:c', 'start:d']);
    const after = await refs(sup);
    for (const id of ['a', 'b', 'c', 'd']) {
      expect(after[id]).not.toBe(before[id]);
      expect(before[id]?.alive).toBe(false);
    }
  });

  it('rest-for-one restarts the crashed child and those started after it', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { strategy: 'rest-for-one', children: [child('a', log), child('b', log), child('c', log), child('d', log)] });
    const before = await refs(sup);
    log.length = 0;
    await crash(system, before.b);
    expect(log).toEqual(['stop:b', 'stop:d', 'stop:c', 'start:b', 'start:c', 'start:d']);
    const after = await refs(sup);
    expect(after.a).toBe(before.a);
    for (const id of ['b', 'c', 'd']) expect(after[id]).not.toBe(before[id]);
  });

  it('rest-for-one with the last child crashing restarts only it', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { strategy: 'rest-for-one', children: [child('a'), child('b')] });
    const before = await refs(sup);
    await crash(system, before.b);
    const after = await refs(sup);
    expect(after.a).toBe(before.a);
    expect(after.b).not.toBe(before.b);
  });

  it('one-for-all also starts siblings that were not running (as OTP: terminated or exited normally)', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      strategy: 'one-for-all',
      intensity: 10,
      children: [child('a'), child('b'), child('c', undefined, { restart: 'transient' })],
    });
    await sup.terminateChild('b');
    await exitWith(system, (await refs(sup)).c, 'normal');
    expect(await statuses(sup)).toEqual({ a: 'running', b: 'stopped', c: 'stopped' });
    await crash(system, (await refs(sup)).a);
    expect(await statuses(sup)).toEqual({ a: 'running', b: 'running', c: 'running' });
  });

  it('a temporary sibling stopped by one-for-all is not restarted and its spec is forgotten', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, {
      strategy: 'one-for-all',
      children: [child('a', log), child('t', log, { restart: 'temporary' }), child('c', log)],
    });
    const before = await refs(sup);
    log.length = 0;
    await crash(system, before.a);
    expect(log).toEqual(['stop:a', 'stop:c', 'stop:t', 'start:a', 'start:c']);
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['a', 'c']);
    expect(before.t?.alive).toBe(false);
  });

  it('a temporary child after the crashed one in rest-for-one is forgotten too', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      strategy: 'rest-for-one',
      children: [child('a'), child('b'), child('t', undefined, { restart: 'temporary' }), child('c')],
    });
    await crash(system, (await refs(sup)).b);
    expect(await statuses(sup)).toEqual({ a: 'running', b: 'running', c: 'running' });
  });

  it('a child that is not restarted does not make one-for-all restart its siblings', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      strategy: 'one-for-all',
      children: [child('a'), child('tr', undefined, { restart: 'transient' }), child('tmp', undefined, { restart: 'temporary' })],
    });
    const before = await refs(sup);
    await exitWith(system, before.tr, 'shutdown');
    await crash(system, before.tmp);
    const after = await refs(sup);
    expect(after.a).toBe(before.a);
    expect(await statuses(sup)).toEqual({ a: 'running', tr: 'stopped' });
  });
});
