import { describe, expect, it } from 'vitest';
import { type ActorRef, IGNORE, type SupervisorEvent, startDynamicSupervisor } from '../../src/index.js';
import { deferred, type WorkerMsg, testSystem, worker } from './support.js';

type Ref = ActorRef<WorkerMsg, string>;

describe('dynamic supervisors', () => {
  it('starts children with arguments; they are told apart by ref', async () => {
    const { system } = testSystem();
    const sup = await startDynamicSupervisor(system, { child: { start: (ctx, room: string, n: number) => ctx.spawn(worker(`${room}-${n}`)) } });
    const a = (await sup.startChild('lobby', 1)) as Ref;
    const b = (await sup.startChild('lobby', 2)) as Ref;
    expect(await a.ask('ping')).toBe('pong:lobby-1');
    expect(await b.ask('ping')).toBe('pong:lobby-2');
    const which = await sup.whichChildren();
    expect(which).toEqual([
      { id: undefined, status: 'running', ref: a, type: 'worker' },
      { id: undefined, status: 'running', ref: b, type: 'worker' },
    ]);
    expect(await sup.countChildren()).toEqual({ specs: 1, active: 2, supervisors: 0, workers: 2 });
  });

  it('restarts a crashed child with the same arguments, reporting the instance it replaces', async () => {
    const { system } = testSystem();
    const events: SupervisorEvent[] = [];
    const sup = await startDynamicSupervisor(system, {
      intensity: 10,
      child: { start: (ctx, name: string) => ctx.spawn(worker(name)) },
      onEvent: (e) => events.push(e),
    });
    const a = (await sup.startChild('a')) as Ref;
    const b = (await sup.startChild('b')) as Ref;
    a.tell({ crash: 'boom' });
    await system.whenIdle();
    const now = (await sup.whichChildren()).map((c) => c.ref as Ref);
    expect(now).toHaveLength(2);
    expect(now).toContain(b);
    expect(now).not.toContain(a);
    const a2 = now.find((r) => r !== b) as Ref;
    expect(await a2!.ask('ping')).toBe('pong:a');
    expect(events.find((e) => e.type === 'supervisor.child-restarted')).toMatchObject({ childId: undefined, child: a2, previous: a });
  });

  it('transient children stay gone after a normal exit; temporary ones after anything', async () => {
    const { system } = testSystem();
    const transient = await startDynamicSupervisor(system, { child: { start: (ctx) => ctx.spawn(worker('t')), restart: 'transient' } });
    const temporary = await startDynamicSupervisor(system, { child: { start: (ctx) => ctx.spawn(worker('x')), restart: 'temporary' } });
    ((await transient.startChild()) as Ref).tell({ exit: 'normal' });
    ((await temporary.startChild()) as Ref).tell({ crash: 'boom' });
    await system.whenIdle();
    expect(await transient.countChildren()).toMatchObject({ active: 0, workers: 0 });
    expect(await temporary.countChildren()).toMatchObject({ active: 0, workers: 0 });
  });

  it('terminateChild stops and forgets a child; a dead ref is fine, a live stranger is not found', async () => {
    const { system } = testSystem();
    const sup = await startDynamicSupervisor(system, { child: { start: (ctx) => ctx.spawn(worker('w', undefined, { trap: true })) } });
    const a = (await sup.startChild()) as Ref;
    await sup.terminateChild(a);
    expect(a.alive).toBe(false);
    expect(await system.awaitExit(a)).toBe('shutdown');
    expect(await sup.whichChildren()).toEqual([]);
    await sup.terminateChild(a);
    const stranger = system.spawn(worker('s'));
    await expect(sup.terminateChild(stranger)).rejects.toMatchObject({ code: 'CHILD_NOT_FOUND' });
  });

  it('terminating a child whose restart is pending cancels the restart', async () => {
    const { system, clock } = testSystem();
    const sup = await startDynamicSupervisor(system, {
      child: { start: (ctx) => ctx.spawn(worker('w')), backoff: { minMs: 1000, maxMs: 1000, randomFactor: 0 } },
    });
    const a = (await sup.startChild()) as Ref;
    a.tell({ crash: 'boom' });
    await system.whenIdle();
    expect((await sup.whichChildren()).map((c) => c.status)).toEqual(['restarting']);
    await sup.terminateChild(a);
    clock.advance(5000);
    await system.whenIdle();
    expect(await sup.whichChildren()).toEqual([]);
  });

  it('stops all children in parallel when it stops', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const gate = deferred();
    const sup = await startDynamicSupervisor(system, {
      child: { start: (ctx, n: number) => ctx.spawn(worker(`c${n}`, log, { trap: true, onTerminate: () => gate.promise })), shutdown: 'infinity' },
    });
    for (let i = 0; i < 5; i++) await sup.startChild(i);
    log.length = 0;
    const stopped = sup.stop();
    await system.whenIdle();
    expect(log.sort()).toEqual(['stop:c0', 'stop:c1', 'stop:c2', 'stop:c3', 'stop:c4']); // all asked at once
    gate.resolve();
    await stopped;
    expect(system.actorCount).toBe(0);
  });

  it('one shutdown timer for the whole group kills whoever is left', async () => {
    const { system, clock } = testSystem();
    const sup = await startDynamicSupervisor(system, {
      child: {
        start: (ctx, slow: boolean) => ctx.spawn(worker('w', undefined, { trap: true, onTerminate: slow ? () => new Promise(() => {}) : undefined })),
        shutdown: 1000,
      },
    });
    const fast = (await sup.startChild(false)) as Ref;
    const slow = (await sup.startChild(true)) as Ref;
    const stopped = sup.stop();
    await system.whenIdle();
    expect(fast.alive).toBe(false);
    expect(slow.alive).toBe(true);
    clock.advance(1000);
    await stopped;
    expect(await system.awaitExit(slow)).toBe('killed');
  });

  it('brutal-kill kills every child at once', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startDynamicSupervisor(system, { child: { start: (ctx) => ctx.spawn(worker('w', log, { trap: true })), shutdown: 'brutal-kill' } });
    const a = (await sup.startChild()) as Ref;
    await sup.stop();
    expect(await system.awaitExit(a)).toBe('killed');
    expect(log).toEqual(['start:w']);
  });

  it('maxChildren caps the number of children', async () => {
    const { system } = testSystem();
    const sup = await startDynamicSupervisor(system, { maxChildren: 2, child: { start: (ctx) => ctx.spawn(worker('w')) } });
    await sup.startChild();
    const b = (await sup.startChild()) as Ref;
    await expect(sup.startChild()).rejects.toMatchObject({ code: 'MAX_CHILDREN', maxChildren: 2 });
    await sup.terminateChild(b);
    expect(await sup.startChild()).toBeDefined();
  });

  it('a start that returns IGNORE adds nothing; one that fails rejects with CHILD_START_FAILED', async () => {
    const { system } = testSystem();
    const sup = await startDynamicSupervisor(system, {
      child: { start: (ctx, mode: 'ignore' | 'fail' | 'ok') => (mode === 'ignore' ? IGNORE : mode === 'fail' ? Promise.reject(new Error('no')) : ctx.spawn(worker('w'))) },
    });
    expect(await sup.startChild('ignore')).toBeUndefined();
    await expect(sup.startChild('fail')).rejects.toMatchObject({ code: 'CHILD_START_FAILED', childId: undefined });
    expect(await sup.startChild('ok')).toBeDefined();
    expect(await sup.countChildren()).toMatchObject({ active: 1 });
  });

  it('restart intensity counts restarts across all children', async () => {
    const { system } = testSystem();
    const sup = await startDynamicSupervisor(system, { intensity: 2, child: { start: (ctx) => ctx.spawn(worker('w')) } });
    const kids = [(await sup.startChild()) as Ref, (await sup.startChild()) as Ref, (await sup.startChild()) as Ref];
    kids[0]!.tell({ crash: '1' });
    kids[1]!.tell({ crash: '2' });
    await system.whenIdle();
    expect(sup.alive).toBe(true);
    kids[2]!.tell({ crash: '3' });
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
    expect(system.actorCount).toBe(0);
  });

  it('all-significant: shuts down when its last child exits on its own', async () => {
    const { system } = testSystem();
    const sup = await startDynamicSupervisor(system, {
      autoShutdown: 'all-significant',
      child: { start: (ctx) => ctx.spawn(worker('w')), restart: 'transient', significant: true },
    });
    const a = (await sup.startChild()) as Ref;
    const b = (await sup.startChild()) as Ref;
    a.tell({ exit: 'normal' });
    await system.whenIdle();
    expect(sup.alive).toBe(true);
    b.tell({ exit: 'normal' });
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
  });

  it('startChild is typed by the start function', async () => {
    const { system } = testSystem();
    const sup = await startDynamicSupervisor(system, { child: { start: (ctx, n: number) => ctx.spawn(worker(String(n))) } });
    // @ts-expect-error the argument is a number
    await sup.startChild('one').catch(() => undefined);
    const ref = await sup.startChild(1);
    expect(await ref?.ask('ping')).toBe('pong:1');
  });
});
