import { describe, expect, it } from 'vitest';
import { type ActorContext, type ActorRef, type Behavior, type ExitMessage, type ExitReason } from '../../src/index.js';
import { deferred, testSystem } from './support.js';

/** An actor that does nothing but can be told to crash, link, or stop. */
type Cmd = { crash: Error } | { link: ActorRef } | { exit: ExitReason } | 'stop';
const idle: Behavior<Cmd, undefined> = {
  receive(s, cmd, ctx) {
    if (cmd === 'stop') ctx.stop();
    else if ('crash' in cmd) throw cmd.crash;
    else if ('link' in cmd) ctx.link(cmd.link);
    else ctx.stop(cmd.exit);
    return s;
  },
};

/** A trapping actor that records exit messages. */
function trapper(exits: ExitMessage[]): Behavior<Cmd, undefined> {
  return {
    ...idle,
    init(ctx: ActorContext<Cmd>) {
      ctx.trapExit = true;
      return undefined;
    },
    onExit(s, msg) {
      exits.push(msg);
      return s;
    },
  };
}

describe('links', () => {
  it('an abnormal exit takes linked actors down with the same reason', async () => {
    const { system } = testSystem();
    const a = system.spawn(idle);
    const b = system.spawn(idle);
    a.tell({ link: b });
    await system.whenIdle();
    const boom = new Error('boom');
    b.tell({ crash: boom });
    expect(await system.awaitExit(a)).toBe(boom);
    expect(await system.awaitExit(b)).toBe(boom);
  });

  it('propagates exit signals through a chain of links', async () => {
    const { system } = testSystem();
    const chain = Array.from({ length: 50 }, () => system.spawn(idle));
    for (let i = 1; i < chain.length; i++) (chain[i] as ActorRef<Cmd>).tell({ link: chain[i - 1] as ActorRef });
    await system.whenIdle();
    const boom = new Error('end of the chain');
    (chain[49] as ActorRef<Cmd>).tell({ crash: boom });
    const reasons = await Promise.all(chain.map((a) => system.awaitExit(a)));
    expect(reasons.every((r) => r === boom)).toBe(true);
    expect(system.actorCount).toBe(0);
  });

  it('a normal exit does not affect linked actors', async () => {
    const { system } = testSystem();
    const a = system.spawn(idle);
    const b = system.spawn(idle);
    a.tell({ link: b });
    await system.whenIdle();
    b.tell('stop');
    expect(await system.awaitExit(b)).toBe('normal');
    await system.whenIdle();
    expect(a.alive).toBe(true);
  });

  it('shutdown is not a crash but still takes down non-trapping linked actors', async () => {
    const { system } = testSystem();
    const a = system.spawn(idle);
    const b = system.spawn(idle);
    a.tell({ link: b });
    await system.whenIdle();
    b.tell({ exit: { shutdown: 'maintenance' } });
    expect(await system.awaitExit(a)).toEqual({ shutdown: 'maintenance' });
  });

  it('a trapping actor gets exit messages instead of dying, including normal ones', async () => {
    const { system } = testSystem();
    const exits: ExitMessage[] = [];
    const t = system.spawn(trapper(exits));
    const a = system.spawn(idle);
    const b = system.spawn(idle);
    t.tell({ link: a });
    t.tell({ link: b });
    await system.whenIdle();
    const boom = new Error('boom');
    a.tell({ crash: boom });
    b.tell('stop');
    await system.awaitExit(a);
    await system.awaitExit(b);
    await system.whenIdle();
    expect(t.alive).toBe(true);
    expect(exits).toEqual([
      { type: 'exit', from: a, reason: boom },
      { type: 'exit', from: b, reason: 'normal' },
    ].map((e) => expect.objectContaining(e)));
  });

  it('kill cannot be trapped, and linked actors see the reason killed', async () => {
    const { system } = testSystem();
    const exits: ExitMessage[] = [];
    const watcher = system.spawn(trapper(exits));
    const victim = system.spawn(trapper([]));
    watcher.tell({ link: victim });
    await system.whenIdle();
    system.kill(victim);
    expect(victim.alive).toBe(false); // dead at once
    expect(await system.awaitExit(victim)).toBe('killed');
    await system.whenIdle();
    expect(exits).toEqual([expect.objectContaining({ from: victim, reason: 'killed' })]);
  });

  it('exit(ref, normal) is ignored by a non-trapping actor but ends an actor that sends it to itself', async () => {
    const { system } = testSystem();
    const target = system.spawn(idle);
    system.exit(target, 'normal');
    await system.whenIdle();
    expect(target.alive).toBe(true);
    const selfExit = system.spawn<string, undefined>({
      receive(s, _m, ctx) {
        ctx.exit(ctx.self, 'normal');
        return s;
      },
    });
    selfExit.tell('go');
    expect(await system.awaitExit(selfExit)).toBe('normal');
  });

  it('an exit signal with another reason kills a non-trapping actor without running terminate', async () => {
    const { system } = testSystem();
    let terminated = false;
    const ref = system.spawn({ receive: (s: undefined) => s, terminate: () => void (terminated = true) });
    system.exit(ref, 'shutdown');
    expect(await system.awaitExit(ref)).toBe('shutdown');
    expect(terminated).toBe(false);
  });

  it('linking to a dead actor sends the linker an exit signal noproc', async () => {
    const { system } = testSystem();
    const dead = system.spawn(idle);
    system.kill(dead);
    const exits: ExitMessage[] = [];
    const t = system.spawn(trapper(exits));
    t.tell({ link: dead });
    await system.whenIdle();
    expect(exits).toEqual([expect.objectContaining({ from: dead, reason: 'noproc' })]);
    const plain = system.spawn(idle);
    plain.tell({ link: dead });
    expect(await system.awaitExit(plain)).toBe('noproc');
  });

  it('unlink stops propagation', async () => {
    const { system } = testSystem();
    const a = system.spawn<'unlink' | Cmd, undefined>({
      receive(s, m, ctx) {
        if (m === 'unlink') ctx.unlink(b);
        else if (typeof m === 'object' && 'link' in m) ctx.link(m.link);
        return s;
      },
    });
    const b = system.spawn(idle);
    a.tell({ link: b });
    a.tell('unlink');
    await system.whenIdle();
    b.tell({ crash: new Error('x') });
    await system.awaitExit(b);
    await system.whenIdle();
    expect(a.alive).toBe(true);
  });

  it('spawnLink links atomically: a child crashing in init takes the parent down', async () => {
    const { system } = testSystem();
    const boom = new Error('init failed');
    const parent = system.spawn<string, undefined>({
      receive(s, _m, ctx) {
        ctx.spawnLink({
          init: () => {
            throw boom;
          },
          receive: (st: undefined) => st,
        });
        return s;
      },
    });
    parent.tell('spawn');
    expect(await system.awaitExit(parent)).toBe(boom);
  });

  it('a trapping actor exits gracefully (terminate runs) when its parent sends an exit signal', async () => {
    const { system } = testSystem();
    const terminated = deferred<ExitReason>();
    let child: ActorRef | undefined;
    const parent = system.spawn<'spawn' | 'shutdown', undefined>({
      receive(s, m, ctx) {
        if (m === 'spawn') {
          child = ctx.spawnLink({
            init: (c) => {
              c.trapExit = true;
              return undefined;
            },
            receive: (st: undefined) => st,
            terminate: (_st, reason) => terminated.resolve(reason),
          });
        } else if (child !== undefined) {
          ctx.exit(child, 'shutdown');
        }
        return s;
      },
    });
    parent.tell('spawn');
    parent.tell('shutdown');
    expect(await terminated.promise).toBe('shutdown');
    expect(child?.alive).toBe(false);
  });
});

describe('system messages overtake user messages', () => {
  it('a trapped exit signal is handled before messages already queued', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const gate = deferred();
    const ref = system.spawn<string, undefined>({
      init(ctx) {
        ctx.trapExit = true;
        return undefined;
      },
      async receive(s, m) {
        if (m === 'block') await gate.promise;
        log.push(m);
        return s;
      },
      onExit(s, e) {
        log.push(`exit:${String(e.reason)}`);
        return s;
      },
    });
    ref.tell('block');
    for (let i = 0; i < 5; i++) ref.tell(`m${i}`);
    await system.whenIdle();
    system.exit(ref, 'shutdown');
    gate.resolve();
    await system.whenIdle();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['block', 'exit:shutdown', 'm0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('stop overtakes queued messages: they become dead letters', async () => {
    const { system } = testSystem();
    const handled: number[] = [];
    const ref = system.spawn<number, undefined>({
      receive(s, n) {
        handled.push(n);
        return s;
      },
    });
    for (let i = 0; i < 10; i++) ref.tell(i);
    const stopped = ref.stop();
    await stopped;
    expect(handled).toEqual([]);
  });

  it('an untrapped exit signal kills an actor even while its async handler is running', async () => {
    const { system } = testSystem();
    const started = deferred();
    const gate = deferred();
    const finished = deferred();
    let signal: AbortSignal | undefined;
    const ref = system.spawn<string, string, string>({
      init: () => 'initial',
      async receive(_s, m, ctx) {
        if (m === 'state?') {
          ctx.reply(_s);
          return _s;
        }
        signal = ctx.signal;
        started.resolve();
        await gate.promise; // stands for slow I/O the runtime cannot interrupt
        ctx.reply('late reply');
        finished.resolve();
        return 'late';
      },
    });
    const pending = ref.ask('work');
    await started.promise;
    system.exit(ref, 'shutdown');
    expect(await system.awaitExit(ref)).toBe('shutdown');
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe('shutdown');
    // The asker learned of the exit at once, not from the abandoned handler.
    await expect(pending).rejects.toMatchObject({ code: 'ACTOR_EXITED', reason: 'shutdown' });
    gate.resolve();
    await finished.promise;
    await system.whenIdle();
    // Its late result changed nothing: the actor stays dead and asks fail with NOPROC.
    expect(ref.alive).toBe(false);
    await expect(ref.ask('state?')).rejects.toMatchObject({ code: 'NOPROC' });
  });
});
