// Each command has a ctx of its own: what a handler, its reply step, its side effects read there
// is about that command, also when commands share a batch (sent in one tick to an idle entity,
// they do), and also long after it ran.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity, type EventSourcedContext, valueEntity } from '../../src/index.js';
import type { Logger } from '../../src/logger.js';
import { harness, openStore, until } from './support.js';

type Event = { type: 'Deposited'; amount: number } | { type: 'Withdrawn'; amount: number };

function account(sideEffects: string[] = []) {
  return eventSourcedEntity('account')
    .initialState(() => ({ balance: 0 }))
    .events<Event>({
      Deposited: (s, e) => ({ balance: s.balance + e.amount }),
      Withdrawn: (s, e) => ({ balance: s.balance - e.amount }),
    })
    .command('deposit', z.object({ amount: z.number() }), (_s, { amount }, ctx) =>
      ctx
        .emit({ type: 'Deposited', amount })
        .thenRun(() => void sideEffects.push(`${ctx.command} at ${ctx.sequenceNr}`))
        .thenReply(() => ctx.sequenceNr),
    )
    .command('withdraw', z.object({ amount: z.number() }), (_s, { amount }, ctx) =>
      ctx
        .emit({ type: 'Withdrawn', amount })
        .thenRun(() => void sideEffects.push(`${ctx.command} at ${ctx.sequenceNr}`))
        .thenReply(() => ctx.sequenceNr),
    )
    .command('look', (_s, _i, ctx) => ctx.none().thenReply(() => `${ctx.command} at ${ctx.sequenceNr}`));
}

describe('ctx is each command’s own', () => {
  it('three concurrent deposits read their own sequence numbers in thenReply: 2, 3, 4', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const def = account();
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'alice');
    expect(await ref.ask('deposit', { amount: 100 })).toBe(1);
    const replies = await Promise.all([ref.ask('deposit', { amount: 1 }), ref.ask('deposit', { amount: 2 }), ref.ask('deposit', { amount: 3 })]);
    expect(replies).toEqual([2, 3, 4]);
    expect(await store.journal.highestSequenceNr('account|alice')).toBe(4);
  });

  it('the command name and sequence number in side effects and replies of a mixed batch are each command’s own', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const sideEffects: string[] = [];
    const def = account(sideEffects);
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'bob');
    const replies = await Promise.all([ref.ask('deposit', { amount: 5 }), ref.ask('look'), ref.ask('withdraw', { amount: 2 }), ref.ask('look')]);
    expect(replies).toEqual([1, 'look at 1', 2, 'look at 2']);
    expect(sideEffects).toEqual(['deposit at 1', 'withdraw at 2']);
  });

  it('a ctx read after later commands committed still tells its own command', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const kept: EventSourcedContext<number, { type: 'Inc' }>[] = [];
    const def = eventSourcedEntity('keeper')
      .initialState(() => 0)
      .events<{ type: 'Inc' }>({ Inc: (n) => n + 1 })
      .command('inc', (_s, _i, ctx) => {
        kept.push(ctx);
        return ctx.emit({ type: 'Inc' }).thenReply((n) => n);
      });
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'k');
    await Promise.all([ref.ask('inc'), ref.ask('inc')]);
    await ref.ask('inc');
    expect(kept.map((c) => c.sequenceNr)).toEqual([1, 2, 3]);
    expect(kept.map((c) => c.command)).toEqual(['inc', 'inc', 'inc']);
  });

  it('a value entity: the handler reads the revision it was handled at, its reply the revision its write made', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const def = valueEntity('box')
      .initialState(() => 0)
      .command('set', z.number(), (_s, v, ctx) => {
        const before = ctx.revision;
        return ctx.update(v).thenReply(() => ({ before, after: ctx.revision }));
      });
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'b');
    expect(await ref.ask('set', 1)).toEqual({ before: 0, after: 1 });
    // One batch, one write: they share the revision before it and the one it made.
    expect(await Promise.all([ref.ask('set', 2), ref.ask('set', 3)])).toEqual([
      { before: 1, after: 2 },
      { before: 1, after: 2 },
    ]);
  });

  it('a failed side effect is logged with the command it belongs to, not the batch’s last', async () => {
    const { store } = await openStore('memory');
    const logged: { command?: unknown; msg: string }[] = [];
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (obj: unknown, msg?: string) => void logged.push({ command: (obj as { command?: unknown }).command, msg: msg ?? '' }),
      child: () => logger,
    };
    const h = await harness(store, { logger });
    const def = eventSourcedEntity('effects')
      .initialState(() => 0)
      .events<{ type: 'Inc' }>({ Inc: (n) => n + 1 })
      .command('breaks', (_s, _i, ctx) =>
        ctx.emit({ type: 'Inc' }).thenRun(() => {
          throw new Error('side effect broke');
        }),
      )
      .command('fine', (_s, _i, ctx) => ctx.emit({ type: 'Inc' }).thenReply((n) => n));
    h.runtime.register(def);
    const ref = h.runtime.ref(def, 'e');
    await Promise.all([ref.ask('breaks'), ref.ask('fine')]);
    await until(() => logged.length > 0, 'the log');
    expect(logged).toEqual([{ command: 'breaks', msg: 'side effect failed' }]);
  });
});
