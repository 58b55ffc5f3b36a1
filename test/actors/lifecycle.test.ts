import { describe, expect, it } from 'vitest';
import { type ExitReason, IGNORE, isBeamstateError } from '../../src/index.js';
import { deferred, testSystem } from './support.js';

describe('init', () => {
  it('runs synchronously inside spawn when it is synchronous', () => {
    const { system } = testSystem();
    let ran = false;
    system.spawn({
      init: () => {
        ran = true;
        return 1;
      },
      receive: (s: number) => s,
    });
    expect(ran).toBe(true);
  });

  it('an async init holds messages until it resolves', async () => {
    const { system } = testSystem();
    const gate = deferred<number>();
    const ref = system.spawn<'get', number, number>({
      init: () => gate.promise,
      receive(s, _m, ctx) {
        ctx.reply(s);
        return s;
      },
    });
    const answer = ref.ask('get');
    await system.whenIdle();
    gate.resolve(7);
    expect(await answer).toBe(7);
  });

  it('start() resolves once init succeeded and rejects with INIT_FAILED when it fails', async () => {
    const { system } = testSystem();
    const ok = await system.start({ init: async () => 1, receive: (s: number) => s });
    expect(ok.alive).toBe(true);
    const boom = new Error('cannot connect');
    const err = await system
      .start({
        init: async () => {
          throw boom;
        },
        receive: (s: number) => s,
      })
      .catch((e: unknown) => e);
    expect(isBeamstateError(err, 'INIT_FAILED')).toBe(true);
    expect((err as Error).cause).toBe(boom);
  });

  it('returning IGNORE declines to start: the actor exits normal', async () => {
    const { system } = testSystem();
    const ref = system.spawn({ init: () => IGNORE, receive: (s: never) => s });
    expect(ref.alive).toBe(false);
    expect(await system.awaitExit(ref)).toBe('normal');
  });

  it('a throwing init does not throw from spawn; the actor is dead with that reason and terminate is not called', async () => {
    const { system } = testSystem();
    let terminated = false;
    const boom = new Error('x');
    const ref = system.spawn({
      init: () => {
        throw boom;
      },
      receive: (s: undefined) => s,
      terminate: () => void (terminated = true),
    });
    expect(ref.alive).toBe(false);
    expect(await system.awaitExit(ref)).toBe(boom);
    expect(terminated).toBe(false);
  });

  it('a stop requested during an async init runs after init, then terminate', async () => {
    const { system } = testSystem();
    const gate = deferred<string>();
    const calls: string[] = [];
    const ref = system.spawn({
      init: () => gate.promise,
      receive: (s: string) => s,
      terminate: (s: string, r: ExitReason) => void calls.push(`${s}:${String(r)}`),
    });
    const stopped = ref.stop('shutdown');
    gate.resolve('ready');
    await stopped;
    expect(calls).toEqual(['ready:shutdown']);
  });
});

describe('terminate', () => {
  it('runs on a graceful stop with the state and reason, and may be async', async () => {
    const { system } = testSystem();
    const seen: unknown[] = [];
    const ref = system.spawn({
      init: () => 'state',
      receive: (s: string) => s,
      async terminate(s: string, reason: ExitReason) {
        await Promise.resolve();
        seen.push(s, reason);
      },
    });
    await ref.stop({ shutdown: 'bye' });
    expect(seen).toEqual(['state', { shutdown: 'bye' }]);
  });

  it('runs when a handler crashes, with the state from before the failed message', async () => {
    const { system } = testSystem();
    const seen = deferred<[number, ExitReason]>();
    const boom = new Error('bad message');
    const ref = system.spawn<number, number>({
      init: () => 0,
      receive(s, n) {
        if (n < 0) throw boom;
        return s + n;
      },
      terminate: (s, r) => seen.resolve([s, r]),
    });
    ref.tell(5);
    ref.tell(-1);
    expect(await seen.promise).toEqual([5, boom]);
    expect(await system.awaitExit(ref)).toBe(boom);
  });

  it('does not run when the actor is killed', async () => {
    const { system } = testSystem();
    let terminated = false;
    const ref = system.spawn({ receive: (s: undefined) => s, terminate: () => void (terminated = true) });
    system.kill(ref);
    expect(await system.awaitExit(ref)).toBe('killed');
    expect(terminated).toBe(false);
  });

  it('ctx.stop() stops after the current message', async () => {
    const { system } = testSystem();
    const handled: string[] = [];
    const ref = system.spawn<string, undefined>({
      receive(s, m, ctx) {
        handled.push(m);
        if (m === 'last') ctx.stop({ shutdown: 'done' });
        return s;
      },
    });
    ref.tell('a');
    ref.tell('last');
    ref.tell('never');
    expect(await system.awaitExit(ref)).toEqual({ shutdown: 'done' });
    expect(handled).toEqual(['a', 'last']);
  });

  it('a non-Error throw becomes an ActorCrashError with the thrown value as cause', async () => {
    const { system } = testSystem();
    const ref = system.spawn<string, undefined>({
      receive() {
        throw 'a string'; // eslint-disable-line no-throw-literal
      },
    });
    ref.tell('x');
    const reason = await system.awaitExit(ref);
    expect(reason).toMatchObject({ code: 'ACTOR_CRASHED', cause: 'a string' });
  });

  it('a rejected async handler crashes the actor with the rejection', async () => {
    const { system } = testSystem();
    const boom = new Error('async boom');
    const ref = system.spawn<string, undefined>({
      async receive() {
        await Promise.resolve();
        throw boom;
      },
    });
    ref.tell('x');
    expect(await system.awaitExit(ref)).toBe(boom);
  });

  it('stop() of a dead actor resolves at once', async () => {
    const { system } = testSystem();
    const ref = system.spawn({ receive: (s: undefined) => s });
    system.kill(ref);
    await expect(ref.stop()).resolves.toBeUndefined();
  });
});
