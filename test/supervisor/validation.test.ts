import { describe, expect, it } from 'vitest';
import {
  type ChildSpec,
  checkChildSpecs,
  checkSupervisorSpec,
  InvalidChildSpecError,
  InvalidSupervisorFlagsError,
  startDynamicSupervisor,
  startSupervisor,
  type SupervisorSpec,
} from '../../src/index.js';
import { child, testSystem, worker } from './support.js';

const ok: ChildSpec = child('ok');

describe('validation', () => {
  it.each<[string, Record<string, unknown>]>([
    ['strategy', { strategy: 'one_for_one' }],
    ['strategy', { strategy: 'simple-one-for-one' }],
    ['intensity', { intensity: -1 }],
    ['intensity', { intensity: 1.5 }],
    ['intensity', { intensity: '3' }],
    ['period', { period: 0 }],
    ['period', { period: 2.5 }],
    ['periodMs', { periodMs: 0 }],
    ['periodMs', { periodMs: Infinity }],
    ['periodMs', { period: 5, periodMs: 5000 }],
    ['autoShutdown', { autoShutdown: 'sometimes' }],
    ['backoff', { backoff: 100 }],
    ['backoff.minMs', { backoff: { minMs: 0, maxMs: 10 } }],
    ['backoff.maxMs', { backoff: { minMs: 100, maxMs: 10 } }],
    ['backoff.randomFactor', { backoff: { minMs: 1, maxMs: 10, randomFactor: -0.1 } }],
    ['backoff.resetAfterMs', { backoff: { minMs: 1, maxMs: 10, resetAfterMs: 0 } }],
    ['backoff.min', { backoff: { min: 1, minMs: 1, maxMs: 10 } }],
    ['name', { name: '' }],
    ['onEvent', { onEvent: 'log' }],
    ['restartIntensity', { restartIntensity: 3 }],
  ])('a bad supervisor flag is rejected naming %s', async (field, flags) => {
    const { system } = testSystem();
    const spec = { ...flags, children: [ok] } as SupervisorSpec;
    expect(() => checkSupervisorSpec(spec)).toThrow(InvalidSupervisorFlagsError);
    await expect(startSupervisor(system, spec)).rejects.toMatchObject({ code: 'INVALID_SUPERVISOR_FLAGS', field });
    expect(system.actorCount).toBe(0);
  });

  it.each<[string, Record<string, unknown>]>([
    ['id', { start: ok.start }],
    ['id', { id: '', start: ok.start }],
    ['id', { id: 7, start: ok.start }],
    ['start', { id: 'x' }],
    ['start', { id: 'x', start: 'spawn it' }],
    ['restart', { id: 'x', start: ok.start, restart: 'always' }],
    ['shutdown', { id: 'x', start: ok.start, shutdown: -1 }],
    ['shutdown', { id: 'x', start: ok.start, shutdown: 'brutal_kill' }],
    ['shutdown', { id: 'x', start: ok.start, shutdown: Number.NaN }],
    ['type', { id: 'x', start: ok.start, type: 'manager' }],
    ['significant', { id: 'x', start: ok.start, significant: 'yes' }],
    ['backoff.maxMs', { id: 'x', start: ok.start, backoff: { minMs: 10 } }],
    ['modules', { id: 'x', start: ok.start, modules: [] }],
  ])('a bad child spec is rejected naming %s', async (field, spec) => {
    const { system } = testSystem();
    const supSpec = { children: [ok, spec as unknown as ChildSpec] };
    expect(() => checkChildSpecs(supSpec.children)).toThrow(InvalidChildSpecError);
    await expect(startSupervisor(system, supSpec)).rejects.toMatchObject({ code: 'INVALID_CHILD_SPEC', field });
    expect(system.actorCount).toBe(0);
  });

  it('the error names the child when it has an id', () => {
    const err = (() => {
      try {
        checkChildSpecs([{ ...ok, id: 'db', restart: 'never' as never }]);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toMatchObject({ field: 'restart', childId: 'db', value: 'never' });
    expect((err as Error).message).toContain('db');
  });

  it('duplicate child ids are rejected', async () => {
    const { system } = testSystem();
    await expect(startSupervisor(system, { children: [child('a'), child('b'), child('a')] })).rejects.toMatchObject({
      code: 'INVALID_CHILD_SPEC',
      field: 'id',
      childId: 'a',
    });
    expect(system.actorCount).toBe(0);
  });

  it('accepts every documented value', () => {
    expect(() =>
      checkSupervisorSpec({
        strategy: 'rest-for-one',
        intensity: 0,
        periodMs: 1,
        autoShutdown: 'all-significant',
        backoff: { minMs: 1, maxMs: 1, randomFactor: 0, resetAfterMs: Infinity },
        children: [
          { ...ok, id: 'a', shutdown: 'brutal-kill' },
          { ...ok, id: 'b', shutdown: 'infinity', type: 'supervisor' },
          { ...ok, id: 'c', shutdown: 0, restart: 'transient', significant: true },
          { ...ok, id: 'd', shutdown: Infinity, restart: 'temporary', significant: true, backoff: { minMs: 5, maxMs: 50 } },
        ],
      }),
    ).not.toThrow();
  });

  it.each<[string, Record<string, unknown>]>([
    ['strategy', { strategy: 'one-for-all', child: { start: () => undefined } }],
    ['child', {}],
    ['id', { child: { id: 'x', start: () => undefined } }],
    ['start', { child: {} }],
    ['maxChildren', { maxChildren: -1, child: { start: () => undefined } }],
    ['maxChildren', { maxChildren: 1.5, child: { start: () => undefined } }],
    ['significant', { child: { start: () => undefined, restart: 'temporary', significant: true } }],
  ])('a bad dynamic supervisor spec is rejected naming %s', async (field, spec) => {
    const { system } = testSystem();
    await expect(startDynamicSupervisor(system, spec as never)).rejects.toMatchObject({ field });
    expect(system.actorCount).toBe(0);
  });

  it('startChild on a running supervisor validates against its flags', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, {});
    await expect(sup.startChild({ id: 's', start: (ctx) => ctx.spawn(worker('s')), restart: 'transient', significant: true })).rejects.toMatchObject({
      code: 'INVALID_CHILD_SPEC',
      field: 'significant',
    });
  });
});
