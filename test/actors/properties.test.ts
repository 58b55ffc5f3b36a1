import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ActorRef, type Behavior, createActorSystem, type InspectionEvent, silentLogger } from '../../src/index.js';

describe('properties', () => {
  it('per-sender FIFO holds for any interleaving of senders, tells, asks and async handlers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ sender: fc.nat(5), ask: fc.boolean() }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
        async (senderCount, schedule, asyncPattern) => {
          await using system = createActorSystem();
          const received: [number, number][] = [];
          let k = 0;
          type Item = { from: number; seq: number };
          const receiver = system.spawn<Item, undefined, boolean>({
            receive(s, m, ctx) {
              const isAsync = asyncPattern[k++ % asyncPattern.length];
              if (isAsync) {
                return Promise.resolve().then(() => {
                  received.push([m.from, m.seq]);
                  ctx.reply(true);
                  return s;
                });
              }
              received.push([m.from, m.seq]);
              ctx.reply(true);
              return s;
            },
          });
          // Each sender is an actor; the schedule decides which sender sends next.
          const senders: ActorRef<{ ask: boolean }>[] = [];
          const pendingAsks: Promise<unknown>[] = [];
          for (let i = 0; i < senderCount; i++) {
            let seq = 0;
            senders.push(
              system.spawn<{ ask: boolean }, undefined>({
                receive(s, m) {
                  const item = { from: i, seq: seq++ };
                  if (m.ask) pendingAsks.push(receiver.ask(item));
                  else receiver.tell(item);
                  return s;
                },
              }),
            );
          }
          const sent = new Array<number>(senderCount).fill(0);
          for (const step of schedule) {
            const i = step.sender % senderCount;
            sent[i] = (sent[i] as number) + 1;
            (senders[i] as ActorRef<{ ask: boolean }>).tell({ ask: step.ask });
          }
          await system.whenIdle();
          await Promise.all(pendingAsks);
          await system.whenIdle();
          // Every message arrived once, and each sender's in the order sent.
          expect(received).toHaveLength(schedule.length);
          for (let i = 0; i < senderCount; i++) {
            const seqs = received.filter(([f]) => f === i).map(([, s]) => s);
            expect(seqs).toEqual(Array.from({ length: sent[i] as number }, (_, n) => n));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  type Op =
    | { kind: 'tell' }
    | { kind: 'ask' }
    | { kind: 'crash-next' }
    | { kind: 'stop' }
    | { kind: 'kill' }
    | { kind: 'exit'; reason: 'shutdown' | 'normal' }
    | { kind: 'yield' };

  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Op>({ kind: 'tell' }) },
    { weight: 4, arbitrary: fc.constant<Op>({ kind: 'ask' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ kind: 'crash-next' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ kind: 'stop' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ kind: 'kill' }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('exit' as const), reason: fc.constantFrom('shutdown' as const, 'normal' as const) }) },
    { weight: 3, arbitrary: fc.constant<Op>({ kind: 'yield' }) },
  );

  it('no message is handled twice or after its actor stopped, and every message is accounted for', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 120 }), fc.boolean(), async (ops, asyncHandler) => {
        await using system = createActorSystem({ logger: silentLogger }); // its actors crash on purpose
        const log: string[] = []; // handled:N and died, in the order they happened
        const deadLetters = new Set<number>();
        system.events.subscribe((e: InspectionEvent) => {
          if (e.type === 'dead-letter') deadLetters.add((e.message as { n: number }).n);
          if (e.type === 'actor.stopped') log.push('died');
        });
        type M = { n: number; crash: boolean };
        const behavior: Behavior<M, undefined, number> = {
          receive(s, m, ctx) {
            const finish = (): undefined => {
              log.push(`handled:${m.n}`);
              if (m.crash) throw new Error(`crash at ${m.n}`);
              ctx.reply(m.n);
              return s;
            };
            return asyncHandler ? Promise.resolve().then(finish) : finish();
          },
        };
        const ref = system.spawn(behavior);
        let n = 0;
        let crashNext = false;
        const told: number[] = [];
        const asks: { n: number; outcome: Promise<'replied' | 'rejected'> }[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case 'tell':
              told.push(n);
              ref.tell({ n: n++, crash: crashNext });
              crashNext = false;
              break;
            case 'ask': {
              const id = n++;
              const p = ref.ask({ n: id, crash: crashNext }).then(
                (v) => {
                  expect(v).toBe(id);
                  return 'replied' as const;
                },
                () => 'rejected' as const,
              );
              crashNext = false;
              asks.push({ n: id, outcome: p });
              break;
            }
            case 'crash-next':
              crashNext = true;
              break;
            case 'stop':
              void ref.stop();
              break;
            case 'kill':
              system.kill(ref);
              break;
            case 'exit':
              system.exit(ref, o.reason);
              break;
            case 'yield':
              await new Promise((r) => setImmediate(r));
              break;
          }
        }
        await system.whenIdle();
        const outcomes = await Promise.all(asks.map((a) => a.outcome));
        await system.stop();

        const handled = log.filter((l) => l.startsWith('handled:')).map((l) => Number(l.slice(8)));
        // Never twice.
        expect(new Set(handled).size).toBe(handled.length);
        // Never after death (a death is logged once, and nothing is handled after it).
        const deathAt = log.indexOf('died');
        expect(log.filter((l) => l === 'died').length).toBeLessThanOrEqual(1);
        if (deathAt >= 0) expect(log.slice(deathAt + 1).filter((l) => l.startsWith('handled:'))).toEqual([]);
        // Every told message was either handled or became a dead letter, never both.
        for (const t of told) {
          expect(handled.includes(t) !== deadLetters.has(t)).toBe(true);
        }
        // Every ask settled exactly once; a replied ask was handled.
        asks.forEach((a, i) => {
          if (outcomes[i] === 'replied') expect(handled).toContain(a.n);
        });
      }),
      { numRuns: 150 },
    );
  });
});
