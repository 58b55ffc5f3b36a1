import { describe, expect, it } from 'vitest';
import { type ActorRef, createActorSystem, type ExitReason, type Logger, ManualClock } from '../../src/index.js';
import { testSystem } from './support.js';

describe('actor system', () => {
  it('stop() stops every actor, newest first, with reason shutdown', async () => {
    const { system } = testSystem();
    const order: string[] = [];
    const make = (name: string): ActorRef =>
      system.spawn(
        {
          init: (ctx) => {
            ctx.trapExit = true;
            return undefined;
          },
          receive: (s: undefined) => s,
          terminate: (_s: undefined, r: ExitReason) => void order.push(`${name}:${String(r)}`),
        },
        { name },
      );
    make('first');
    make('second');
    make('third');
    await system.stop();
    expect(order).toEqual(['third:shutdown', 'second:shutdown', 'first:shutdown']);
    expect(system.actorCount).toBe(0);
    expect(system.stopped).toBe(true);
  });

  it('stop() kills an actor whose terminate takes longer than shutdownTimeout', async () => {
    const clock = new ManualClock();
    const system = createActorSystem({ clock, shutdownTimeout: 1000 });
    const ref = system.spawn({ receive: (s: undefined) => s, terminate: () => new Promise<void>(() => {}) });
    const stopping = system.stop();
    await new Promise((r) => setImmediate(r));
    expect(ref.alive).toBe(true);
    clock.advance(1000);
    await stopping;
    expect(await system.awaitExit(ref)).toBe('killed');
  });

  it('refuses to spawn once stopped: SYSTEM_STOPPED', async () => {
    const { system } = testSystem();
    await system.stop();
    expect(() => system.spawn({ receive: (s: undefined) => s })).toThrow(expect.objectContaining({ code: 'SYSTEM_STOPPED' }));
  });

  it('await using stops the system', async () => {
    let ref: ActorRef | undefined;
    {
      await using system = createActorSystem();
      ref = system.spawn({ receive: (s: undefined) => s });
      expect(ref.alive).toBe(true);
    }
    expect(ref.alive).toBe(false);
  });

  it('validates its options with INVALID_OPTION naming the field', () => {
    expect(() => createActorSystem({ askTimeout: -1 })).toThrow(expect.objectContaining({ field: 'askTimeout' }));
    expect(() => createActorSystem({ messages: 'copy' as never })).toThrow(expect.objectContaining({ field: 'messages' }));
    expect(() => createActorSystem({ scheduler: { throughput: 0 } })).toThrow(expect.objectContaining({ field: 'scheduler.throughput' }));
    expect(() => createActorSystem({ stashCapacity: -2 })).toThrow(expect.objectContaining({ field: 'stashCapacity' }));
  });

  it('refuses a behavior without receive', () => {
    const { system } = testSystem();
    expect(() => system.spawn({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', field: 'behavior.receive' }));
  });

  it('logs crashes as structured reports through the logger, silent by default', async () => {
    const records: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
    const make = (bindings: Record<string, unknown>): Logger => ({
      debug: (obj, msg) => records.push({ level: 'debug', obj: { ...bindings, ...obj }, msg }),
      info: (obj, msg) => records.push({ level: 'info', obj: { ...bindings, ...obj }, msg }),
      warn: (obj, msg) => records.push({ level: 'warn', obj: { ...bindings, ...obj }, msg }),
      error: (obj, msg) => records.push({ level: 'error', obj: { ...bindings, ...obj }, msg }),
      child: (b) => make({ ...bindings, ...b }),
    });
    const { system } = testSystem({ logger: make({}), name: 'sys1' });
    const boom = new Error('boom');
    const ref = system.spawn<string, undefined>({
      receive() {
        throw boom;
      },
    });
    ref.tell('poison');
    await system.awaitExit(ref);
    const crash = records.find((r) => r.msg === 'actor crashed');
    expect(crash).toMatchObject({ level: 'error', obj: { system: 'sys1', reason: boom, message: 'poison', actor: String(ref) } });
  });
});

describe('message passing modes (development aid)', () => {
  it("'freeze' makes a sender's later mutation throw instead of leaking into the receiver", async () => {
    const { system } = testSystem({ messages: 'freeze' });
    const got: { items: string[] }[] = [];
    const ref = system.spawn<{ items: string[] }, undefined>({
      receive(s, m) {
        got.push(m);
        return s;
      },
    });
    const msg = { items: ['a'] };
    ref.tell(msg);
    expect(() => msg.items.push('b')).toThrow(TypeError);
    await system.whenIdle();
    expect(got[0]?.items).toEqual(['a']);
  });

  it("'clone' gives the receiver its own copy", async () => {
    const { system } = testSystem({ messages: 'clone' });
    const got: { items: string[] }[] = [];
    const ref = system.spawn<{ items: string[] }, undefined>({
      receive(s, m) {
        got.push(m);
        return s;
      },
    });
    const msg = { items: ['a'] };
    ref.tell(msg);
    msg.items.push('mutated after sending');
    await system.whenIdle();
    expect(got[0]).not.toBe(msg);
    expect(got[0]?.items).toEqual(['a']);
  });

  it("'reference' (the default) shares the object", async () => {
    const { system } = testSystem();
    const got: unknown[] = [];
    const ref = system.spawn<object, undefined>({
      receive(s, m) {
        got.push(m);
        return s;
      },
    });
    const msg = {};
    ref.tell(msg);
    await system.whenIdle();
    expect(got[0]).toBe(msg);
  });
});
