// Durable timers against a model (fast-check, memory store, manual clock): any sequence of
// schedules (new or replacing), cancels and clock moves delivers exactly the timers the model
// says are due — each once, never before its time — and none that was cancelled or replaced.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { createActorSystem, EntityRuntime, eventSourcedEntity, ManualClock, silentLogger } from '../../src/index.js';
import { createStore } from '../../src/persistence/index.js';

const T0 = Date.UTC(2030, 0, 1);

const box = eventSourcedEntity('box')
  .initialState(() => ({ fired: [] as { note: string; at: number }[] }))
  .events<{ type: 'Fired'; note: string; at: number }>({ Fired: (s, e) => ({ fired: [...s.fired, { note: e.note, at: e.at }] }) })
  .command('set', z.object({ name: z.string(), after: z.number(), note: z.string() }), (_s, i, ctx) => {
    ctx.schedule(i.name, { after: i.after }, 'fire', { note: i.note });
    return ctx.none().reply('ok');
  })
  .command('cancel', z.object({ name: z.string() }), (_s, i, ctx) => {
    ctx.cancel(i.name);
    return ctx.none().reply('ok');
  })
  .command('fire', z.object({ note: z.string() }), (_s, i, ctx) => ctx.emit({ type: 'Fired', note: i.note, at: ctx.now() }).reply('ok'))
  .command('get', (s, _i, ctx) => ctx.reply(s.fired));

type Op =
  | { readonly kind: 'set'; readonly entity: number; readonly name: string; readonly after: number }
  | { readonly kind: 'cancel'; readonly entity: number; readonly name: string }
  | { readonly kind: 'advance'; readonly ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), entity: fc.nat(2), name: fc.constantFrom('a', 'b', 'c'), after: fc.integer({ min: 1, max: 3000 }) }),
  fc.record({ kind: fc.constant('cancel' as const), entity: fc.nat(2), name: fc.constantFrom('a', 'b', 'c') }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2000 }) }),
);

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('durable timers against a model', () => {
  it('deliver exactly what is due, once, never early; cancelled and replaced timers never', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const store = await createStore({ kind: 'memory' });
        const clock = new ManualClock({ wall: T0 });
        const system = createActorSystem({ clock, logger: silentLogger });
        const runtime = new EntityRuntime(system, { store, timers: { pollIntervalMs: 500 } });
        runtime.register(box, { idleTimeoutMs: Infinity });
        try {
          // The model: per entity and name, the pending timer's note and due time.
          const pending = new Map<string, { note: string; due: number }>();
          const expected = new Map<number, { note: string; due: number }[]>();
          let seq = 0;
          const deliverDue = (): void => {
            for (const [key, t] of [...pending]) {
              if (t.due > clock.systemTime()) continue;
              pending.delete(key);
              const entity = Number(key.split('/')[0]);
              (expected.get(entity) ?? expected.set(entity, []).get(entity))?.push(t);
            }
          };
          for (const op of [...ops, { kind: 'advance', ms: 10_000 } as const]) {
            if (op.kind === 'set') {
              const note = `${op.name}#${seq++}`;
              await runtime.ref(box, String(op.entity)).ask('set', { name: op.name, after: op.after, note });
              pending.set(`${op.entity}/${op.name}`, { note, due: clock.systemTime() + op.after });
            } else if (op.kind === 'cancel') {
              await runtime.ref(box, String(op.entity)).ask('cancel', { name: op.name });
              pending.delete(`${op.entity}/${op.name}`);
            } else {
              clock.advance(op.ms);
              await runtime.timers.idle();
              deliverDue();
            }
          }
          for (let e = 0; e < 3; e++) {
            const fired = (await runtime.ref(box, String(e)).ask('get')) as { note: string; at: number }[];
            const want = expected.get(e) ?? [];
            expect(fired.map((f) => f.note).sort()).toEqual(want.map((w) => w.note).sort());
            for (const f of fired) expect(f.at).toBeGreaterThanOrEqual((want.find((w) => w.note === f.note) as { due: number }).due);
          }
          expect(await store.timers.list()).toEqual([]);
          expect(runtime.timers.stats()).toMatchObject({ failed: 0, inFlight: 0 });
        } finally {
          await system.stop();
          await store.close();
        }
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});
