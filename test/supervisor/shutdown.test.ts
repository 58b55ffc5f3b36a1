import { describe, expect, it } from 'vitest';
import { type ExitReason, type Logger, startSupervisor } from '../../src/index.js';
import { child, deferred, refs, testSystem, worker } from './support.js';

/** A logger that keeps error reports. */
function captureLogger(): { logger: Logger; errors: Record<string, unknown>[] } {
  const errors: Record<string, unknown>[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (obj) => errors.push(obj as Record<string, unknown>),
    child: () => logger,
  };
  return { logger, errors };
}

describe('shutdown', () => {
  it('brutal-kill kills at once: terminate does not run, the child exits killed', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { children: [child('a', log, { shutdown: 'brutal-kill' })] });
    const a = (await refs(sup)).a!;
    const exited = system.awaitExit(a);
    await sup.terminateChild('a');
    expect(await exited).toBe('killed');
    expect(log).toEqual(['start:a']);
  });

  it('a timeout sends shutdown: a child that traps exits runs terminate and exits shutdown', async () => {
    const { system } = testSystem();
    const reasons: ExitReason[] = [];
    const sup = await startSupervisor(system, {
      children: [{ id: 'a', start: (ctx) => ctx.spawn(worker('a', undefined, { trap: true, onTerminate: (r) => void reasons.push(r) })), shutdown: 1000 }],
    });
    const a = (await refs(sup)).a!;
    const exited = system.awaitExit(a);
    await sup.terminateChild('a');
    expect(await exited).toBe('shutdown');
    expect(reasons).toEqual(['shutdown']);
  });

  it('a timeout kills a child whose terminate takes longer, on the system clock', async () => {
    const { logger, errors } = captureLogger();
    const { system, clock } = testSystem({ logger });
    const slow = deferred();
    const sup = await startSupervisor(system, {
      children: [{ id: 'a', start: (ctx) => ctx.spawn(worker('a', undefined, { trap: true, onTerminate: () => slow.promise })), shutdown: 1000 }],
    });
    const a = (await refs(sup)).a!;
    let done = false;
    const terminated = sup.terminateChild('a').then(() => (done = true));
    await system.whenIdle();
    clock.advance(999);
    await system.whenIdle();
    expect(a.alive).toBe(true);
    expect(done).toBe(false);
    clock.advance(1);
    await terminated;
    expect(a.alive).toBe(false);
    expect(await system.awaitExit(a)).toBe('killed');
    // As OTP: a permanent child that had to be killed is reported as a shutdown error.
    expect(errors).toContainEqual(expect.objectContaining({ label: 'supervisor_report', errorContext: 'shutdown_error', reason: 'killed' }));
  });

  it('the default shutdown of a worker is 5000 ms', async () => {
    const { system, clock } = testSystem();
    const sup = await startSupervisor(system, {
      children: [{ id: 'a', start: (ctx) => ctx.spawn(worker('a', undefined, { trap: true, onTerminate: () => new Promise(() => {}) })) }],
    });
    const a = (await refs(sup)).a!;
    const terminated = sup.terminateChild('a');
    await system.whenIdle();
    clock.advance(4999);
    await system.whenIdle();
    expect(a.alive).toBe(true);
    clock.advance(1);
    await terminated;
    expect(a.alive).toBe(false);
  });

  it('infinity waits for as long as the child takes', async () => {
    const { system, clock } = testSystem();
    const slow = deferred();
    const sup = await startSupervisor(system, {
      children: [{ id: 'a', start: (ctx) => ctx.spawn(worker('a', undefined, { trap: true, onTerminate: () => slow.promise })), shutdown: 'infinity' }],
    });
    const a = (await refs(sup)).a!;
    let done = false;
    const terminated = sup.terminateChild('a').then(() => (done = true));
    await system.whenIdle();
    clock.advance(1e9);
    await system.whenIdle();
    expect(a.alive).toBe(true);
    expect(done).toBe(false);
    slow.resolve();
    await terminated;
    expect(await system.awaitExit(a)).toBe('shutdown');
  });

  it('a child that does not trap exits dies at once from the shutdown signal, without terminate', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { children: [{ id: 'a', start: (ctx) => ctx.spawn(worker('a', log)) }] });
    const a = (await refs(sup)).a!;
    await sup.terminateChild('a');
    expect(await system.awaitExit(a)).toBe('shutdown');
    expect(log).toEqual(['start:a']);
  });

  it('stopping the supervisor stops children one at a time in reverse start order', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const gates = { a: deferred(), b: deferred(), c: deferred() };
    const slowChild = (id: 'a' | 'b' | 'c') => child(id, log, { shutdown: 'infinity' }, { onTerminate: () => gates[id].promise });
    const sup = await startSupervisor(system, { children: [slowChild('a'), slowChild('b'), slowChild('c')] });
    log.length = 0;
    const stopped = sup.stop();
    await system.whenIdle();
    expect(log).toEqual(['stop:c']); // b is not asked to stop before c is gone
    gates.c.resolve();
    await system.whenIdle();
    expect(log).toEqual(['stop:c', 'stop:b']);
    gates.b.resolve();
    await system.whenIdle();
    gates.a.resolve();
    await stopped;
    expect(log).toEqual(['stop:c', 'stop:b', 'stop:a']);
    expect(await system.awaitExit(sup.ref)).toBe('shutdown');
  });

  it('a zero timeout asks politely, then kills on the next clock tick', async () => {
    const { system, clock } = testSystem();
    const sup = await startSupervisor(system, {
      children: [{ id: 'a', start: (ctx) => ctx.spawn(worker('a', undefined, { trap: true, onTerminate: () => new Promise(() => {}) })), shutdown: 0 }],
    });
    const a = (await refs(sup)).a!;
    const terminated = sup.terminateChild('a');
    await system.whenIdle();
    clock.advance(0);
    await terminated;
    expect(await system.awaitExit(a)).toBe('killed');
  });
});
