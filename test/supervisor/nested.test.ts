import { describe, expect, it } from 'vitest';
import {
  type ChildSpec,
  ChildStartError,
  DynamicSupervisorRef,
  startSupervisor,
  type SupervisorRef,
  type SupervisorSpec,
  supervisorOf,
} from '../../src/index.js';
import { child, crash, refs, testSystem, worker } from './support.js';

function sub(id: string, spec: SupervisorSpec): ChildSpec {
  return { id, type: 'supervisor', start: (ctx) => ctx.startSupervisor(spec) };
}

async function nested(sup: SupervisorRef, id: string): Promise<SupervisorRef> {
  const info = (await sup.whichChildren()).find((c) => c.id === id);
  return supervisorOf(info!.ref!) as SupervisorRef;
}

describe('nested trees', () => {
  it('starts depth first in order and stops in reverse, each subtree before its earlier siblings', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, {
      children: [child('a', log), sub('mid', { children: [child('m1', log), child('m2', log)] }), child('z', log)],
    });
    expect(log).toEqual(['start:a', 'start:m1', 'start:m2', 'start:z']);
    log.length = 0;
    await sup.stop();
    expect(log).toEqual(['stop:z', 'stop:m2', 'stop:m1', 'stop:a']);
    expect(system.actorCount).toBe(0);
  });

  it('a child supervisor that gives up is restarted by its parent with fresh children', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [child('a'), sub('mid', { intensity: 0, children: [child('m')] })] });
    const midBefore = await nested(sup, 'mid');
    const m = (await refs(midBefore)).m;
    const a = (await refs(sup)).a;
    await crash(system, m);
    expect(midBefore.alive).toBe(false);
    const midAfter = await nested(sup, 'mid');
    expect(midAfter.ref).not.toBe(midBefore.ref);
    expect((await refs(midAfter)).m?.alive).toBe(true);
    expect((await refs(sup)).a).toBe(a);
  });

  it('escalation climbs the tree while each level gives up', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const top = await startSupervisor(system, {
      intensity: 0,
      children: [child('t', log), sub('mid', { intensity: 0, children: [sub('leaf', { intensity: 0, children: [child('w', log)] })] })],
    });
    const leaf = await nested(await nested(top, 'mid'), 'leaf');
    log.length = 0;
    await crash(system, (await refs(leaf)).w);
    expect(await system.awaitExit(top.ref)).toBe('shutdown');
    expect(log).toEqual(['stop:w', 'stop:t']);
    expect(system.actorCount).toBe(0);
  });

  it('a nested supervisor that fails to start fails its parent’s start, with the inner failure as the reason', async () => {
    const { system } = testSystem();
    const boom = new Error('deep');
    const err = await startSupervisor(system, {
      children: [child('a'), sub('mid', { children: [{ id: 'bad', start: () => Promise.reject(boom) }] })],
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CHILD_START_FAILED', childId: 'mid' });
    const inner = (err as ChildStartError).reason;
    expect(inner).toBeInstanceOf(ChildStartError);
    expect(inner).toMatchObject({ childId: 'bad', reason: boom });
    expect(system.actorCount).toBe(0);
  });

  it('supervisorOf gives an admin handle on a nested supervisor, and undefined for a worker', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {
      children: [
        child('w'),
        sub('mid', {}),
        { id: 'dyn', type: 'supervisor', start: (ctx) => ctx.startDynamicSupervisor({ child: { start: (c, n: number) => c.spawn(worker(`d${n}`)) } }) },
      ],
    });
    const mid = await nested(sup, 'mid');
    expect(await mid.startChild(child('late'))).toBeDefined();
    expect(supervisorOf((await refs(sup)).w!)).toBeUndefined();
    const dyn = supervisorOf((await sup.whichChildren())[2]!.ref!);
    expect(dyn).toBeInstanceOf(DynamicSupervisorRef);
    const d = await (dyn as DynamicSupervisorRef<[number]>).startChild(1);
    expect(await d?.ask('ping')).toBe('pong:d1');
  });

  it('killing a supervisor takes its subtree down; a child supervisor still stops its children gracefully', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = await startSupervisor(system, { children: [child('a', log), sub('mid', { children: [child('m1', log), child('m2', log)] })] });
    log.length = 0;
    system.kill(sup.ref);
    await system.whenIdle();
    // The trapping children get the exit signal from their dead parent and terminate.
    expect(log.sort()).toEqual(['stop:a', 'stop:m1', 'stop:m2']);
    expect(system.actorCount).toBe(0);
  });
});
