// The runtime keeps working when user code around it misbehaves, when development message modes
// are on, and when things die at awkward moments: each case here once stopped an actor, the
// whole system, or the process, or leaked a timer.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ActorRef, EntityRuntime, eventSourcedEntity, startDynamicSupervisor, startSupervisor } from '../../src/index.js';
import { createStore } from '../../src/persistence/index.js';
import { deferred, recordEvents, testSystem } from './support.js';

describe('user callbacks that throw', () => {
  it('a monitor callback that throws is logged: the death completes, other actors run, stop() ends', async () => {
    const errors: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (_o: object, msg?: string) => void errors.push(msg ?? ''), child: () => logger };
    const { system } = testSystem({ logger });
    const a = system.spawn<string, undefined>({
      receive(s, m) {
        if (m === 'crash') throw new Error('boom');
        return s;
      },
    });
    system.monitor(a, () => {
      throw new Error('callback bug');
    });
    const exited = system.awaitExit(a);
    a.tell('crash');
    await expect(exited).resolves.toBeInstanceOf(Error);
    const b = system.spawn<string, number, number>({ init: () => 0, receive: (s, _m, ctx) => (ctx.reply(s + 1), s + 1) });
    expect(await b.ask('x')).toBe(1);
    expect(errors).toContain('monitor callback failed');
    await system.stop();
  });
});

describe("messages: 'freeze'", () => {
  it('freezes the data of a message, not the refs in it (nor, through them, the system)', async () => {
    const { system } = testSystem({ messages: 'freeze' });
    let got: { from: ActorRef; data: { n: number } } | undefined;
    const a = system.spawn<{ from: ActorRef; data: { n: number } }, undefined>({
      receive(s, m) {
        got = m;
        return s;
      },
    });
    const sender = system.spawn<string, undefined>({ receive: (s) => s });
    a.tell({ from: sender, data: { n: 1 } });
    await system.whenIdle();
    expect(Object.isFrozen(got)).toBe(true);
    expect(Object.isFrozen(got?.data)).toBe(true);
    expect(Object.isFrozen(sender)).toBe(false);
    expect(Object.isFrozen(system)).toBe(false);
    const c = system.spawn<string, number, number>({ init: () => 0, receive: (s, _m, ctx) => (ctx.reply(s), s) });
    expect(await c.ask('q')).toBe(0);
  });
});

describe('development message modes and the runtime', () => {
  for (const messages of ['freeze', 'clone'] as const) {
    it(`(${messages}) supervisors: start and terminate children, retry a failed restart`, async () => {
      const { system } = testSystem({ messages });
      const worker = { receive: (s: undefined) => s };
      const sup = await startSupervisor(system, { children: [] });
      expect(await sup.startChild({ id: 'a', start: (ctx) => ctx.spawn(worker) })).toBeDefined();
      const dyn = await startDynamicSupervisor(system, { child: { start: (ctx) => ctx.spawn(worker) } });
      const child = await dyn.startChild();
      if (child === undefined) throw new Error('no child');
      await dyn.terminateChild(child);
      expect(child.alive).toBe(false);
      // A restart whose start fails is retried by a message the supervisor sends itself.
      let starts = 0;
      const flaky = await startSupervisor(system, {
        intensity: 10,
        children: [
          {
            id: 'flaky', // no backoff: the retry is a message the supervisor tells itself
            start: (ctx) => {
              if (++starts === 2) throw new Error('start fails once');
              return ctx.spawn(worker);
            },
          },
        ],
      });
      const [c] = await flaky.whichChildren();
      if (c?.ref === undefined) throw new Error('no child');
      system.exit(c.ref, new Error('crash'));
      for (let i = 0; i < 10 && starts < 3; i++) await system.whenIdle();
      expect(starts).toBe(3);
      expect(flaky.ref.alive).toBe(true);
    });

    it(`(${messages}) entities: their actors' own wake-ups are symbols, passed as they are`, async () => {
      const { system } = testSystem({ messages });
      const counter = eventSourcedEntity('counter')
        .initialState(() => 0)
        .events<{ type: 'Added'; n: number }>({ Added: (s, e) => s + e.n })
        .command('add', z.object({ n: z.number() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((s) => s));
      const runtime = new EntityRuntime(system, { store: await createStore({ kind: 'memory' }) });
      runtime.register(counter);
      const ref = runtime.ref(counter, 'c');
      expect(await Promise.all([ref.ask('add', { n: 1 }), ref.ask('add', { n: 2 })])).toEqual([1, 3]);
    });
  }
});

describe('sendAfter', () => {
  it('is cancelled when its target dies (at once if it is dead), and by stop()', async () => {
    const { system, clock } = testSystem();
    const a = system.spawn<string, undefined>({ receive: (s) => s });
    system.sendAfter(a, 'late', 100_000);
    expect(clock.pending).toBe(1);
    system.kill(a);
    expect(clock.pending).toBe(0);
    const dead = system.sendAfter(a, 'later', 100);
    expect(clock.pending).toBe(0);
    expect(dead.cancel()).toBe(false);
    const b = system.spawn<string, undefined>({ receive: (s) => s });
    system.sendAfter(b, 'much later', 100_000);
    expect(clock.pending).toBe(1);
    await system.stop();
    expect(clock.pending).toBe(0);
  });

  it('into a full mailbox that refuses: a dead letter, not a throw out of the timer', async () => {
    const { system, clock } = testSystem();
    const events = recordEvents(system, ['dead-letter']);
    const gate = deferred();
    const a = system.spawn<string, undefined>({ receive: async (s) => (await gate.promise, s) }, { mailbox: { capacity: 1, overflow: 'fail' } });
    a.tell('busy');
    await system.whenIdle(); // handling 'busy' (awaiting the gate)
    a.tell('fills');
    system.sendAfter(a, 'late', 10);
    expect(() => clock.advance(10)).not.toThrow();
    expect(events).toMatchObject([{ type: 'dead-letter', message: 'late' }]);
    gate.resolve();
  });
});

describe('bounded mailboxes', () => {
  it('count only user messages, and never evict the runtime\'s own (a down notification)', async () => {
    const { system } = testSystem();
    const target = system.spawn<string, undefined>({ receive: (s) => s });
    const seen: string[] = [];
    const watcher = system.spawn<string, undefined>(
      {
        init: (ctx) => (ctx.monitor(target), undefined),
        receive: (s, m) => (seen.push(`msg:${m}`), s),
        onDown: (s, d) => (seen.push(`down:${String(d.reason)}`), s),
      },
      { mailbox: { capacity: 2, overflow: 'drop-oldest' } },
    );
    await system.whenIdle();
    system.kill(target); // a `down` is queued for the watcher
    for (const m of ['m1', 'm2', 'm3']) watcher.tell(m); // m3 evicts m1, not the down
    await system.whenIdle();
    expect(seen).toEqual(['down:killed', 'msg:m2', 'msg:m3']);
  });
});

describe('bounded mailboxes and the runtime\'s own items, kept in step', () => {
  it('a down flushed by demonitor gives its place back: the bound still holds', async () => {
    const { system } = testSystem();
    const gate = deferred();
    const handled: unknown[] = [];
    const a = system.spawn<string | number, undefined>(
      {
        async receive(s, m, ctx) {
          if (m === 'churn') {
            for (let i = 0; i < 5; i++) {
              const b = system.spawn<string, undefined>({ receive: (st) => st });
              const mon = ctx.monitor(b);
              system.kill(b); // a down is queued…
              ctx.demonitor(mon, { flush: true }); // …and flushed
            }
          } else if (m === 'block') {
            await gate.promise;
          } else {
            handled.push(m);
          }
          return s;
        },
      },
      { mailbox: { capacity: 1 } },
    );
    a.tell('churn');
    await system.whenIdle();
    a.tell('block');
    await system.whenIdle();
    for (let i = 1; i <= 10; i++) a.tell(i);
    gate.resolve();
    await system.whenIdle();
    expect(handled).toEqual([1]);
  });

  it('a stashed down that comes back is the runtime\'s again: a timer tick queued beside it is never evicted', async () => {
    const { system, clock } = testSystem();
    const g1 = deferred();
    const g2 = deferred();
    const b = system.spawn<string, undefined>({ receive: (s) => s });
    let ticks = 0;
    let downs = 0;
    const a = system.spawn<string | number, undefined>(
      {
        init: (ctx) => (ctx.monitor(b), ctx.timers.startInterval('k', 'tick', 10), undefined),
        async receive(s, m, ctx) {
          if (m === 'tick') ticks++;
          if (m === 'go') {
            ctx.unstashAll();
            await g1.promise;
          }
          return s;
        },
        async onDown(s, _d, ctx) {
          if (++downs === 1) ctx.stash();
          else await g2.promise;
          return s;
        },
      },
      { mailbox: { capacity: 2, overflow: 'drop-oldest' } },
    );
    system.kill(b);
    await system.whenIdle();
    a.tell('go');
    await system.whenIdle();
    clock.advance(10); // a tick queues behind the unstashed down
    g1.resolve();
    await system.whenIdle();
    a.tell(1);
    a.tell(2);
    g2.resolve();
    await system.whenIdle();
    for (let i = 0; i < 10; i++) {
      clock.advance(10);
      await system.whenIdle();
    }
    expect(ticks).toBeGreaterThanOrEqual(10); // the interval goes on
  });
});

describe('after death', () => {
  it('a timer started by a killed actor\'s async handler is not armed', async () => {
    const { system, clock } = testSystem();
    const gate = deferred();
    const a = system.spawn<string, undefined>({
      async receive(s, _m, ctx) {
        await gate.promise;
        ctx.timers.startInterval('tick', 'tick', 50);
        return s;
      },
    });
    a.tell('go');
    await system.whenIdle();
    system.kill(a);
    gate.resolve();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(clock.pending).toBe(0);
  });

  it('stash() then stop() in one handler: terminate runs after the handler, with its new state', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const a = system.spawn<string, number>({
      init: () => 0,
      receive(s, m, ctx) {
        ctx.stash();
        ctx.stop('normal');
        log.push(`handler went on after stop(), alive=${String(ctx.self.alive)}`);
        return s + 1;
      },
      terminate: (s) => void log.push(`terminate state=${s}`),
    });
    a.tell('x');
    await system.whenIdle();
    expect(log).toEqual(['handler went on after stop(), alive=true', 'terminate state=1']);
  });
});

describe('supervisor calls', () => {
  it('a static supervisor answers a call it does not know (through its untyped ref) and goes on', async () => {
    const { system } = testSystem();
    const sup = await startSupervisor(system, { children: [] });
    await expect(sup.ref.ask({ op: 'bogus' } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    expect(await sup.countChildren()).toMatchObject({ specs: 0 });
  });
});
