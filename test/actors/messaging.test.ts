import { describe, expect, it } from 'vitest';
import { type ActorRef, type Behavior, isBeamstateError } from '../../src/index.js';
import { deferred, recordEvents, testSystem } from './support.js';

const collector = (): { behavior: Behavior<unknown, unknown[]>; seen: unknown[] } => {
  const seen: unknown[] = [];
  return {
    seen,
    behavior: {
      init: () => seen,
      receive(state, msg) {
        state.push(msg);
        return state;
      },
    },
  };
};

describe('tell', () => {
  it('delivers messages from one sender in the order sent', async () => {
    const { system } = testSystem();
    const { behavior, seen } = collector();
    const ref = system.spawn(behavior);
    for (let i = 0; i < 1000; i++) ref.tell(i);
    await system.whenIdle();
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('handles one message at a time, also with async handlers', async () => {
    const { system } = testSystem();
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    const done = deferred();
    const ref = system.spawn<number, undefined>({
      async receive(state, n) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setImmediate(r));
        order.push(n);
        running--;
        if (n === 19) done.resolve();
        return state;
      },
    });
    for (let i = 0; i < 20; i++) ref.tell(i);
    await done.promise;
    expect(maxRunning).toBe(1);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('keeps state between messages', async () => {
    const { system } = testSystem();
    const ref = system.spawn<'inc' | 'get', number, number>({
      init: () => 0,
      receive(n, msg, ctx) {
        if (msg === 'inc') return n + 1;
        ctx.reply(n);
        return n;
      },
    });
    for (let i = 0; i < 5; i++) ref.tell('inc');
    expect(await ref.ask('get')).toBe(5);
  });

  it('turns a message to a dead actor into a dead letter, without throwing', async () => {
    const { system } = testSystem();
    const events = recordEvents(system, ['dead-letter']);
    const ref = system.spawn({ receive: (s: undefined) => s });
    await ref.stop();
    ref.tell('late');
    expect(events).toEqual([{ type: 'dead-letter', recipient: ref, message: 'late' }]);
  });

  it('turns messages still queued when an actor dies into dead letters', async () => {
    const { system } = testSystem();
    const events = recordEvents(system, ['dead-letter']);
    const gate = deferred();
    const ref = system.spawn<string, undefined>({
      async receive(s) {
        await gate.promise;
        return s;
      },
    });
    ref.tell('first');
    ref.tell('second');
    ref.tell('third');
    await system.whenIdle();
    system.kill(ref);
    expect(events.map((e) => (e.type === 'dead-letter' ? e.message : undefined))).toEqual(['second', 'third']);
    gate.resolve();
  });
});

describe('ask', () => {
  const echo: Behavior<number, undefined, number> = {
    receive(s, n, ctx) {
      ctx.reply(n * 2);
      return s;
    },
  };

  it('resolves with the reply', async () => {
    const { system } = testSystem();
    const ref = system.spawn(echo);
    expect(await ref.ask(21)).toBe(42);
  });

  it('correlates many concurrent asks', async () => {
    const { system } = testSystem();
    const ref = system.spawn(echo);
    const replies = await Promise.all(Array.from({ length: 500 }, (_, i) => ref.ask(i)));
    expect(replies).toEqual(Array.from({ length: 500 }, (_, i) => i * 2));
  });

  it('rejects at once with NOPROC when the target is dead', async () => {
    const { system } = testSystem();
    const ref = system.spawn(echo);
    system.kill(ref);
    await expect(ref.ask(1)).rejects.toMatchObject({ code: 'NOPROC' });
  });

  it('rejects with ACTOR_EXITED when the target dies before replying', async () => {
    const { system } = testSystem();
    const ref = system.spawn<string, undefined>({
      receive(s, msg) {
        if (msg === 'crash') throw new Error('boom');
        return s; // never replies
      },
    });
    const pending = ref.ask('no reply');
    const queued = ref.ask('queued behind the crash');
    ref.tell('crash');
    const err = await pending.catch((e: unknown) => e);
    expect(isBeamstateError(err, 'ACTOR_EXITED')).toBe(true);
    await expect(queued).rejects.toMatchObject({ code: 'ACTOR_EXITED' });
  });

  it('reports the crash reason of a handler that throws while handling the ask', async () => {
    const { system } = testSystem();
    const ref = system.spawn<string, undefined>({
      receive() {
        throw new TypeError('bad');
      },
    });
    const err = await ref.ask('x').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ACTOR_EXITED', reason: expect.any(TypeError) });
  });

  it('times out with ASK_TIMEOUT after 5 s by default, on the system clock', async () => {
    const { system, clock } = testSystem();
    const ref = system.spawn({ receive: (s: undefined) => s });
    const p = ref.ask('never answered');
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    clock.advance(4999);
    await system.whenIdle();
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(p).rejects.toMatchObject({ code: 'ASK_TIMEOUT', timeout: 5000 });
  });

  it('honours a per-ask timeout and Infinity', async () => {
    const { system, clock } = testSystem();
    const ref = system.spawn({ receive: (s: undefined) => s });
    const short = ref.ask('a', { timeout: 100 });
    const forever = ref.ask('b', { timeout: Infinity });
    let foreverSettled = false;
    forever.catch(() => {}).finally(() => (foreverSettled = true));
    clock.advance(100);
    await expect(short).rejects.toMatchObject({ code: 'ASK_TIMEOUT', timeout: 100 });
    clock.advance(1_000_000);
    await system.whenIdle();
    expect(foreverSettled).toBe(false);
  });

  it('times out asks in deadline order across different timeouts', async () => {
    const { system, clock } = testSystem();
    const ref = system.spawn({ receive: (s: undefined) => s });
    const order: number[] = [];
    const asks = [300, 100, 200, 100].map((t, i) => ref.ask(i, { timeout: t }).catch(() => order.push(i)));
    clock.advance(150);
    await system.whenIdle();
    expect(order).toEqual([1, 3]);
    clock.advance(1000);
    await Promise.all(asks);
    expect(order).toEqual([1, 3, 2, 0]);
  });

  it('aborts with ASK_ABORTED, with the signal reason as cause', async () => {
    const { system } = testSystem();
    const ref = system.spawn({ receive: (s: undefined) => s });
    const ac = new AbortController();
    const p = ref.ask('x', { signal: ac.signal });
    ac.abort(new Error('user gave up'));
    await expect(p).rejects.toMatchObject({ code: 'ASK_ABORTED', cause: new Error('user gave up') });
    await expect(ref.ask('y', { signal: AbortSignal.abort('already') })).rejects.toMatchObject({
      code: 'ASK_ABORTED',
      cause: 'already',
    });
  });

  it('ignores a reply that comes after the timeout', async () => {
    const { system, clock } = testSystem();
    let later: ((v: number) => boolean) | undefined;
    const ref = system.spawn<string, undefined, number>({
      receive(s, _m, ctx) {
        const r = ctx.replyTo;
        later = (v) => r?.reply(v) ?? false;
        return s;
      },
    });
    const p = ref.ask('x', { timeout: 10 });
    await system.whenIdle();
    clock.advance(10);
    await expect(p).rejects.toMatchObject({ code: 'ASK_TIMEOUT' });
    expect(later?.(1)).toBe(false);
  });

  it('rejects bad timeouts with INVALID_OPTION', () => {
    const { system } = testSystem();
    const ref = system.spawn(echo);
    expect(() => ref.ask(1, { timeout: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', field: 'timeout' }));
    expect(() => ref.ask(1, { timeout: Number.NaN })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });
});

describe('replying later (gen_server:reply/2)', () => {
  it('replies after awaiting something in the handler', async () => {
    const { system } = testSystem();
    const ref = system.spawn<number, undefined, number>({
      async receive(s, n, ctx) {
        await Promise.resolve();
        ctx.reply(n + 1);
        return s;
      },
    });
    expect(await ref.ask(1)).toBe(2);
  });

  it('replies from another actor with a kept ReplyTo, while the first goes on', async () => {
    const { system } = testSystem();
    type WorkerMsg = { n: number; replyTo: { reply(v: number): boolean } };
    const worker = system.spawn<WorkerMsg, undefined>({
      receive(s, m) {
        m.replyTo.reply(m.n * 10);
        return s;
      },
    });
    let handled = 0;
    const front: ActorRef<number, number> = system.spawn<number, undefined, number>({
      receive(s, n, ctx) {
        handled++;
        const replyTo = ctx.replyTo;
        if (replyTo !== undefined) worker.tell({ n, replyTo });
        return s;
      },
    });
    const replies = await Promise.all([front.ask(1), front.ask(2), front.ask(3)]);
    expect(replies).toEqual([10, 20, 30]);
    expect(handled).toBe(3);
  });

  it('fails an ask with the error given to fail()', async () => {
    const { system } = testSystem();
    const ref = system.spawn<string, undefined>({
      receive(s, _m, ctx) {
        ctx.replyTo?.fail(new RangeError('no such item'));
        return s;
      },
    });
    await expect(ref.ask('x')).rejects.toThrow(RangeError);
    expect(ref.alive).toBe(true);
  });

  it('reply() to a told message returns false and does nothing', async () => {
    const { system } = testSystem();
    const result = deferred<boolean>();
    const ref = system.spawn<string, undefined>({
      receive(s, _m, ctx) {
        result.resolve(ctx.reply('nobody asked'));
        return s;
      },
    });
    ref.tell('hello');
    expect(await result.promise).toBe(false);
  });
});
