import { describe, expect, it } from 'vitest';
import { type Behavior, IGNORE, rootSupervisor, spawnDynamicSupervisor, spawnSupervisor, startDynamicSupervisor, startSupervisor } from '../../src/index.js';
import { child, crash, refs, testSystem, worker } from './support.js';

/** A plain actor that logs its terminate. */
function plain(tag: string, log: string[]): Behavior<unknown, undefined> {
  return {
    init(ctx) {
      ctx.trapExit = true;
      return undefined;
    },
    receive: (s) => s,
    terminate() {
      log.push(`stop:${tag}`);
    },
  };
}

describe('root supervisor and system.stop', () => {
  it('the root supervisor is created once, is one-for-one, and takes children', async () => {
    const { system } = testSystem();
    const root = rootSupervisor(system);
    expect(rootSupervisor(system)).toBe(root);
    await root.startChild(child('a'));
    await root.startChild(child('b'));
    const before = await refs(root);
    await crash(system, before.a);
    const after = await refs(root);
    expect(after.b).toBe(before.b);
    expect(after.a).not.toBe(before.a);
  });

  it('system.stop() takes each tree down in order before any other actor', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    system.spawn(plain('early-plain', log));
    const root = rootSupervisor(system);
    await root.startChild(child('r1', log));
    await root.startChild({
      id: 'sub',
      type: 'supervisor',
      start: (ctx) => ctx.startSupervisor({ children: [child('s1', log), child('s2', log)] }),
    });
    await root.startChild(child('r2', log));
    const other = await startSupervisor(system, { children: [child('o1', log), child('o2', log)] });
    system.spawn(plain('late-plain', log));
    log.length = 0;
    await system.stop();
    // Top-level supervisors newest first, each tree in reverse start order; then the rest.
    expect(log).toEqual(['stop:o2', 'stop:o1', 'stop:r2', 'stop:s2', 'stop:s1', 'stop:r1', 'stop:late-plain', 'stop:early-plain']);
    expect(other.alive).toBe(false);
    expect(system.actorCount).toBe(0);
  });

  it('nothing is restarted while the system stops', async () => {
    const { system } = testSystem();
    const sup = await startDynamicSupervisor(system, { intensity: 1000, child: { start: (ctx, n: number) => ctx.spawn(worker(String(n), undefined, { trap: true })) } });
    for (let i = 0; i < 50; i++) await sup.startChild(i);
    await system.stop();
    expect(system.actorCount).toBe(0);
    expect(system.stopped).toBe(true);
  });

  it('no supervisor can be started once the system is stopping', async () => {
    const { system } = testSystem();
    rootSupervisor(system);
    await system.stop();
    await expect(startSupervisor(system, {})).rejects.toMatchObject({ code: 'SYSTEM_STOPPED' });
    expect(() => rootSupervisor(system)).toThrow(expect.objectContaining({ code: 'SYSTEM_STOPPED' }));
  });

  it('a root that gave up is replaced by the next call', async () => {
    const { system } = testSystem();
    const root = rootSupervisor(system);
    await root.startChild(child('a'));
    await crash(system, (await refs(root)).a);
    await crash(system, (await refs(root)).a);
    expect(root.alive).toBe(false);
    const next = rootSupervisor(system);
    expect(next).not.toBe(root);
    expect(next.alive).toBe(true);
  });

  it('an exit signal from outside stops a top-level supervisor as its parent’s would', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { children: [child('a', log), child('b', log)] });
    log.length = 0;
    system.exit(sup.ref, 'shutdown');
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
    expect(log).toEqual(['stop:b', 'stop:a']);
  });

  it('startSupervisor from inside an actor links the supervisor to it as its parent', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const owner = system.spawn<'go', undefined>({
      async receive(s, _m, ctx) {
        await startSupervisor(ctx, { children: [child('a', log)] });
        return s;
      },
    });
    owner.tell('go');
    await system.whenIdle();
    expect(log).toEqual(['start:a']);
    await owner.stop('shutdown');
    await system.whenIdle();
    expect(log).toEqual(['start:a', 'stop:a']);
    expect(system.actorCount).toBe(0);
  });
});

describe('spawning without waiting', () => {
  it('spawnDynamicSupervisor returns a running supervisor at once; a bad spec throws at once', async () => {
    const { system } = testSystem();
    const sup = spawnDynamicSupervisor(system, { child: { start: (ctx, n: number) => ctx.spawn(worker(`w${n}`)) } });
    expect(sup.alive).toBe(true);
    expect(await (await sup.startChild(1))?.ask('ping')).toBe('pong:w1');
    expect(() => spawnDynamicSupervisor(system, { child: { start: () => IGNORE }, intensity: -1 })).toThrow(expect.objectContaining({ field: 'intensity' }));
  });

  it('spawnSupervisor starts children in the background; calls wait for them', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = spawnSupervisor(system, { children: [child('a', log), child('b', log)] });
    expect((await sup.whichChildren()).map((c) => c.status)).toEqual(['running', 'running']);
    expect(log).toEqual(['start:a', 'start:b']);
  });

  it('a supervisor spawned without waiting exits with the start failure', async () => {
    const { system } = testSystem();
    const sup = spawnSupervisor(system, { children: [child('a'), { id: 'bad', start: () => Promise.reject(new Error('no')) }] });
    expect(await system.awaitExit(sup.ref)).toMatchObject({ code: 'CHILD_START_FAILED', childId: 'bad' });
    expect(system.actorCount).toBe(0);
  });

  it('supervisors spawned without waiting are stopped in order by system.stop()', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    spawnSupervisor(system, { children: [child('a', log)] });
    await spawnDynamicSupervisor(system, { child: { start: (ctx) => ctx.spawn(worker('d', log, { trap: true })) } }).startChild();
    await system.stop();
    expect(log).toEqual(['start:a', 'start:d', 'stop:d', 'stop:a']);
  });
});
