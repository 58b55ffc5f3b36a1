// The runtime's promise-free ask (what the gateway uses): every outcome an ask's promise would
// have, told to a listener with the caller's token, and nothing told twice.
import { describe, expect, it } from 'vitest';
import { eventSourcedEntity, type StandardSchemaV1 } from '../../src/index.js';
import { counter, harness, openStore, until } from './support.js';

function recorder(): { answers: [unknown, string, unknown][]; listener: { answered(t: unknown, v: unknown): void; failed(t: unknown, e: unknown): void } } {
  const answers: [unknown, string, unknown][] = [];
  return {
    answers,
    listener: {
      answered: (token, value) => answers.push([token, 'ok', value]),
      failed: (token, error) => answers.push([token, 'failed', (error as { code?: string }).code]),
    },
  };
}

describe('askWith: the promise-free ask', () => {
  it('tells replies and refusals to the listener, with each token, once', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'a');
    const { answers, listener } = recorder();
    h.runtime.askWith(ref, 'add', { n: 2 }, listener, 'r1');
    h.runtime.askWith(ref, 'add', { n: 3 }, listener, 'r2');
    h.runtime.askWith(ref, 'nope', undefined, listener, 'r3'); // refused at once
    h.runtime.askWith(ref, 'add', { n: 'x' }, listener, 'r4'); // invalid input
    await until(() => answers.length === 4);
    expect(answers).toContainEqual(['r1', 'ok', 2]);
    expect(answers).toContainEqual(['r2', 'ok', 5]);
    expect(answers).toContainEqual(['r3', 'failed', 'UNKNOWN_COMMAND']);
    expect(answers).toContainEqual(['r4', 'failed', 'INVALID_COMMAND']);
    // Same order as promises would give for one entity: r1 before r2.
    expect(answers.findIndex((a) => a[0] === 'r1')).toBeLessThan(answers.findIndex((a) => a[0] === 'r2'));
    await h.system.whenIdle();
    expect(answers).toHaveLength(4);
    expect(await ref.ask('get')).toBe(5);
  });

  it('times out on the system clock with ASK_TIMEOUT, and the late answer is not told', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    let release = (): void => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow = eventSourcedEntity('slow')
      .initialState(() => 0)
      .events<{ type: 'X' }>({ X: (s) => s + 1 })
      .command('wait', async (_s, _i, ctx) => {
        await gate;
        return ctx.emit({ type: 'X' }).thenReply((s) => s);
      });
    h.runtime.register(slow);
    const { answers, listener } = recorder();
    h.runtime.askWith(h.runtime.ref(slow, 's'), 'wait', undefined, listener, 7);
    await h.system.whenIdle();
    h.clock.advance(h.system.askTimeout);
    expect(answers).toEqual([[7, 'failed', 'ASK_TIMEOUT']]);
    release();
    // The command still runs (as with gen_server:call), but its answer has nobody to go to.
    expect(await h.runtime.ref(slow, 's').ask('wait')).toBe(2);
    expect(answers).toEqual([[7, 'failed', 'ASK_TIMEOUT']]);
  });

  it('with an async schema: valid input is answered, invalid input fails with its issues', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const evenAsync: StandardSchemaV1<number, number> = {
      '~standard': { version: 1, vendor: 'test', validate: async (v) => (typeof v === 'number' && v % 2 === 0 ? { value: v } : { issues: [{ message: 'must be even' }] }) },
    };
    const evens = eventSourcedEntity('evens')
      .initialState(() => 0)
      .events<{ type: 'Set'; v: number }>({ Set: (_s, ev) => ev.v })
      .command('set', evenAsync, (_s, v, ctx) => ctx.emit({ type: 'Set', v }).thenReply((s) => s));
    h.runtime.register(evens);
    const { answers, listener } = recorder();
    const ref = h.runtime.ref(evens, 'e');
    h.runtime.askWith(ref, 'set', 4, listener, 'even');
    h.runtime.askWith(ref, 'set', 3, listener, 'odd');
    await until(() => answers.length === 2);
    expect(answers).toContainEqual(['even', 'ok', 4]);
    expect(answers).toContainEqual(['odd', 'failed', 'INVALID_COMMAND']);
  });

  it('after stop: refused with the runtime stopped', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'z');
    await h.runtime.stop();
    const { answers, listener } = recorder();
    h.runtime.askWith(ref, 'get', undefined, listener, 'late');
    expect(answers).toHaveLength(1);
    expect(answers[0]?.[0]).toBe('late');
    expect(answers[0]?.[1]).toBe('failed');
  });
});
