import { describe, expect, it } from 'vitest';
import { type ChildSpec, ChildStartError, IGNORE, startSupervisor } from '../../src/index.js';
import { child, crash, deferred, recordEvents, refs, statuses, supervisorEvents, testSystem, worker } from './support.js';

/** A child whose start fails while its id is in `failing`. */
function flaky(id: string, failing: Set<string>, log?: string[]): ChildSpec {
  return {
    id,
    start: (ctx) => {
      if (failing.has(id)) throw new Error(`${id} cannot start`);
      return ctx.spawn(worker(id, log, { trap: true }));
    },
  };
}

describe('start failures', () => {
  it('a child whose init fails during the start stops the children started before it and fails the start', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const boom = new Error('init failed');
    const start = startSupervisor(system, {
      children: [
        child('a', log),
        child('b', log),
        { id: 'c', start: (ctx) => ctx.spawn<unknown, undefined, unknown>({ init: () => Promise.reject(boom), receive: (s) => s }) },
        child('d', log),
      ],
    });
    const err = await start.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChildStartError);
    expect(err).toMatchObject({ code: 'CHILD_START_FAILED', childId: 'c', reason: boom, cause: boom });
    expect(log).toEqual(['start:a', 'start:b', 'stop:b', 'stop:a']);
    expect(system.actorCount).toBe(0);
  });

  it.each([
    ['throws', () => { throw new Error('thrown'); }],
    ['rejects', () => Promise.reject(new Error('rejected'))],
    ['returns something else', () => 42 as never],
  ])('a start function that %s fails the start', async (_what, start) => {
    const { system } = testSystem();
    const err = await startSupervisor(system, { children: [child('a'), { id: 'x', start }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CHILD_START_FAILED', childId: 'x' });
    expect((err as ChildStartError).reason).toBeInstanceOf(Error);
    expect(system.actorCount).toBe(0);
  });

  it('a start may return IGNORE: the spec is kept without a child (a temporary spec is dropped)', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      children: [
        { id: 'i', start: () => IGNORE },
        { id: 'j', start: (ctx) => ctx.spawn<unknown, undefined, unknown>({ init: () => IGNORE, receive: (s) => s }) },
        { id: 'tmp', start: () => IGNORE, restart: 'temporary' },
        child('a'),
      ],
    });
    expect(await statuses(sup)).toEqual({ i: 'stopped', j: 'stopped', a: 'running' });
    expect(await sup.countChildren()).toEqual({ specs: 3, active: 1, supervisors: 0, workers: 3 });
  });

  it('children with an async init start one after the other, in order', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const gate = deferred();
    const slow = (id: string): ChildSpec => ({
      id,
      start: (ctx) =>
        ctx.spawn({
          async init() {
            log.push(`init:${id}`);
            if (id === 'a') await gate.promise;
            log.push(`ready:${id}`);
            return undefined;
          },
          receive: (s) => s,
        }),
    });
    const started = startSupervisor(system, { children: [slow('a'), slow('b')] });
    await system.whenIdle();
    expect(log).toEqual(['init:a']);
    gate.resolve();
    await started;
    expect(log).toEqual(['init:a', 'ready:a', 'init:b', 'ready:b']);
  });

  it('a child that fails to restart is retried without blocking the supervisor, and recovers', async () => {
    const { system } = testSystem();
    const failing = new Set<string>();
    // As OTP's try_again_restart, a failed restart is retried at once, each try counting toward the
    // intensity, and no time passes on the test clock: the supervisor spins through retries while
    // the test takes its turns. The intensity must be out of reach for those few turns, or the
    // supervisor would (correctly) give up first, depending on scheduling.
    const sup = await startSupervisor(system, { intensity: 1_000_000_000, children: [flaky('a', failing), flaky('b', failing)] });
    const before = await refs(sup);
    failing.add('a');
    before.a!.tell({ crash: 'boom' });
    // Queued before the restart: answered between retries, while the child is restarting.
    const during = await sup.whichChildren();
    expect(during.map((c) => [c.id, c.status])).toEqual([['a', 'restarting'], ['b', 'running']]);
    await expect(sup.deleteChild('a')).rejects.toMatchObject({ code: 'CHILD_RESTARTING' });
    await expect(sup.restartChild('a')).rejects.toMatchObject({ code: 'CHILD_RESTARTING' });
    failing.delete('a');
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'running', b: 'running' });
    expect((await refs(sup)).b).toBe(before.b);
  });

  it('each retry counts toward intensity: a child that never restarts makes the supervisor give up', async () => {
    const { system } = testSystem();
    const events = recordEvents(system);
    const failing = new Set<string>();
    const sup = await startSupervisor(system, { intensity: 3, period: 60, children: [flaky('a', failing)] });
    failing.add('a');
    await crash(system, (await refs(sup)).a);
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
    const types = supervisorEvents(events).map((e) => e.type);
    expect(types.filter((t) => t === 'supervisor.start-failed')).toHaveLength(3);
    expect(types.filter((t) => t === 'supervisor.restart-scheduled')).toHaveLength(3);
    expect(types).toContain('supervisor.escalated');
  });

  it('one-for-all: when a sibling fails to restart, the ones before it run, it is restarting, the rest wait', async () => {
    const { system } = testSystem();
    const failing = new Set<string>();
    const log: string[] = [];
    const sup = await startSupervisor(system, {
      strategy: 'one-for-all',
      intensity: 1_000_000_000, // retries spin while the test takes its turns (see above)
      children: [flaky('a', failing, log), flaky('b', failing, log), flaky('c', failing, log)],
    });
    failing.add('b');
    (await refs(sup)).c!.tell({ crash: 'boom' });
    const during = await sup.whichChildren();
    expect(during.map((c) => [c.id, c.status])).toEqual([['a', 'running'], ['b', 'restarting'], ['c', 'stopped']]);
    failing.delete('b');
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'running', b: 'running', c: 'running' });
  });

  it('a retry that finds the child terminated meanwhile does nothing', async () => {
    const { system } = testSystem();
    const failing = new Set<string>();
    const sup = await startSupervisor(system, { intensity: 1_000_000_000, children: [flaky('a', failing)] }); // see above
    failing.add('a');
    (await refs(sup)).a!.tell({ crash: 'boom' });
    await sup.terminateChild('a'); // handled between two retries
    failing.delete('a');
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'stopped' });
  });

  it('a supervisor killed while starting its children leaves nothing behind', async () => {
    const { system } = testSystem();
    const gate = deferred();
    const starting = startSupervisor(system, {
      name: 'sup',
      children: [
        child('a'),
        {
          id: 'late',
          start: async (ctx) => {
            await gate.promise;
            return ctx.spawn(worker('late'));
          },
        },
      ],
    });
    await system.whenIdle();
    system.kill(system.whereis('sup')!);
    gate.resolve();
    await expect(starting).rejects.toMatchObject({ code: 'INIT_FAILED', reason: 'killed' });
    await system.whenIdle();
    expect(system.actorCount).toBe(0);
  });
});
