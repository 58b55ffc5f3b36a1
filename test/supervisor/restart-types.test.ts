import { describe, expect, it } from 'vitest';
import { type ExitReason, startSupervisor } from '../../src/index.js';
import { child, crash, exitWith, refs, statuses, testSystem } from './support.js';

const normalExits: ExitReason[] = ['normal', 'shutdown', { shutdown: 'done' }];

describe('restart types', () => {
  it.each([...normalExits, new Error('crash')])('permanent: restarted after exiting with %s', async (reason) => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('p')] });
    const before = (await refs(sup)).p;
    await exitWith(system, before, reason);
    const after = (await refs(sup)).p;
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it.each(normalExits)('transient: not restarted after %s, spec kept', async (reason) => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('t', undefined, { restart: 'transient' })] });
    await exitWith(system, (await refs(sup)).t, reason);
    expect(await statuses(sup)).toEqual({ t: 'stopped' });
    expect(await sup.countChildren()).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 1 });
  });

  it('transient: restarted after a crash or a kill', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { intensity: 5, children: [child('t', undefined, { restart: 'transient' })] });
    const first = (await refs(sup)).t;
    await crash(system, first);
    const second = (await refs(sup)).t;
    expect(second).not.toBe(first);
    system.kill(second!);
    await system.whenIdle();
    const third = (await refs(sup)).t;
    expect(third).toBeDefined();
    expect(third).not.toBe(second);
  });

  it.each([...normalExits, new Error('crash')])('temporary: never restarted (%s) and its spec is forgotten', async (reason) => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('tmp', undefined, { restart: 'temporary' }), child('p')] });
    await exitWith(system, (await refs(sup)).tmp, reason);
    expect(await statuses(sup)).toEqual({ p: 'running' });
    await expect(sup.restartChild('tmp')).rejects.toMatchObject({ code: 'CHILD_NOT_FOUND' });
  });

  it('a child exit that is not restarted does not count toward intensity', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      intensity: 0,
      children: [child('t', undefined, { restart: 'transient' }), child('tmp', undefined, { restart: 'temporary' })],
    });
    const r = await refs(sup);
    await exitWith(system, r.t, 'normal');
    await crash(system, r.tmp);
    expect(sup.alive).toBe(true);
  });
});
