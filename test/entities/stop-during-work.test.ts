import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity } from '../../src/index.js';
import { StoreUnavailableError, type Store } from '../../src/persistence/index.js';
import { activations, counter, delegate, harness, heldAppends, openStore, storeWith, until } from './support.js';

// What the callers of an entity are told when its incarnation ends while it awaits something
// (an async handler, or a write at the database): never a failure for a write that committed,
// never a write for a command that was failed, and never a command handled twice.

const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((v) => ({ ok: v }), (e: { code?: string }) => ({ error: e.code }));

describe('an incarnation that ends while it awaits', () => {
  it('runtime.stop() during an async handler: the command fails ENTITY_STOPPED and the handler\'s events are never written', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store, { drainTimeoutMs: 100 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = eventSourcedEntity('slow')
      .initialState(() => ({ v: 0 }))
      .events<{ type: 'Set'; v: number }>({ Set: (_s, e) => ({ v: e.v }) })
      .command('set', z.object({ v: z.number() }), async (_s, { v }, ctx) => {
        await gate;
        return ctx.emit({ type: 'Set', v }).thenReply((s) => s.v);
      });
    h.runtime.register(slow);
    const answer = outcome(h.runtime.ref(slow, 'a').ask('set', { v: 42 }, { timeout: Infinity }));
    await h.system.whenIdle();
    const stopped = h.runtime.stop();
    await h.system.whenIdle();
    h.clock.advance(100); // the drain timeout
    await stopped;
    expect(await answer).toEqual({ error: 'ENTITY_STOPPED' });
    release();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(await store.journal.read('slow|a')).toEqual([]);
  });

  for (const ends of ['commits', 'fails'] as const) {
    it(`runtime.stop() during a write: the write's outcome answers its commands (it ${ends}); later ones fail ENTITY_STOPPED`, async () => {
      const { store: base } = await openStore('memory');
      const { store, held } = heldAppends(base);
      const h = await harness(store, { drainTimeoutMs: 100 });
      h.runtime.register(counter);
      const ref = h.runtime.ref(counter, 'w');
      const inWrite = outcome(ref.ask('add', { n: 5 }, { timeout: Infinity }));
      await until(() => held.length === 1, 'the write');
      const queued = outcome(ref.ask('add', { n: 1 }, { timeout: Infinity }));
      const stopped = h.runtime.stop();
      await h.system.whenIdle();
      h.clock.advance(100);
      await stopped;
      expect(await queued).toEqual({ error: 'ENTITY_STOPPED' });
      let settled = false;
      void inWrite.then(() => (settled = true));
      await h.system.whenIdle();
      expect(settled).toBe(false); // not told anything while the outcome is unknown
      if (ends === 'commits') held[0]?.go();
      else held[0]?.fail(new StoreUnavailableError('connection terminated'));
      expect(await inWrite).toEqual(ends === 'commits' ? { ok: 5 } : { error: 'PERSIST_FAILED' });
      expect((await base.journal.read('counter|w')).map((e) => e.payload)).toEqual(ends === 'commits' ? [{ type: 'Added', n: 5 }] : []);
      expect(held).toHaveLength(1); // the queued command was never written
    });
  }

  it('an entity killed during a write: the write answers its command once, and the restarted entity handles only the rest, on the state after it', async () => {
    const { store: base } = await openStore('memory');
    const { store, held } = heldAppends(base);
    const h = await harness(store);
    h.runtime.register(counter, { backoff: { minMs: 1, maxMs: 1, randomFactor: 0 } });
    const ref = h.runtime.ref(counter, 'k');
    const first = outcome(ref.ask('add', { n: 5 }, { timeout: Infinity }));
    await until(() => held.length === 1, 'the first write');
    const second = outcome(ref.ask('add', { n: 1 }, { timeout: Infinity }));
    const [child] = await h.runtime.supervisorOf(counter).whichChildren();
    if (child?.ref === undefined) throw new Error('no entity actor');
    h.system.kill(child.ref);
    // The supervisor restarts it after the backoff; the new incarnation waits for the write.
    for (let i = 0; i < 5; i++) {
      await h.system.whenIdle();
      h.clock.advance(1);
    }
    expect(held).toHaveLength(1); // nothing handled the first command again meanwhile
    held[0]?.go();
    expect(await first).toEqual({ ok: 5 });
    await until(() => held.length === 2, 'the second write');
    held[1]?.go();
    expect(await second).toEqual({ ok: 6 });
    expect((await base.journal.read('counter|k')).map((e) => e.sequenceNr)).toEqual([1, 2]);
  });
  it('killed twice during one write: neither dead incarnation handles anything; the write answers its command, the live one the rest, each once', async () => {
    const { store: base } = await openStore('memory');
    const { store, held } = heldAppends(base);
    const h = await harness(store);
    h.runtime.register(counter, { backoff: { minMs: 1, maxMs: 1, randomFactor: 0 } });
    const ref = h.runtime.ref(counter, 'kk');
    const kill = async (): Promise<void> => {
      const [child] = await h.runtime.supervisorOf(counter).whichChildren();
      if (child?.ref === undefined) throw new Error('no entity actor');
      h.system.kill(child.ref);
      for (let i = 0; i < 3; i++) {
        await h.system.whenIdle();
        h.clock.advance(1);
      }
    };
    const first = outcome(ref.ask('add', { n: 5 }, { timeout: Infinity }));
    await until(() => held.length === 1, 'the first write');
    const second = outcome(ref.ask('add', { n: 1 }, { timeout: Infinity }));
    await kill(); // the restarted incarnation waits for the write…
    await kill(); // …and is killed too: the next one waits as well
    held[0]?.go();
    expect(await first).toEqual({ ok: 5 });
    await until(() => held.length === 2, 'the second write');
    const third = outcome(ref.ask('add', { n: 100 }, { timeout: Infinity }));
    held[1]?.go();
    expect(await second).toEqual({ ok: 6 });
    await until(() => held.length === 3, 'the third write');
    held[2]?.go();
    expect(await third).toEqual({ ok: 106 });
    expect(held).toHaveLength(3); // nothing written twice
    expect((await base.journal.read('counter|kk')).map((e) => (e.payload as { n: number }).n)).toEqual([5, 1, 100]);
  });

  it('the type supervisor gives up during a write: the next incarnation (a new slot) reads the state after that write', async () => {
    const { store: base } = await openStore('memory');
    const { store, held } = heldAppends(base);
    const h = await harness(store, { supervision: { intensity: 0, periodMs: 1000 } });
    h.runtime.register(counter, { backoff: { minMs: 1, maxMs: 1, randomFactor: 0 } });
    const ref = h.runtime.ref(counter, 'g');
    const first = outcome(ref.ask('add', { n: 5 }, { timeout: Infinity }));
    await until(() => held.length === 1, 'the write');
    // Another entity of the type crashes: with intensity 0 the type's supervisor gives up.
    let crashed: unknown;
    void outcome(h.runtime.ref(counter, 'x').ask('crash', undefined, { timeout: Infinity })).then((o) => (crashed = o));
    for (let i = 0; i < 10 && crashed === undefined; i++) {
      await h.system.whenIdle();
      h.clock.advance(1); // the restart's backoff, after which the supervisor finds it may not
    }
    expect(crashed).toEqual({ error: 'ENTITY_STOPPED' });
    const second = outcome(ref.ask('add', { n: 1 }, { timeout: Infinity }));
    await h.system.whenIdle();
    expect(held).toHaveLength(1); // the new incarnation waits for the old write
    held[0]?.go();
    expect(await first).toEqual({ ok: 5 });
    await until(() => held.length === 2, 'the second write');
    held[1]?.go();
    expect(await second).toEqual({ ok: 6 });
  });
  it('after a give-up, the next incarnation waits for the old write only, not for its commands\' side effects', async () => {
    const { store: base } = await openStore('memory');
    const { store, held } = heldAppends(base);
    const h = await harness(store, { supervision: { intensity: 0, periodMs: 1000 } });
    let release!: () => void;
    const sideEffect = new Promise<void>((r) => (release = r));
    const mailer = eventSourcedEntity('mailer')
      .initialState(() => 0)
      .events<{ type: 'Sent' }>({ Sent: (s) => s + 1 })
      .command('send', (_s, _i, ctx) => ctx.emit({ type: 'Sent' }).thenRun(() => sideEffect).thenReply((s) => s))
      .command('get', (s, _i, ctx) => ctx.reply(s))
      .command('crash', () => {
        throw new Error('boom');
      });
    h.runtime.register(mailer, { backoff: { minMs: 1, maxMs: 1, randomFactor: 0 } });
    const ref = h.runtime.ref(mailer, 'm');
    const sent = outcome(ref.ask('send', undefined, { timeout: Infinity }));
    await until(() => held.length === 1, 'the write');
    let crashed: unknown;
    void outcome(h.runtime.ref(mailer, 'x').ask('crash', undefined, { timeout: Infinity })).then((o) => (crashed = o));
    for (let i = 0; i < 10 && crashed === undefined; i++) {
      await h.system.whenIdle();
      h.clock.advance(1);
    }
    expect(crashed).toEqual({ error: 'ENTITY_STOPPED' });
    held[0]?.go(); // committed; its side effect is still running
    expect(await outcome(ref.ask('get', undefined, { timeout: Infinity }))).toEqual({ ok: 1 });
    release();
    expect(await sent).toEqual({ ok: 1 });
  });

  it('an incarnation killed while it reads its state neither takes the state nor reports an activation', async () => {
    const { store: base } = await openStore('memory');
    const loads: (() => void)[] = [];
    const load: Store['recovery']['load'] = (...args) =>
      new Promise((resolve, reject) => loads.push(() => void base.recovery.load(...args).then(resolve, reject)));
    const h = await harness(storeWith(base, { recovery: delegate(base.recovery, { load }) }));
    h.runtime.register(counter, { backoff: { minMs: 1, maxMs: 1, randomFactor: 0 } });
    const ref = h.runtime.ref(counter, 'a');
    const added = outcome(ref.ask('add', { n: 1 }, { timeout: Infinity }));
    await until(() => loads.length === 1, 'the first load');
    const [child] = await h.runtime.supervisorOf(counter).whichChildren();
    if (child?.ref === undefined) throw new Error('no entity actor');
    h.system.kill(child.ref);
    for (let i = 0; i < 5 && loads.length < 2; i++) {
      await h.system.whenIdle();
      h.clock.advance(1);
    }
    loads[1]?.(); // the restarted incarnation loads and serves
    expect(await added).toEqual({ ok: 1 });
    loads[0]?.(); // the killed one's load ends late
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); // let it run its course
    expect(await ref.ask('get')).toBe(1);
    expect(activations(h.events, 'a').map((e) => e.sequenceNr)).toEqual([0]);
  });
});
