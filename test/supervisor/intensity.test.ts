import { describe, expect, it } from 'vitest';
import { type ExitMessage, type SupervisorRef, addRestart, startSupervisor } from '../../src/index.js';
import { child, crash, recordEvents, refs, supervisorEvents, testSystem } from './support.js';

describe('addRestart (pure)', () => {
  it('allows up to intensity restarts within the period', () => {
    let w = addRestart([], 0, 2, 5000);
    expect(w.exceeded).toBe(false);
    w = addRestart(w.restarts, 1000, 2, 5000);
    expect(w.exceeded).toBe(false);
    w = addRestart(w.restarts, 2000, 2, 5000);
    expect(w.exceeded).toBe(true);
    expect(w.restarts).toEqual([2000, 1000, 0]);
  });

  it('forgets restarts older than the period', () => {
    let w = addRestart([], 0, 1, 5000);
    w = addRestart(w.restarts, 5001, 1, 5000);
    expect(w).toEqual({ restarts: [5001], exceeded: false });
  });

  it('still counts a restart exactly one period ago (OTP keeps R >= Now - Period)', () => {
    const w = addRestart([0], 5000, 1, 5000);
    expect(w).toEqual({ restarts: [5000, 0], exceeded: true });
  });

  it('intensity 0 gives up at the first restart', () => {
    expect(addRestart([], 123, 0, 5000).exceeded).toBe(true);
  });

  it('keeps the history newest first and does not mutate its input', () => {
    const before = [3000, 2000];
    const w = addRestart(before, 4000, 5, 5000);
    expect(w.restarts).toEqual([4000, 3000, 2000]);
    expect(before).toEqual([3000, 2000]);
  });
});

describe('restart intensity', () => {
  it('with the defaults (1 in 5 s), a second crash within 5 s makes the supervisor give up', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { children: [child('a', log), child('b', log), child('c', log)] });
    const exit = system.awaitExit(sup.ref);
    await crash(system, (await refs(sup)).b);
    expect(sup.alive).toBe(true);
    const r = await refs(sup);
    log.length = 0;
    await crash(system, r.b);
    expect(await exit).toBe('shutdown');
    // The other children were stopped in reverse start order.
    expect(log).toEqual(['stop:b', 'stop:c', 'stop:a']);
    expect(r.a?.alive).toBe(false);
    expect(r.c?.alive).toBe(false);
  });

  it('crashes spread wider than the period are all restarted', async () => {
    const { system, clock } = testSystem();
    const sup = await startSupervisor(system, { children: [child('a')] });
    for (let i = 0; i < 5; i++) {
      await crash(system, (await refs(sup)).a);
      clock.advance(5001);
    }
    expect(sup.alive).toBe(true);
  });

  it('intensity and periodMs are honoured', async () => {
    const { system, clock } = testSystem();
    const sup = await startSupervisor(system, { intensity: 3, periodMs: 100, children: [child('a')] });
    for (let i = 0; i < 3; i++) {
      await crash(system, (await refs(sup)).a);
      clock.advance(10);
    }
    expect(sup.alive).toBe(true);
    clock.advance(71); // the first restart (t=0) is now 101 ms old
    await crash(system, (await refs(sup)).a);
    expect(sup.alive).toBe(true);
    await crash(system, (await refs(sup)).a);
    expect(sup.alive).toBe(false);
  });

  it('intensity 0 means the first crash takes the supervisor down', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { intensity: 0, children: [child('a')] });
    await crash(system, (await refs(sup)).a);
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
  });

  it('giving up escalates: a linked parent gets the exit with reason shutdown', async () => {
    const { system } = testSystem();
    const exits: ExitMessage[] = [];
    let sup: SupervisorRef | undefined;
    const parent = system.spawn<'go', undefined>({
      init(ctx) {
        ctx.trapExit = true;
        return undefined;
      },
      async receive(s, _m, ctx) {
        sup = await startSupervisor(ctx, { intensity: 0, children: [child('a')] });
        return s;
      },
      onExit(s, msg) {
        exits.push(msg);
        return s;
      },
    });
    parent.tell('go');
    await system.whenIdle();
    await crash(system, (await refs(sup!)).a);
    expect(exits).toEqual([expect.objectContaining({ from: sup!.ref, reason: 'shutdown' })]);
  });

  it('publishes the escalation with the child and its last reason', async () => {
    const { system } = testSystem();
    const events = recordEvents(system);
    const sup = await startSupervisor(system, { intensity: 0, children: [child('a')] });
    await crash(system, (await refs(sup)).a, 'fatal');
    const escalated = supervisorEvents(events).find((e) => e.type === 'supervisor.escalated');
    expect(escalated).toMatchObject({ supervisor: sup.ref, childId: 'a', reason: expect.objectContaining({ message: 'fatal' }) });
    expect(supervisorEvents(events).at(-1)).toMatchObject({ type: 'supervisor.shutdown', reason: 'shutdown' });
  });
});
