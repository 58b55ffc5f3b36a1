import { describe, expect, it } from 'vitest';
import { startSupervisor } from '../../src/index.js';
import { child, crash, exitWith, recordEvents, refs, statuses, supervisorEvents, testSystem } from './support.js';

describe('significant children and auto shutdown', () => {
  it('rejects a significant permanent child, and significant children under autoShutdown never', async () => {
    const { system } = testSystem();
    await expect(
      startSupervisor(system, { autoShutdown: 'any-significant', children: [child('a', undefined, { significant: true })] }),
    ).rejects.toMatchObject({ code: 'INVALID_CHILD_SPEC', field: 'significant', childId: 'a' });
    await expect(
      startSupervisor(system, { children: [child('a', undefined, { significant: true, restart: 'transient' })] }),
    ).rejects.toMatchObject({ code: 'INVALID_CHILD_SPEC', field: 'significant' });
    expect(system.actorCount).toBe(0);
  });

  it('any-significant: a significant transient child exiting normally shuts the supervisor down', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const events = recordEvents(system);
    const sup = await startSupervisor(system, {
      autoShutdown: 'any-significant',
      children: [child('a', log), child('s', log, { restart: 'transient', significant: true }), child('c', log)],
    });
    const r = await refs(sup);
    log.length = 0;
    await exitWith(system, r.s, 'normal');
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
    expect(log).toEqual(['stop:s', 'stop:c', 'stop:a']);
    expect(supervisorEvents(events).map((e) => e.type)).toContain('supervisor.auto-shutdown');
  });

  it('any-significant: a significant transient child that crashes is restarted instead', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { autoShutdown: 'any-significant', children: [child('s', undefined, { restart: 'transient', significant: true })] });
    const before = (await refs(sup)).s;
    await crash(system, before);
    expect(sup.alive).toBe(true);
    expect((await refs(sup)).s).not.toBe(before);
  });

  it('a significant temporary child triggers it even when it crashes', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { autoShutdown: 'any-significant', children: [child('a'), child('t', undefined, { restart: 'temporary', significant: true })] });
    await crash(system, (await refs(sup)).t);
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
  });

  it('all-significant: only when the last running significant child exits', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      autoShutdown: 'all-significant',
      children: [child('a'), child('s1', undefined, { restart: 'transient', significant: true }), child('s2', undefined, { restart: 'temporary', significant: true })],
    });
    const r = await refs(sup);
    await exitWith(system, r.s1, 'shutdown');
    expect(sup.alive).toBe(true);
    expect(await statuses(sup)).toEqual({ a: 'running', s1: 'stopped', s2: 'running' });
    await exitWith(system, r.s2, 'normal');
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
  });

  it('terminating a significant child through the API does not shut the supervisor down', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { autoShutdown: 'any-significant', children: [child('a'), child('s', undefined, { restart: 'transient', significant: true })] });
    await sup.terminateChild('s');
    await system.whenIdle();
    expect(sup.alive).toBe(true);
  });

  it('a non-significant child exiting does not count', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      autoShutdown: 'any-significant',
      children: [child('t', undefined, { restart: 'transient' }), child('s', undefined, { restart: 'transient', significant: true })],
    });
    await exitWith(system, (await refs(sup)).t, 'normal');
    expect(sup.alive).toBe(true);
  });

  it('a significant child stopped by a sibling’s one-for-all restart does not count', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      strategy: 'one-for-all',
      autoShutdown: 'any-significant',
      children: [child('a'), child('s', undefined, { restart: 'transient', significant: true })],
    });
    await crash(system, (await refs(sup)).a);
    expect(sup.alive).toBe(true);
    expect(await statuses(sup)).toEqual({ a: 'running', s: 'running' });
  });
});
