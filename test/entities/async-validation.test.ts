// Commands whose input schema validates asynchronously keep their place in the entity's order:
// an entity handles its commands in the order they were sent, whatever order the validators
// answer in, and a validator that never answers holds nothing up for longer than its deadline
// (validationTimeoutMs), or the ask's timeout if that comes first.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity, type StandardSchemaV1, statelessFunction } from '../../src/index.js';
import { type Store, StoreUnavailableError } from '../../src/persistence/index.js';
import { harness, openStore, until } from './support.js';

/** A Standard Schema whose answers the test hands out, one at a time, in any order. */
function controlledSchema(): {
  schema: StandardSchemaV1<string, string>;
  waiting: Map<string, (valid: boolean | 'throw') => void>;
} {
  const waiting = new Map<string, (valid: boolean | 'throw') => void>();
  const schema: StandardSchemaV1<string, string> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (v) =>
        new Promise((resolve, reject) => {
          waiting.set(String(v), (valid) => {
            waiting.delete(String(v));
            if (valid === 'throw') reject(new Error('validator broke'));
            else resolve(valid ? { value: `${String(v)}!` } : { issues: [{ message: 'refused', path: ['v'] }] });
          });
        }),
    },
  };
  return { schema, waiting };
}

/** An entity that records the inputs it handled, in order; `slow` is validated by the test, `fast` by zod. */
function recorderEntity(schema: StandardSchemaV1<string, string>) {
  return eventSourcedEntity('log')
    .initialState((): string[] => [])
    .events<{ type: 'Seen'; v: string }>({ Seen: (s, e) => [...s, e.v] })
    .command('slow', schema, (_s, v, ctx) => ctx.emit({ type: 'Seen', v }).thenReply((s) => s.length))
    .command('fast', z.string(), (_s, v, ctx) => ctx.emit({ type: 'Seen', v }).thenReply((s) => s.length))
    .command('get', (s, _i, ctx) => ctx.reply(s));
}

describe('async input validation keeps per-entity order', () => {
  it('commands run in the order they were sent, whatever order their validators answer in', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'a');
    const replies = [ref.ask('slow', 'a1'), ref.ask('fast', 'b'), ref.ask('slow', 'a2'), ref.ask('fast', 'c')];
    await until(() => waiting.size === 2);
    // The later validation answers first; nothing may run before a1.
    waiting.get('a2')?.(true);
    await h.system.whenIdle();
    expect(await h.store.journal.highestSequenceNr('log|a')).toBe(0);
    waiting.get('a1')?.(true);
    expect(await Promise.all(replies)).toEqual([1, 2, 3, 4]);
    expect(await ref.ask('get')).toEqual(['a1!', 'b', 'a2!', 'c']);
  });

  it('an input refused (or a validator that throws) fails that command alone; the ones after it run in order', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'b');
    const bad = ref.ask('slow', 'x');
    const broken = ref.ask('slow', 'y');
    const after = ref.ask('fast', 'z');
    await until(() => waiting.size === 2);
    waiting.get('y')?.('throw');
    waiting.get('x')?.(false);
    await expect(bad).rejects.toMatchObject({ code: 'INVALID_COMMAND', issues: [{ message: 'refused', path: ['v'] }] });
    await expect(broken).rejects.toMatchObject({ code: 'INVALID_COMMAND', issues: [{ message: 'validator threw: validator broke' }] });
    expect(await after).toBe(1);
    expect(await ref.ask('get')).toEqual(['z']);
  });

  it('other entities are not held up', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const held = h.runtime.ref(log, 'held').ask('slow', 'h');
    expect(await h.runtime.ref(log, 'other').ask('fast', 'o')).toBe(1);
    expect(waiting.has('h')).toBe(true);
    waiting.get('h')?.(true);
    expect(await held).toBe(1);
  });

  it('a validator that never answers: its ask times out and the commands behind it run', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'c');
    const stuck = ref.ask('slow', 'never', { timeout: 1000 });
    const behind = ref.ask('fast', 'next', { timeout: 60_000 });
    const told: string[] = [];
    void behind.then(() => told.push('behind answered'));
    await h.system.whenIdle();
    expect(told).toEqual([]);
    h.clock.advance(1000);
    await expect(stuck).rejects.toMatchObject({ code: 'ASK_TIMEOUT' });
    expect(await behind).toBe(1);
    // The late answer of the validator changes nothing: the dropped command never runs.
    waiting.get('never')?.(true);
    await h.system.whenIdle();
    expect(await ref.ask('get')).toEqual(['next']);
  });

  it('a validator that never answers: after validationTimeoutMs (default 1 s) its command fails VALIDATION_TIMEOUT and the ones behind it run, whatever the ask timeout', async () => {
    const { store } = await openStore('memory');
    const warned: unknown[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (o: object) => void warned.push(o), child: () => logger };
    const h = await harness(store, { logger });
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'deadline');
    ref.tell('slow', 'told');
    const patient = ref.ask('slow', 'patient', { timeout: Infinity });
    const long = ref.ask('slow', 'long', { timeout: 60_000 });
    const behind = ref.ask('fast', 'behind', { timeout: Infinity });
    await until(() => waiting.has('told') && waiting.has('patient') && waiting.has('long'));
    h.clock.advance(999);
    await h.system.whenIdle();
    expect(await h.store.journal.highestSequenceNr('log|deadline')).toBe(0); // still held
    h.clock.advance(1);
    await expect(patient).rejects.toMatchObject({ code: 'VALIDATION_TIMEOUT', timeoutMs: 1000, message: 'the input of log.slow was not validated within 1000 ms (validationTimeoutMs)' });
    await expect(long).rejects.toMatchObject({ code: 'VALIDATION_TIMEOUT' });
    expect(await behind).toBe(1);
    expect(warned).toContainEqual(expect.objectContaining({ command: 'slow', err: expect.objectContaining({ code: 'VALIDATION_TIMEOUT' }) })); // the tell's
    // Late answers change nothing: none of them runs.
    for (const key of ['told', 'patient', 'long']) waiting.get(key)?.(true);
    await h.system.whenIdle();
    expect(await ref.ask('get')).toEqual(['behind']);
  });

  it('validationTimeoutMs is a per-type setting; an ask timeout shorter than it comes first (ASK_TIMEOUT)', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log, { validationTimeoutMs: 5000 });
    const ref = h.runtime.ref(log, 'setting');
    const short = ref.ask('slow', 'short', { timeout: 300 });
    const longer = ref.ask('slow', 'longer', { timeout: Infinity });
    await until(() => waiting.size === 2);
    h.clock.advance(300);
    await expect(short).rejects.toMatchObject({ code: 'ASK_TIMEOUT' });
    h.clock.advance(4699);
    await h.system.whenIdle();
    waiting.get('short')?.(true); // too late for it; it was dropped
    let settled = false;
    void longer.catch(() => {}).finally(() => (settled = true));
    await h.system.whenIdle();
    expect(settled).toBe(false);
    h.clock.advance(1);
    await expect(longer).rejects.toMatchObject({ code: 'VALIDATION_TIMEOUT', timeoutMs: 5000 });
    expect(() => h.runtime.register(recorderEntity(schema).withSettings({ validationTimeoutMs: 0 }))).toThrow(expect.objectContaining({ code: 'INVALID_DEFINITION', field: 'settings.validationTimeoutMs' }));
  });

  it('stateless functions: a validation that never answers fails VALIDATION_TIMEOUT, also for a caller with a listener', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    let ran = 0;
    const fn = statelessFunction('fn').command('go', schema, (v, ctx) => {
      ran++;
      return ctx.reply(v);
    });
    h.runtime.register(fn, { validationTimeoutMs: 200 });
    const ref = h.runtime.ref(fn, 'any');
    const asked = ref.ask('go', 'asked', { timeout: Infinity });
    const outcomes: unknown[] = [];
    h.runtime.askWith(ref, 'go', 'listened', { answered: (t, v) => outcomes.push([t, v]), failed: (t, e) => outcomes.push([t, (e as { code?: string }).code]) }, 'token');
    await until(() => waiting.size === 2);
    h.clock.advance(200);
    await expect(asked).rejects.toMatchObject({ code: 'VALIDATION_TIMEOUT', timeoutMs: 200 });
    await until(() => outcomes.length === 1, 'the listener');
    expect(outcomes).toEqual([['token', 'VALIDATION_TIMEOUT']]);
    waiting.get('asked')?.(true);
    waiting.get('listened')?.(true);
    await h.system.whenIdle();
    expect(ran).toBe(0);
    expect(await h.runtime.stop().then(() => 'stopped')).toBe('stopped'); // nothing left in flight
  });

  it('an ask whose signal was aborted before it was sent never runs and holds nothing up', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'aborted');
    const abort = new AbortController();
    abort.abort(new Error('changed my mind'));
    await expect(ref.ask('slow', 'gone', { signal: abort.signal })).rejects.toMatchObject({ code: 'ASK_ABORTED' });
    expect(await ref.ask('fast', 'next')).toBe(1); // no clock advanced: nothing waits for 'gone'
    waiting.get('gone')?.(true);
    await h.system.whenIdle();
    expect(await ref.ask('get')).toEqual(['next']);
  });

  it('stateless functions: stop() waits for a validation in progress, and one that ends after stop() is refused', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store, { drainTimeoutMs: 1000 });
    const { schema, waiting } = controlledSchema();
    const ran: string[] = [];
    const fn = statelessFunction('fn').command('go', schema, (v, ctx) => {
      ran.push(v);
      return ctx.reply(v);
    });
    h.runtime.register(fn, { validationTimeoutMs: 60_000 }); // this test is about the drain
    const ref = h.runtime.ref(fn, 'any');
    const inTime = ref.ask('go', 'in time', { timeout: Infinity });
    const tooLate = ref.ask('go', 'too late', { timeout: Infinity });
    await until(() => waiting.size === 2);
    let stopped = false;
    const stopping = h.runtime.stop().then(() => (stopped = true));
    await h.system.whenIdle();
    expect(stopped).toBe(false); // the drain waits for both validations
    waiting.get('in time')?.(true);
    expect(await inTime).toBe('in time!');
    h.clock.advance(1000);
    await stopping;
    waiting.get('too late')?.(true);
    await expect(tooLate).rejects.toMatchObject({ code: 'ENTITY_STOPPED' });
    expect(ran).toEqual(['in time!']);
  });

  it('an entity with a held command is not idle: it does not passivate under it', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store, { defaults: { idleTimeoutMs: 1000, validationTimeoutMs: 60_000 } });
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'd');
    expect(await ref.ask('fast', 'first')).toBe(1);
    const held = ref.ask('slow', 'second', { timeout: 60_000 });
    await until(() => waiting.has('second'));
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      await h.system.whenIdle();
    }
    expect(h.events.filter((e) => e.type === 'entity.passivated')).toEqual([]);
    waiting.get('second')?.(true);
    expect(await held).toBe(2);
  });

  it('stop() lets held commands finish when their validation settles within the drain', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'e');
    const held = ref.ask('slow', 'last', { timeout: Infinity });
    await until(() => waiting.has('last'));
    const stopped = h.runtime.stop();
    await expect(ref.ask('fast', 'too late')).rejects.toMatchObject({ code: 'ENTITY_STOPPED' });
    waiting.get('last')?.(true);
    expect(await held).toBe(1);
    await stopped;
  });

  it('stop() fails held commands whose validation outlives the drain, with ENTITY_STOPPED', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store, { drainTimeoutMs: 500 });
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'f');
    const held = ref.ask('slow', 'forever', { timeout: Infinity });
    const behind = ref.ask('fast', 'behind', { timeout: Infinity });
    await until(() => waiting.has('forever'));
    const stopped = h.runtime.stop();
    await h.system.whenIdle();
    h.clock.advance(500);
    await stopped;
    await expect(held).rejects.toMatchObject({ code: 'ENTITY_STOPPED' });
    await expect(behind).rejects.toMatchObject({ code: 'ENTITY_STOPPED' });
    waiting.get('forever')?.(true); // too late: nothing happens
    expect(await h.store.journal.highestSequenceNr('log|f')).toBe(0);
  });

  it('held commands fail with RECOVERY_FAILED when the entity cannot be loaded, and the next command tries again', async () => {
    const { store } = await openStore('memory');
    let failLoads = 1;
    const recovery = {
      load: (id: string) => (failLoads-- > 0 ? Promise.reject(new StoreUnavailableError('connection terminated')) : store.recovery.load(id)),
    };
    const h = await harness({ ...store, recovery } as Store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    const ref = h.runtime.ref(log, 'g');
    const held = ref.ask('slow', 'early');
    const behind = ref.ask('fast', 'behind');
    await expect(held).rejects.toMatchObject({ code: 'RECOVERY_FAILED' });
    await expect(behind).rejects.toMatchObject({ code: 'RECOVERY_FAILED' });
    waiting.get('early')?.(true); // too late: it already failed, and does not run
    expect(await ref.ask('fast', 'again')).toBe(1);
    expect(await ref.ask('get')).toEqual(['again']);
  });

  it('property: the handled sequence is the sent sequence without the refused inputs, for any answer order', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { schema, waiting } = controlledSchema();
    const log = recorderEntity(schema);
    h.runtime.register(log);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ slow: fc.boolean(), valid: fc.boolean(), tell: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
        async (commands, order) => {
          const ref = h.runtime.ref(log, `p${run++}`);
          const expected: string[] = [];
          const slowOnes: { key: string; valid: boolean }[] = [];
          const asks: Promise<unknown>[] = [];
          commands.forEach((c, i) => {
            const key = `${run}-${i}`;
            if (c.slow) {
              slowOnes.push({ key, valid: c.valid });
              if (c.valid) expected.push(`${key}!`);
              if (c.tell) ref.tell('slow', key);
              else asks.push(ref.ask('slow', key).catch(() => 'refused'));
            } else {
              expected.push(key);
              if (c.tell) ref.tell('fast', key);
              else asks.push(ref.ask('fast', key));
            }
          });
          await until(() => slowOnes.every((s) => waiting.has(s.key)));
          // Answer the validations in a generated order (a permutation picked by `order`).
          const left = [...slowOnes];
          for (let i = 0; left.length > 0; i++) {
            const [next] = left.splice((order[i] ?? 0) % left.length, 1);
            if (next !== undefined) waiting.get(next.key)?.(next.valid);
            if (i % 2 === 0) await h.system.whenIdle();
          }
          await Promise.all(asks);
          await h.system.whenIdle();
          expect(await ref.ask('get')).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
