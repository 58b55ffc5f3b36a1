import { describe, expect, it } from 'vitest';
import { type Logger, type SupervisorEvent, startSupervisor } from '../../src/index.js';
import { child, crash, exitWith, recordEvents, refs, supervisorEvents, testSystem } from './support.js';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function captureLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const make = (bindings: Record<string, unknown>): Logger => ({
    debug: (obj, msg) => lines.push({ level: 'debug', obj: { ...bindings, ...obj }, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj: { ...bindings, ...obj }, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj: { ...bindings, ...obj }, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj: { ...bindings, ...obj }, msg }),
    child: (b) => make({ ...bindings, ...b }),
  });
  return { logger: make({}), lines };
}

describe('inspection events and reports', () => {
  it('publishes starts, exits, restarts, stops and the shutdown on the inspection stream', async () => {
    const { system } = testSystem();
    const events = recordEvents(system);
    const sup = await startSupervisor(system, { children: [child('a'), child('b')] });
    const r = await refs(sup);
    await crash(system, r.a, 'bad');
    const a2 = (await refs(sup)).a;
    await sup.stop();
    const boom = expect.objectContaining({ message: 'bad' });
    expect(supervisorEvents(events)).toEqual([
      { type: 'supervisor.child-started', supervisor: sup.ref, childId: 'a', child: r.a },
      { type: 'supervisor.child-started', supervisor: sup.ref, childId: 'b', child: r.b },
      { type: 'supervisor.child-exited', supervisor: sup.ref, childId: 'a', child: r.a, reason: boom, willRestart: true },
      { type: 'supervisor.child-restarted', supervisor: sup.ref, childId: 'a', child: a2, previous: r.a },
      { type: 'supervisor.shutdown', supervisor: sup.ref, reason: 'shutdown' },
      { type: 'supervisor.child-terminated', supervisor: sup.ref, childId: 'b', child: r.b, reason: 'shutdown' },
      { type: 'supervisor.child-terminated', supervisor: sup.ref, childId: 'a', child: a2, reason: 'shutdown' },
    ]);
  });

  it('onEvent gets this supervisor’s events only, and a throwing listener breaks nothing', async () => {
    const { system } = testSystem();
    const mine: SupervisorEvent[] = [];
    const sup = await startSupervisor(system, {
      onEvent: (e) => {
        mine.push(e);
        throw new Error('listener bug');
      },
      children: [child('a')],
    });
    await startSupervisor(system, { children: [child('other')] });
    await crash(system, (await refs(sup)).a);
    expect(mine.map((e) => e.type)).toEqual(['supervisor.child-started', 'supervisor.child-exited', 'supervisor.child-restarted']);
    expect(mine.every((e) => e.supervisor === sup.ref)).toBe(true);
    expect((await refs(sup)).a?.alive).toBe(true);
  });

  it('logs a crash as a structured supervisor report naming the supervisor, the child and the reason', async () => {
    const { logger, lines } = captureLogger();
    const { system } = testSystem({ logger });
    const sup = await startSupervisor(system, { name: 'top', children: [child('db', undefined, { restart: 'transient', shutdown: 2000 })] });
    const db = (await refs(sup)).db;
    await crash(system, db, 'disk on fire');
    const report = lines.find((l) => l.level === 'error' && l.obj.label === 'supervisor_report');
    expect(report?.obj).toMatchObject({
      supervisor: 'top<1>',
      errorContext: 'child_terminated',
      reason: expect.objectContaining({ message: 'disk on fire' }),
      err: expect.objectContaining({ message: 'disk on fire' }),
      offender: { id: 'db', ref: String(db), restart: 'transient', shutdown: 2000, type: 'worker', significant: false },
    });
    expect(report?.msg).toContain('disk on fire');
    // Progress reports (child started) are debug, not info: dynamic supervisors start many children.
    expect(lines.filter((l) => l.obj.label === 'supervisor_progress').every((l) => l.level === 'debug')).toBe(true);
    expect(lines.filter((l) => l.obj.label === 'supervisor_progress')).toHaveLength(2);
  });

  it('a transient child exiting normally is not reported; a permanent one is', async () => {
    const { logger, lines } = captureLogger();
    const { system } = testSystem({ logger });
    const sup = await startSupervisor(system, { children: [child('t', undefined, { restart: 'transient' }), child('p')] });
    const r = await refs(sup);
    await exitWith(system, r.t, 'normal');
    expect(lines.filter((l) => l.obj.label === 'supervisor_report')).toEqual([]);
    await exitWith(system, r.p, 'normal');
    expect(lines.filter((l) => l.obj.label === 'supervisor_report').map((l) => [l.obj.errorContext, l.obj.reason])).toEqual([['child_terminated', 'normal']]);
  });

  it('reports start errors and giving up', async () => {
    const { logger, lines } = captureLogger();
    const { system } = testSystem({ logger });
    let fail = false;
    const sup = await startSupervisor(system, {
      intensity: 1,
      children: [{ id: 'a', start: (ctx) => (fail ? Promise.reject(new Error('cannot')) : child('a').start(ctx)) }],
    });
    fail = true;
    await crash(system, (await refs(sup)).a);
    expect(sup.alive).toBe(false);
    const contexts = lines.filter((l) => l.obj.label === 'supervisor_report').map((l) => l.obj.errorContext);
    expect(contexts).toEqual(['child_terminated', 'start_error', 'shutdown']);
    const shutdown = lines.find((l) => l.obj.errorContext === 'shutdown');
    expect(shutdown?.obj).toMatchObject({ reason: 'reached_max_restart_intensity', offender: expect.objectContaining({ id: 'a' }) });
  });

  it('logs each restart and the supervisor’s own shutdown at info', async () => {
    const { logger, lines } = captureLogger();
    const { system } = testSystem({ logger });
    const sup = await startSupervisor(system, { children: [child('a')] });
    const a = (await refs(sup)).a;
    await crash(system, a);
    const a2 = (await refs(sup)).a;
    await sup.stop();
    const info = lines.filter((l) => l.level === 'info').map((l) => [l.msg, l.obj.childId ?? l.obj.reason, l.obj.previous, l.obj.child]);
    expect(info).toEqual([
      ['supervisor: child restarted', 'a', String(a), String(a2)],
      ['supervisor: shutting down', 'shutdown', undefined, undefined],
    ]);
  });
});
