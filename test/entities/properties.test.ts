import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity } from '../../src/index.js';
import { createStore, StoreUnavailableError, type Store } from '../../src/persistence/index.js';
import { counter, harness, type Harness, until } from './support.js';

type Op =
  | { kind: 'add'; values: number[] } // sent concurrently
  | { kind: 'crash' }
  | { kind: 'passivate' }
  | { kind: 'restart' }
  | { kind: 'failing-add'; n: number }
  | { kind: 'snapshot-every'; every: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), values: fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'crash' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'passivate' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'restart' }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('failing-add' as const), n: fc.integer({ min: 1, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot-every' as const), every: fc.integer({ min: 1, max: 5 }) }) },
);

/** A memory store whose next append can be made to fail as if the database went away (nothing written). */
function withFailingAppends(store: Store): { store: Store; failNext(): void } {
  let fail = false;
  const journal = new Proxy(store.journal, {
    get(t, key) {
      if (key === 'append') {
        return (...args: Parameters<Store['journal']['append']>) => {
          if (fail) {
            fail = false;
            return Promise.reject(new StoreUnavailableError('database went away'));
          }
          return t.append(...args);
        };
      }
      const v: unknown = Reflect.get(t, key, t);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  return { store: { ...store, journal, close: () => store.close(), [Symbol.asyncDispose]: () => store.close() }, failNext: () => (fail = true) };
}

const settings = { idleTimeoutMs: 1000, maxCommandAttempts: 1, backoff: { minMs: 5, maxMs: 5, randomFactor: 0 } };

describe('entity state is the fold of acknowledged events', () => {
  it('for any sequence of commands, crashes, passivations, restarts and failed writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const base = await createStore({ kind: 'memory' });
        const faulty = withFailingAppends(base);
        let h: Harness = await harness(faulty.store);
        let every = 0;
        h.runtime.register(counter, { ...settings, snapshotEvery: every });
        const acked: number[] = []; // the events whose commands were acknowledged, in order
        const c = () => h.runtime.ref(counter, 'p');
        for (const o of ops) {
          switch (o.kind) {
            case 'add': {
              const replies = await Promise.all(o.values.map((n) => c().ask('add', { n })));
              // Each reply is the state right after that command: a prefix sum of everything acked.
              for (let i = 0; i < o.values.length; i++) {
                acked.push(o.values[i] as number);
                expect(replies[i]).toBe(acked.reduce((a, b) => a + b, 0));
              }
              break;
            }
            case 'crash': {
              const p = c().ask('crash');
              await until(() => h.events.some((e) => e.type === 'actor.stopped' && e.reason instanceof Error && !(e.reason as { code?: string }).code), 'crash');
              h.events.length = 0;
              h.clock.advance(5);
              await expect(p).rejects.toMatchObject({ code: 'POISON_COMMAND' });
              break;
            }
            case 'passivate':
              h.clock.advance(1000);
              await until(() => h.runtime.activeEntities === 0, 'passivation');
              break;
            case 'restart':
              h = await h.restart();
              h.runtime.register(counter, { ...settings, snapshotEvery: every });
              break;
            case 'failing-add':
              faulty.failNext();
              await expect(c().ask('add', { n: o.n })).rejects.toMatchObject({ code: 'PERSIST_FAILED' });
              break;
            case 'snapshot-every':
              every = o.every;
              h = await h.restart();
              h.runtime.register(counter, { ...settings, snapshotEvery: every });
              break;
          }
          // After every step: the live state is the fold of the acknowledged events…
          expect(await c().ask('get')).toBe(acked.reduce((a, b) => a + b, 0));
        }
        // …and the journal holds exactly those events: none missing, none extra.
        const events = await base.journal.read('counter|p');
        expect(events.map((e) => (e.payload as { n: number }).n)).toEqual(acked);
        expect(events.map((e) => e.sequenceNr)).toEqual(acked.map((_, i) => i + 1));
        await h.system.stop();
      }),
      { numRuns: 60 },
    );
  });
});

describe('a batch is handled as if its commands ran one by one', () => {
  // Each command emits 0 to 3 events and replies with what its handler saw (the state and
  // ctx.sequenceNr) and what its reply step sees (the state after it, and ctx.sequenceNr and
  // ctx.command read again there). Sent all at once they share batches; one by one they do not.
  const tally = eventSourcedEntity('tally')
    .initialState(() => ({ events: 0 }))
    .events<{ type: 'Ticked' }>({ Ticked: (s) => ({ events: s.events + 1 }) })
    .command('tick', z.object({ k: z.number().int() }), (s, { k }, ctx) => {
      const saw = { events: s.events, sequenceNr: ctx.sequenceNr };
      const effect = k === 0 ? ctx.none() : ctx.emit(...Array.from({ length: k }, () => ({ type: 'Ticked' as const })));
      return effect.thenReply((after) => ({ saw, after: { events: after.events, sequenceNr: ctx.sequenceNr, command: ctx.command } }));
    })
    .command('peek', (s, _i, ctx) => ctx.none().thenReply(() => ({ saw: { events: s.events, sequenceNr: ctx.sequenceNr }, after: { events: s.events, sequenceNr: ctx.sequenceNr, command: ctx.command } })));

  it('for any counts of events: the same state and ctx in every handler and every reply step', async () => {
    await fc.assert(
      // -1: a `peek` (another command, no events) between the ticks.
      fc.asyncProperty(fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 1, maxLength: 12 }), async (ks) => {
        const h = await harness(await createStore({ kind: 'memory' }));
        h.runtime.register(tally);
        const send = (id: string, k: number) => (k < 0 ? h.runtime.ref(tally, id).ask('peek') : h.runtime.ref(tally, id).ask('tick', { k }));
        const together = await Promise.all(ks.map((k) => send('together', k)));
        const alone: unknown[] = [];
        for (const k of ks) alone.push(await send('alone', k));
        expect(together).toEqual(alone);
        ks.forEach((k, i) => {
          const { saw, after } = together[i] as { saw: { events: number; sequenceNr: number }; after: { events: number; sequenceNr: number; command: string } };
          expect(saw.sequenceNr).toBe(saw.events);
          // In its reply: its own events are in, the later commands' are not, and the command is its own.
          expect(after).toEqual({ events: saw.events + Math.max(k, 0), sequenceNr: saw.events + Math.max(k, 0), command: k < 0 ? 'peek' : 'tick' });
        });
        await h.system.stop();
      }),
      { numRuns: 50 },
    );
  });
});
