import { describe, expect, it } from 'vitest';
import { AlreadyStartedError, IGNORE, startSupervisor } from '../../src/index.js';
import { child, crash, deferred, refs, statuses, testSystem, worker } from './support.js';

describe('child administration', () => {
  it('startChild starts a new child after the others; it is stopped first', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { children: [child('a', log)] });
    const b = await sup.startChild(child('b', log));
    expect(b?.alive).toBe(true);
    expect(await b!.ask('ping')).toBe('pong:b');
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['a', 'b']);
    log.length = 0;
    await sup.stop();
    expect(log).toEqual(['stop:b', 'stop:a']);
  });

  it('startChild with the id of a running child: ALREADY_STARTED naming it; of a stopped one: ALREADY_PRESENT', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('a'), child('b')] });
    const a = (await refs(sup)).a;
    const err = await sup.startChild(child('a')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlreadyStartedError);
    expect(err).toMatchObject({ code: 'ALREADY_STARTED', childId: 'a', ref: a });
    await sup.terminateChild('b');
    await expect(sup.startChild(child('b'))).rejects.toMatchObject({ code: 'ALREADY_PRESENT', childId: 'b' });
  });

  it('startChild validates the spec', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [] });
    await expect(sup.startChild({ ...child('x'), restart: 'sometimes' as never })).rejects.toMatchObject({ code: 'INVALID_CHILD_SPEC', field: 'restart' });
    expect(await sup.whichChildren()).toEqual([]);
  });

  it('startChild whose start fails rejects with CHILD_START_FAILED and keeps nothing', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {});
    await expect(sup.startChild({ id: 'x', start: () => Promise.reject(new Error('nope')) })).rejects.toMatchObject({ code: 'CHILD_START_FAILED', childId: 'x' });
    expect(await sup.whichChildren()).toEqual([]);
  });

  it('startChild whose start returns IGNORE resolves undefined; the spec is kept unless temporary', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {});
    expect(await sup.startChild({ id: 'i', start: () => IGNORE })).toBeUndefined();
    expect(await sup.startChild({ id: 't', start: () => IGNORE, restart: 'temporary' })).toBeUndefined();
    expect(await statuses(sup)).toEqual({ i: 'stopped' });
  });

  it('terminateChild stops the child and keeps its spec; a temporary one is forgotten', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('a'), child('t', undefined, { restart: 'temporary' })] });
    const r = await refs(sup);
    await sup.terminateChild('a');
    await sup.terminateChild('t');
    expect(r.a?.alive).toBe(false);
    expect(r.t?.alive).toBe(false);
    expect(await statuses(sup)).toEqual({ a: 'stopped' });
    await sup.terminateChild('a'); // already stopped: fine, as OTP
    await expect(sup.terminateChild('nope')).rejects.toMatchObject({ code: 'CHILD_NOT_FOUND' });
  });

  it('a terminated child is not restarted (it was stopped on purpose)', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('a')] });
    await sup.terminateChild('a');
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'stopped' });
  });

  it('restartChild starts a stopped child from its spec; errors as OTP names them', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('a')] });
    const first = (await refs(sup)).a;
    await expect(sup.restartChild('a')).rejects.toMatchObject({ code: 'CHILD_RUNNING', childId: 'a' });
    await expect(sup.restartChild('zz')).rejects.toMatchObject({ code: 'CHILD_NOT_FOUND' });
    await sup.terminateChild('a');
    const again = await sup.restartChild('a');
    expect(again?.alive).toBe(true);
    expect(again).not.toBe(first);
    expect((await refs(sup)).a).toBe(again);
  });

  it('restartChild does not count toward intensity', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { intensity: 0, children: [child('a')] });
    for (let i = 0; i < 3; i++) {
      await sup.terminateChild('a');
      await sup.restartChild('a');
    }
    expect(sup.alive).toBe(true);
  });

  it('restartChild whose start fails rejects and leaves the child stopped', async () => {
    const { system } = testSystem();
    let fail = false;
    const sup = await startSupervisor(system, {
      children: [{ id: 'a', start: (ctx) => (fail ? Promise.reject(new Error('down')) : child('a').start(ctx)) }],
    });
    await sup.terminateChild('a');
    fail = true;
    await expect(sup.restartChild('a')).rejects.toMatchObject({ code: 'CHILD_START_FAILED' });
    expect(await statuses(sup)).toEqual({ a: 'stopped' });
  });

  it('deleteChild forgets a stopped child; not a running one', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('a'), child('b')] });
    await expect(sup.deleteChild('a')).rejects.toMatchObject({ code: 'CHILD_RUNNING' });
    await sup.terminateChild('a');
    await sup.deleteChild('a');
    await expect(sup.deleteChild('a')).rejects.toMatchObject({ code: 'CHILD_NOT_FOUND' });
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['b']);
    // The id is free again.
    expect(await sup.startChild(child('a'))).toBeDefined();
  });

  it('whichChildren and countChildren describe every child in start order', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      children: [child('a'), { id: 'sub', type: 'supervisor', start: (ctx) => ctx.startSupervisor({}) }, child('c')],
    });
    await sup.terminateChild('c');
    const which = await sup.whichChildren();
    expect(which.map(({ id, status, type }) => ({ id, status, type }))).toEqual([
      { id: 'a', status: 'running', type: 'worker' },
      { id: 'sub', status: 'running', type: 'supervisor' },
      { id: 'c', status: 'stopped', type: 'worker' },
    ]);
    expect(which[2]?.ref).toBeUndefined();
    expect(await sup.countChildren()).toEqual({ specs: 3, active: 2, supervisors: 1, workers: 2 });
  });

  it('getChildSpec returns the spec as given', async () => {
    const { system } = testSystem();
    const spec = child('a', undefined, { restart: 'transient' });
    const sup = await startSupervisor(system, { children: [spec] });
    expect(await sup.getChildSpec('a')).toBe(spec);
    await expect(sup.getChildSpec('b')).rejects.toMatchObject({ code: 'CHILD_NOT_FOUND' });
  });

  it('calls to a supervisor that has exited reject with NOPROC', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { intensity: 0, children: [child('a')] });
    await crash(system, (await refs(sup)).a);
    expect(sup.alive).toBe(false);
    await expect(sup.whichChildren()).rejects.toMatchObject({ code: 'NOPROC' });
  });

  it('a stop requested during a slow startChild waits for it, then stops the new child too', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const gate = deferred();
    const sup = await startSupervisor(system, { children: [child('a', log)] });
    const started = sup.startChild({
      id: 'slow',
      start: async (ctx) => {
        await gate.promise;
        return ctx.spawn(worker('slow', log, { trap: true }));
      },
    });
    await system.whenIdle();
    const stopped = sup.stop();
    gate.resolve();
    const ref = await started;
    await stopped;
    expect(ref?.alive).toBe(false);
    expect(log).toEqual(['start:a', 'start:slow', 'stop:slow', 'stop:a']);
  });
});
