import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity, type StandardSchemaV1, statelessFunction, valueEntity } from '../../src/index.js';
import { counter, harness, openStore, until } from './support.js';

describe('command validation at the boundary', () => {
  it('invalid input is rejected with its issues and never reaches the handler', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    let handled = 0;
    const strict = statelessFunction('strict').command('go', z.object({ n: z.number().int().min(0), tags: z.array(z.string()).max(2) }), (_i, ctx) => {
      handled++;
      return ctx.reply('ok');
    });
    h.runtime.register(strict);
    const ref = h.runtime.ref(strict, 'x');
    const err = await ref.ask('go', { n: -1, tags: ['a', 'b', 'c'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'INVALID_COMMAND',
      issues: [expect.objectContaining({ path: ['n'] }), expect.objectContaining({ path: ['tags'] })],
    });
    await expect(ref.ask('go', 'not an object' as never)).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    await expect(ref.ask('go', undefined as never)).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    expect(handled).toBe(0);
    expect(await ref.ask('go', { n: 1, tags: [] })).toBe('ok');
  });

  it('unknown commands, unknown types, bad ids and input to a command that takes none are refused', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'v');
    await expect((ref as unknown as { ask(c: string): Promise<unknown> }).ask('explode')).rejects.toMatchObject({ code: 'UNKNOWN_COMMAND' });
    await expect(ref.ask('get', { sneaky: true } as never)).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    expect(() => h.runtime.refFor('nope', 'x')).toThrow(expect.objectContaining({ code: 'UNKNOWN_ENTITY_TYPE' }));
    expect(() => h.runtime.ref(counter, '')).toThrow(expect.objectContaining({ code: 'INVALID_ENTITY_ID' }));
    expect(() => h.runtime.ref(counter, 'x'.repeat(513))).toThrow(expect.objectContaining({ code: 'INVALID_ENTITY_ID' }));
    expect(() => h.runtime.ref(counter, 42 as never)).toThrow(expect.objectContaining({ code: 'INVALID_ENTITY_ID' }));
    expect(h.runtime.activeEntities).toBe(0); // nothing was activated by refused commands
  });

  it('hostile input: prototype keys do not pollute anything and reach the handler only as validated data', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const box = valueEntity('box')
      .initialState(() => ({}) as Record<string, string>)
      .command('put', z.object({ key: z.string(), value: z.string() }), (s, { key, value }, ctx) => ctx.update({ ...s, [key]: value }).thenReply((n) => Object.keys(n)))
      .command('get', (s, _i, ctx) => ctx.reply(s));
    h.runtime.register(box);
    const ref = h.runtime.ref(box, 'proto');
    const hostile = JSON.parse('{"key":"__proto__","value":"polluted","__proto__":{"isAdmin":true}}') as { key: string; value: string };
    // A state with an own "__proto__" key would come back from the store without it (msgpackr
    // renames the key on decode), so the store refuses it and the command fails; nothing changed.
    await expect(ref.ask('put', hostile)).rejects.toMatchObject({ code: 'PERSIST_FAILED', cause: { code: 'SERIALIZATION_FAILED' } });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'isAdmin')).toBe(false);
    expect(await ref.ask('put', { key: 'constructor', value: 'x' })).toEqual(['constructor']);
  });

  it('accepts any Standard Schema, also an async one', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const evenAsync: StandardSchemaV1<number, number> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (v) => (typeof v === 'number' && v % 2 === 0 ? { value: v } : { issues: [{ message: 'must be even' }] }),
      },
    };
    const e = eventSourcedEntity('evens')
      .initialState(() => 0)
      .events<{ type: 'Set'; v: number }>({ Set: (_s, ev) => ev.v })
      .command('set', evenAsync, (_s, v, ctx) => ctx.emit({ type: 'Set', v }).thenReply((s) => s));
    h.runtime.register(e);
    const ref = h.runtime.ref(e, 'x');
    expect(await ref.ask('set', 4)).toBe(4);
    await expect(ref.ask('set', 3)).rejects.toMatchObject({ code: 'INVALID_COMMAND', issues: [{ message: 'must be even', path: [] }] });
  });

  it('bad definitions are refused at once, naming the field', () => {
    expect(() => eventSourcedEntity('9lives')).toThrow(expect.objectContaining({ code: 'INVALID_DEFINITION', field: 'name' }));
    expect(() => counter.command('add', () => ({}) as never)).toThrow(expect.objectContaining({ field: 'commands.add' }));
    expect(() => counter.command('other', { not: 'a schema' } as never, () => ({}) as never)).toThrow(expect.objectContaining({ field: 'commands.other.schema' }));
    expect(() => counter.withSettings({ maxCommandAttempts: 0 })).toThrow(expect.objectContaining({ field: 'settings.maxCommandAttempts' }));
    expect(() => counter.withSettings({ backoff: { randomFactor: 2 } })).toThrow(expect.objectContaining({ field: 'settings.backoff.randomFactor' }));
  });

  it('a handler that returns something other than an effect crashes its entity, and the command ends as poison', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const broken = statelessFunction('broken').command('oops', () => 'not an effect' as never);
    h.runtime.register(broken, { maxCommandAttempts: 1 });
    const p = h.runtime.ref(broken, 'x').ask('oops');
    await until(() => h.events.some((e) => e.type === 'actor.stopped' && e.reason instanceof TypeError), 'the crash');
    h.clock.advance(20); // the default backoff (10 ms, +20% jitter), then the restarted worker drops it
    await expect(p).rejects.toMatchObject({ code: 'POISON_COMMAND', cause: expect.any(TypeError) });
  });
});

describe('a schema that returns a malformed result', () => {
  const schema = (validate: (v: unknown) => unknown): StandardSchemaV1 => ({ '~standard': { version: 1, vendor: 'hand-written', validate } }) as never;
  const malformed: [string, (v: unknown) => unknown][] = [
    ['nothing (sync)', () => undefined],
    ['a string (sync)', () => 'ok'],
    ['issues that are not an array (sync)', () => ({ issues: 'bad' })],
    ['nothing (async)', async () => undefined],
    ['null (async)', async () => null],
    ['issues that are not an array (async)', async () => ({ issues: { message: 'bad' } })],
  ];

  for (const kind of ['entity', 'stateless'] as const) {
    it(`(${kind}) is INVALID_COMMAND, for promises and listeners alike: nothing thrown, nothing unhandled, nothing run`, async () => {
      const { store } = await openStore('memory');
      const h = await harness(store);
      let ran = 0;
      // Built loosely: these schemas are malformed on purpose, so the builder's types cannot hold.
      type Replier = { reply(v: unknown): unknown };
      type Chain = { command(name: string, s: StandardSchemaV1, h: (...a: never[]) => unknown): Chain };
      let def =
        kind === 'entity'
          ? (eventSourcedEntity('malformed')
              .initialState(() => 0)
              .events<{ type: 'E' }>({ E: (st) => st }) as unknown as Chain)
          : (statelessFunction('malformed-fn') as unknown as Chain);
      for (const [name, validate] of malformed) {
        def =
          kind === 'entity'
            ? def.command(name, schema(validate), (_st: unknown, _i: unknown, ctx: Replier) => (ran++, ctx.reply('ran')))
            : def.command(name, schema(validate), (_i: unknown, ctx: Replier) => (ran++, ctx.reply('ran')));
      }
      h.runtime.register(def as never);
      const ref = h.runtime.ref(def as never, 'x') as unknown as { ask(c: string, i: unknown): Promise<unknown> };
      for (const [name] of malformed) {
        await expect(ref.ask(name, {})).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
      }
      const told: [unknown, string][] = [];
      const listener = { answered: (t: unknown) => told.push([t, 'ok']), failed: (t: unknown, e: unknown) => told.push([t, (e as { code: string }).code]) };
      for (const [name] of malformed) h.runtime.askWith(ref as never, name, {}, listener, name);
      await until(() => told.length === malformed.length, 'every answer');
      expect(told.map(([, code]) => code)).toEqual(malformed.map(() => 'INVALID_COMMAND'));
      expect(ran).toBe(0);
    });
  }

  it('issues whose items are malformed still come back as issues', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const def = eventSourcedEntity('odd-issues')
      .initialState(() => 0)
      .events<{ type: 'E' }>({ E: (st) => st })
      .command('c', schema(() => ({ issues: [null, { message: 7, path: 'p' }, { message: 'ok', path: [{ key: 'a' }, 1] }] })) as never, (_s, _i, ctx) => ctx.reply(1));
    h.runtime.register(def);
    await expect(h.runtime.ref(def, 'x').ask('c', {} as never)).rejects.toMatchObject({
      code: 'INVALID_COMMAND',
      issues: [
        { message: 'null', path: [] },
        { message: '7', path: [] },
        { message: 'ok', path: ['a', 1] },
      ],
    });
  });
});
