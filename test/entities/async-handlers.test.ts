import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity, statelessFunction } from '../../src/index.js';
import { failingAppends, harness, heldAppends, openStore, until } from './support.js';

// A command whose handler returns a promise is awaited alone, at the head of a batch. These tests
// put one behind another command of the same batch (both sent in one tick to an idle entity), the
// case where it must neither be called twice nor leave a rejection unobserved: vitest fails a run
// with an unhandled rejection, and one here would crash a server. An `async` function is known
// before it is called and waits for its turn at the head; a plain function that returns a promise
// is only known once called: it then belongs to the batch it was called behind (that batch is
// written first, and its fate is the command's), and its promise goes on once that batch committed.

type Calls = { state: number }[];

function entity(calls: Calls, kind: 'async' | 'plain', fails: (v: number) => boolean) {
  const decide = (s: { v: number }): number => {
    calls.push({ state: s.v });
    if (fails(s.v)) throw new Error(`refused at ${s.v}`);
    return s.v;
  };
  return eventSourcedEntity(`slow-${kind}`)
    .initialState(() => ({ v: 0 }))
    .events<{ type: 'Set'; v: number }>({ Set: (_s, e) => ({ v: e.v }) })
    .command('set', z.object({ v: z.number() }), (_s, { v }, ctx) => ctx.emit({ type: 'Set', v }).thenReply((s) => s.v))
    .command(
      'slow',
      kind === 'async'
        ? async (s, _i, ctx) => {
            await Promise.resolve();
            return ctx.reply(decide(s));
          }
        : (s, _i, ctx) => Promise.resolve().then(() => ctx.reply(decide(s))),
    );
}

describe('a handler that returns a promise, behind another command of its batch', () => {
  it('(plain) reads its ctx after an await as it would alone: sequence number and command of its own', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const def = eventSourcedEntity('reads-late')
      .initialState(() => 0)
      .events<{ type: 'Set'; v: number }>({ Set: (_s, e) => e.v })
      .command('set', z.object({ v: z.number() }), (_s, { v }, ctx) => ctx.emit({ type: 'Set', v }).thenReply((s) => s))
      .command('seen', (s, _i, ctx) => Promise.resolve().then(() => ctx.reply({ state: s, sequenceNr: ctx.sequenceNr, command: ctx.command })));
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'x');
    for (let round = 1; round <= 3; round++) {
      const [, seen] = await Promise.all([ref.ask('set', { v: round }), ref.ask('seen'), ref.ask('set', { v: 10 * round })]);
      expect(seen).toEqual({ state: round, sequenceNr: 2 * round - 1, command: 'seen' });
    }
  });

  for (const kind of ['async', 'plain'] as const) {
    it(`(${kind}) runs once, on the state the command before it committed, and is answered after it`, async () => {
      const { store } = await openStore('memory');
      const h = await harness(store);
      const calls: Calls = [];
      const def = entity(calls, kind, () => false);
      h.runtime.register(def);
      const ref = h.runtime.ref(def, 'once');
      const [set, slow] = await Promise.all([ref.ask('set', { v: 7 }), ref.ask('slow')]);
      expect([set, slow]).toEqual([7, 7]);
      // A plain function is only known to return promises once it has: the first such call,
      // behind `set`, is kept (not made again). An async function is never called behind another command.
      expect(calls).toEqual([{ state: 7 }]);
      calls.length = 0;
      const [set2, slow2] = await Promise.all([ref.ask('set', { v: 8 }), ref.ask('slow')]);
      expect([set2, slow2]).toEqual([8, 8]);
      expect(calls).toEqual([{ state: 8 }]); // from now on, once
    });

    it(`(${kind}) that rejects crashes its entity once per attempt, then is dropped as poison; nothing goes unhandled`, async () => {
      const { store } = await openStore('memory');
      const h = await harness(store);
      const calls: Calls = [];
      const def = entity(calls, kind, () => true);
      h.runtime.register(def, { maxCommandAttempts: 3, backoff: { minMs: 1, maxMs: 1, randomFactor: 0 } });
      const ref = h.runtime.ref(def, 'poison');
      let slow: unknown;
      const asks = Promise.all([ref.ask('set', { v: 1 }), ref.ask('slow').catch((e: unknown) => e)]).then(([set, s]) => ((slow = s), set));
      // Each crash restarts the entity after a 1 ms backoff on the test clock.
      for (let i = 0; i < 10 && slow === undefined; i++) {
        await h.system.whenIdle();
        h.clock.advance(1);
      }
      expect(await asks).toBe(1);
      expect(slow).toMatchObject({ code: 'POISON_COMMAND', attempts: 3 });
      // Three attempts, one call each (a plain function's first, behind `set`, is the first attempt).
      expect(calls).toHaveLength(3);
      expect(await ref.ask('set', { v: 2 })).toBe(2); // the entity goes on
    });
  }

  it('(plain) called behind a write that fails, fails with it and is not called again', async () => {
    const { store: base } = await openStore('memory');
    const f = failingAppends(base);
    const h = await harness(f.store);
    const calls: Calls = [];
    const def = entity(calls, 'plain', () => false);
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'shares-fate');
    await ref.ask('set', { v: 3 });
    f.failNext(1);
    const [set, slow] = await Promise.all([ref.ask('set', { v: 9 }).catch((e: unknown) => e), ref.ask('slow').catch((e: unknown) => e)]);
    expect(set).toMatchObject({ code: 'PERSIST_FAILED' });
    // Called once, behind the write that failed (it saw 9, which never committed): it is answered
    // as that batch is, instead of being called a second time on 3.
    expect(slow).toMatchObject({ code: 'PERSIST_FAILED' });
    expect(calls).toEqual([{ state: 9 }]);
    expect(await ref.ask('slow')).toBe(3); // the entity goes on, on its real state
    expect(calls).toEqual([{ state: 9 }, { state: 3 }]);
  });

  it('(async) is not called behind a write that fails: it runs once, on the real state', async () => {
    const { store: base } = await openStore('memory');
    const f = failingAppends(base);
    const h = await harness(f.store);
    const calls: Calls = [];
    const def = entity(calls, 'async', () => false);
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'never-early');
    await ref.ask('set', { v: 3 });
    f.failNext(1);
    const [set, slow] = await Promise.all([ref.ask('set', { v: 9 }).catch((e: unknown) => e), ref.ask('slow')]);
    expect(set).toMatchObject({ code: 'PERSIST_FAILED' });
    expect(calls).toEqual([{ state: 3 }]);
    expect(slow).toBe(3);
  });
  it('(plain) its answer is not used after the write before it failed, even when the state it saw has the same value', async () => {
    const { store: base } = await openStore('memory');
    const f = failingAppends(base);
    const h = await harness(f.store);
    let calls = 0;
    const def = eventSourcedEntity('same-value')
      .initialState(() => 0)
      .events<{ type: 'Set'; v: number }>({ Set: (_s, e) => e.v })
      .command('set', z.object({ v: z.number() }), (_s, { v }, ctx) => ctx.emit({ type: 'Set', v }).thenReply((s) => s))
      .command('seen', (s, _i, ctx) => {
        calls++;
        const seen = { state: s, sequenceNr: ctx.sequenceNr };
        return Promise.resolve(ctx.reply(seen));
      });
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'x');
    await ref.ask('set', { v: 5 });
    f.failNext(1);
    const [set, seen] = await Promise.all([ref.ask('set', { v: 5 }).catch((e: { code?: string }) => e.code), ref.ask('seen').catch((e: { code?: string }) => e.code)]);
    expect(set).toBe('PERSIST_FAILED');
    // Behind the failed write it saw 5 at sequence number 2, which never committed.
    expect(seen).toBe('PERSIST_FAILED');
    expect(calls).toBe(1);
    expect(await ref.ask('seen')).toEqual({ state: 5, sequenceNr: 1 });
  });

  it('(plain) whose promise settles before the write it was called behind commits: nothing of it is written or answered before that commit', async () => {
    const { store: base } = await openStore('memory');
    const held = heldAppends(base);
    const h = await harness(held.store);
    const sideEffects: string[] = [];
    const def = eventSourcedEntity('early-answer')
      .initialState(() => 0)
      .events<{ type: 'Set'; v: number }>({ Set: (_s, e) => e.v })
      .command('set', z.object({ v: z.number() }), (_s, { v }, ctx) => ctx.emit({ type: 'Set', v }).thenReply((s) => s))
      .command('bump', (s, _i, ctx) => {
        sideEffects.push(`called on ${s}`);
        return Promise.resolve(ctx.emit({ type: 'Set', v: s + 1 }).thenReply((after) => ({ after, sequenceNr: ctx.sequenceNr })));
      });
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'e');
    const answers: unknown[] = [];
    const set = ref.ask('set', { v: 10 }).then((v) => answers.push(['set', v]));
    const bump = ref.ask('bump').then((v) => answers.push(['bump', v]));
    await until(() => held.held.length === 1, 'the first write');
    await h.system.whenIdle();
    expect(sideEffects).toEqual(['called on 10']); // called behind `set`, once; its promise has settled
    expect(answers).toEqual([]);
    held.held.shift()?.go(); // `set` commits: then `bump` goes on, at the head, and writes
    await until(() => held.held.length === 1, 'the second write');
    expect(answers).toEqual([['set', 10]]);
    held.held.shift()?.go();
    await Promise.all([set, bump]);
    expect(answers).toEqual([['set', 10], ['bump', { after: 11, sequenceNr: 2 }]]);
    expect(sideEffects).toEqual(['called on 10']);
    expect((await base.journal.read('early-answer|e')).map((e) => e.payload)).toEqual([{ type: 'Set', v: 10 }, { type: 'Set', v: 11 }]);
  });

  it('(plain) held behind a write when the runtime stops: it fails with ENTITY_STOPPED and writes nothing', async () => {
    const { store: base } = await openStore('memory');
    const held = heldAppends(base);
    const h = await harness(held.store, { drainTimeoutMs: 100 });
    let calls = 0;
    const def = eventSourcedEntity('stopped-early')
      .initialState(() => 0)
      .events<{ type: 'Set'; v: number }>({ Set: (_s, e) => e.v })
      .command('set', z.object({ v: z.number() }), (_s, { v }, ctx) => ctx.emit({ type: 'Set', v }).thenReply((s) => s))
      .command('bump', (s, _i, ctx) => {
        calls++;
        return Promise.resolve(ctx.emit({ type: 'Set', v: s + 1 }).thenReply((after) => after));
      });
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 's');
    const set = ref.ask('set', { v: 1 }, { timeout: Infinity });
    const bump = ref.ask('bump', undefined, { timeout: Infinity }).catch((e: { code?: string }) => e.code);
    await until(() => held.held.length === 1, 'the first write');
    const stopped = h.runtime.stop();
    await h.system.whenIdle();
    h.clock.advance(100); // the drain gives up: what is not in a write is failed
    expect(await bump).toBe('ENTITY_STOPPED');
    held.held.shift()?.go(); // the write in flight still answers its command
    expect(await set).toBe(1);
    await stopped;
    expect(calls).toBe(1);
    expect(await base.journal.highestSequenceNr('stopped-early|s')).toBe(1);
  });

  it('(async, stateless function) is called once, behind another command of its worker', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    let calls = 0;
    const mailer = statelessFunction('mailer')
      .command('ping', (_i, ctx) => ctx.reply('pong'))
      .command('send', async (_i: undefined, ctx) => {
        calls++;
        await Promise.resolve();
        return ctx.reply('sent');
      });
    h.runtime.register(mailer, { poolSize: 1 });
    const ref = h.runtime.ref(mailer, 'any');
    expect(await Promise.all([ref.ask('ping'), ref.ask('send')])).toEqual(['pong', 'sent']);
    expect(calls).toBe(1);
  });
});
