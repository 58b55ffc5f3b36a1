import { describe, expect, it } from 'vitest';
import { backoffDelay, type SupervisorEvent, startSupervisor } from '../../src/index.js';
import { child, crash, refs, statuses, testSystem } from './support.js';

const exact = { randomFactor: 0 } as const;

describe('backoffDelay (pure)', () => {
  const b = { minMs: 100, maxMs: 1000, randomFactor: 0, resetAfterMs: 550 };
  it('doubles from minMs and caps at maxMs', () => {
    expect([0, 1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, b, Math.random))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });
  it('adds up to randomFactor of the delay, from the random source', () => {
    const jittered = { ...b, randomFactor: 0.2 };
    expect(backoffDelay(1, jittered, () => 0)).toBe(200);
    expect(backoffDelay(1, jittered, () => 0.5)).toBeCloseTo(220);
    expect(backoffDelay(10, jittered, () => 0.999)).toBeCloseTo(1199.8);
  });
});

describe('restart backoff', () => {
  it('delays each restart of a crashing child: min, 2×min, 4×min …, capped at max; restarting meanwhile', async () => {
    const { system, clock } = testSystem();
    const sup = await startSupervisor(system, {
      intensity: 100,
      children: [child('a', undefined, { backoff: { minMs: 100, maxMs: 300, resetAfterMs: 10_000, ...exact } })],
    });
    for (const delay of [100, 200, 300, 300]) {
      const before = (await refs(sup)).a;
      await crash(system, before);
      expect(await statuses(sup)).toEqual({ a: 'restarting' });
      clock.advance(delay - 1);
      await system.whenIdle();
      expect(await statuses(sup)).toEqual({ a: 'restarting' });
      clock.advance(1);
      await system.whenIdle();
      const after = (await refs(sup)).a;
      expect(after?.alive).toBe(true);
      expect(after).not.toBe(before);
    }
  });

  it('starts again from minMs once the child has run for resetAfterMs', async () => {
    const { system, clock } = testSystem();
    const events: SupervisorEvent[] = [];
    const sup = await startSupervisor(system, {
      intensity: 100,
      onEvent: (e) => events.push(e),
      children: [child('a', undefined, { backoff: { minMs: 100, maxMs: 10_000, resetAfterMs: 1000, ...exact } })],
    });
    const delays = (): number[] => events.flatMap((e) => (e.type === 'supervisor.restart-scheduled' ? [e.delayMs] : []));
    for (let i = 0; i < 3; i++) {
      await crash(system, (await refs(sup)).a);
      clock.advance(10_000);
      await system.whenIdle();
    }
    // Each restart happened when the clock had already jumped 10 s, so each instance crashed at once.
    expect(delays()).toEqual([100, 200, 400]);
    // The last instance has now run for well over a second: the next crash waits minMs again.
    clock.advance(1000);
    await crash(system, (await refs(sup)).a);
    expect(delays().at(-1)).toBe(100);
  });

  it('a quick crash after a restart keeps growing the delay', async () => {
    const { system, clock } = testSystem();
    const events: SupervisorEvent[] = [];
    const sup = await startSupervisor(system, {
      intensity: 100,
      onEvent: (e) => events.push(e),
      children: [child('a', undefined, { backoff: { minMs: 100, maxMs: 10_000, resetAfterMs: 1000, ...exact } })],
    });
    for (const wait of [100, 200, 400]) {
      await crash(system, (await refs(sup)).a);
      clock.advance(wait);
      await system.whenIdle();
    }
    await crash(system, (await refs(sup)).a);
    const scheduled = events.filter((e) => e.type === 'supervisor.restart-scheduled');
    expect(scheduled.map((e) => [e.delayMs, e.attempt])).toEqual([
      [100, 1],
      [200, 1],
      [400, 1],
      [800, 1],
    ]);
  });

  it('the supervisor’s backoff applies to children without their own; a child’s own wins', async () => {
    const { system, clock } = testSystem();
    const sup = await startSupervisor(system, {
      intensity: 100,
      backoff: { minMs: 500, maxMs: 500, ...exact },
      children: [child('a'), child('b', undefined, { backoff: { minMs: 50, maxMs: 50, ...exact } })],
    });
    const r = await refs(sup);
    await crash(system, r.a);
    await crash(system, r.b);
    clock.advance(50);
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'restarting', b: 'running' });
    clock.advance(450);
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'running', b: 'running' });
  });

  it('jitter comes from the injected random source', async () => {
    const { system, clock } = testSystem();
    const events: SupervisorEvent[] = [];
    const sup = await startSupervisor(system, {
      random: () => 0.5,
      onEvent: (e) => events.push(e),
      children: [child('a', undefined, { backoff: { minMs: 100, maxMs: 1000, randomFactor: 0.4 } })],
    });
    await crash(system, (await refs(sup)).a);
    expect(events.find((e) => e.type === 'supervisor.restart-scheduled')).toMatchObject({ delayMs: 120 });
    clock.advance(119);
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'restarting' });
    clock.advance(1);
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'running' });
  });

  it('one-for-all with backoff stops the siblings at once and restarts all after the delay', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, {
      strategy: 'one-for-all',
      backoff: { minMs: 1000, maxMs: 1000, ...exact },
      children: [child('a', log), child('b', log), child('c', log)],
    });
    log.length = 0;
    await crash(system, (await refs(sup)).b);
    expect(log).toEqual(['stop:b', 'stop:c', 'stop:a']);
    expect(await statuses(sup)).toEqual({ a: 'stopped', b: 'restarting', c: 'stopped' });
    clock.advance(1000);
    await system.whenIdle();
    expect(log.slice(3)).toEqual(['start:a', 'start:b', 'start:c']);
  });

  it('a failed restart is retried after the next backoff delay', async () => {
    const { system, clock } = testSystem();
    let failures = 2;
    const events: SupervisorEvent[] = [];
    const sup = await startSupervisor(system, {
      intensity: 100,
      onEvent: (e) => events.push(e),
      children: [
        {
          id: 'a',
          backoff: { minMs: 100, maxMs: 10_000, ...exact },
          start: (ctx) => (events.length > 0 && failures-- > 0 ? Promise.reject(new Error('not yet')) : child('a').start(ctx)),
        },
      ],
    });
    await crash(system, (await refs(sup)).a);
    for (let i = 0; i < 3; i++) {
      clock.advanceToNext();
      await system.whenIdle();
    }
    const scheduled = events.filter((e) => e.type === 'supervisor.restart-scheduled');
    expect(scheduled.map((e) => [e.delayMs, e.attempt])).toEqual([
      [100, 1],
      [200, 2],
      [400, 3],
    ]);
    expect(await statuses(sup)).toEqual({ a: 'running' });
  });

  it('restart intensity is counted when a delayed restart happens', async () => {
    const { system, clock } = testSystem();
    const sup = await startSupervisor(system, {
      intensity: 1,
      period: 5,
      children: [child('a', undefined, { backoff: { minMs: 3000, maxMs: 3000, resetAfterMs: 1e9, ...exact } })],
    });
    await crash(system, (await refs(sup)).a);
    clock.advance(3000); // restart 1 at t=3000
    await system.whenIdle();
    await crash(system, (await refs(sup)).a);
    clock.advance(2999);
    await system.whenIdle();
    expect(sup.alive).toBe(true);
    clock.advance(1); // restart 2 at t=6000: 2 restarts within 5 s
    await system.whenIdle();
    expect(sup.alive).toBe(false);
  });

  it('terminateChild cancels a pending restart; stopping the supervisor cancels all', async () => {
    const { system, clock } = testSystem();
    const sup = await startSupervisor(system, {
      backoff: { minMs: 1000, maxMs: 1000, ...exact },
      children: [child('a'), child('b')],
    });
    const r = await refs(sup);
    await crash(system, r.a);
    await crash(system, r.b);
    await expect(sup.restartChild('a')).rejects.toMatchObject({ code: 'CHILD_RESTARTING' });
    await sup.terminateChild('a');
    clock.advance(1000);
    await system.whenIdle();
    expect(await statuses(sup)).toEqual({ a: 'stopped', b: 'running' });
    await crash(system, (await refs(sup)).b);
    const count = system.actorCount;
    await sup.stop();
    clock.advance(10_000);
    await system.whenIdle();
    expect(system.actorCount).toBe(count - 1);
  });
});
