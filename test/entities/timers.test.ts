import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type ActorSystem,
  createActorSystem,
  EntityRuntime,
  type EntityRuntimeOptions,
  eventSourcedEntity,
  type InspectionEvent,
  ManualClock,
  silentLogger,
  statelessFunction,
  valueEntity,
} from '../../src/index.js';
import { createStore, type Store } from '../../src/persistence/index.js';
import { DATABASE_URL, openTestDatabase, type TestDatabase } from '../persistence/support.js';
import { type Backend, backends as allBackends, until } from './support.js';

/** Without DATABASE_URL 'postgres' would be PGlite a second time: run it only against a real server. */
const backends = DATABASE_URL === undefined ? allBackends.filter((b) => b !== 'postgres') : allBackends;

// One database per backend for the whole file (opening and migrating one per test would cost
// more than the tests): each test uses entity ids of its own and leaves no timer behind.
const opened = new Map<Backend, Promise<{ store: Store; db: TestDatabase | null }>>();
function openStore(backend: Backend): Promise<{ store: Store; db: TestDatabase | null }> {
  let o = opened.get(backend);
  if (o === undefined) {
    o =
      backend === 'memory'
        ? createStore({ kind: 'memory' }).then((store) => ({ store, db: null }))
        : openTestDatabase(backend === 'pglite' ? 'pglite' : undefined).then(async (db) => ({ store: await db.openStore(), db }));
    opened.set(backend, o);
  }
  return o;
}
afterAll(async () => {
  for (const o of opened.values()) {
    const { store, db } = await o;
    await store.close();
    await db?.close();
  }
});

const T0 = Date.UTC(2030, 0, 1);

type ReminderEvent =
  | { readonly type: 'Set'; readonly name: string }
  | { readonly type: 'Fired'; readonly note: string; readonly deliveryId: string; readonly attempt: number; readonly at: number };

/** Every attempt of the always-failing command, in this process (it persists nothing). */
const flakyAttempts: { deliveryId: string; attempt: number; at: number }[] = [];

const Set = z.object({ name: z.string(), after: z.number().optional(), at: z.number().optional(), every: z.number().optional(), note: z.string(), command: z.string().optional() });

const reminder = eventSourcedEntity('reminder')
  .initialState(() => ({ fired: [] as { note: string; deliveryId: string; attempt: number; at: number }[] }))
  .events<ReminderEvent>({
    Set: (s) => s,
    Fired: (s, e) => ({ fired: [...s.fired, { note: e.note, deliveryId: e.deliveryId, attempt: e.attempt, at: e.at }] }),
  })
  .command('set', Set, (_s, i, ctx) => {
    const when = i.at !== undefined ? { at: i.at, ...(i.every === undefined ? {} : { every: i.every }) } : i.after !== undefined ? { after: i.after, ...(i.every === undefined ? {} : { every: i.every }) } : { every: i.every ?? 1 };
    ctx.schedule(i.name, when, i.command ?? 'fire', { note: i.note });
    return ctx.emit({ type: 'Set', name: i.name }).reply('ok');
  })
  .command('setMany', z.object({ n: z.number(), after: z.number() }), (_s, i, ctx) => {
    for (let k = 0; k < i.n; k++) ctx.schedule(`t${k}`, { after: i.after }, 'fire', { note: `t${k}` });
    return ctx.emit({ type: 'Set', name: `${i.n} timers` }).reply('ok');
  })
  .command('setQuietly', Set, (_s, i, ctx) => {
    // Schedules and writes nothing else: the timer is the command's only write.
    ctx.schedule(i.name, { after: i.after ?? 0 }, 'fire', { note: i.note });
    return ctx.reply('ok');
  })
  .command('setBadPayload', (_s, _i, ctx) => {
    // A function is not data: the serializer refuses it when the write is made.
    ctx.schedule('bad', { after: 10 }, 'fire', { note: 'x', f: () => 1 });
    return ctx.emit({ type: 'Set', name: 'bad' }).reply('ok');
  })
  .command('setThenFail', Set, (_s, i, ctx) => {
    ctx.schedule(i.name, { after: i.after ?? 0 }, 'fire', { note: i.note });
    return ctx.fail('refused after scheduling');
  })
  .command('setThenCrash', Set, (_s, i, ctx) => {
    ctx.schedule(i.name, { after: i.after ?? 0 }, 'fire', { note: i.note });
    throw new Error('crashed after scheduling');
  })
  .command('cancel', z.object({ name: z.string() }), (_s, i, ctx) => {
    ctx.cancel(i.name);
    return ctx.none().reply('cancelled');
  })
  .command('fire', z.object({ note: z.string() }), (_s, i, ctx) => {
    const t = ctx.timer;
    if (t === undefined) return ctx.fail('fire is for timers');
    return ctx.emit({ type: 'Fired', note: i.note, deliveryId: t.deliveryId, attempt: t.attempt, at: ctx.now() }).reply('fired');
  })
  .command('flaky', z.object({ note: z.string() }), (_s, _i, ctx) => {
    const t = ctx.timer;
    if (t !== undefined) flakyAttempts.push({ deliveryId: t.deliveryId, attempt: t.attempt, at: ctx.now() });
    return ctx.fail('always fails');
  })
  .command('get', (s, _i, ctx) => ctx.reply(s.fired))
  .command('slow', z.object({ note: z.string() }), async (_s, i, ctx) => {
    await new Promise<void>((resolve) => (openGate = resolve));
    const t = ctx.timer;
    return ctx.emit({ type: 'Fired', note: i.note, deliveryId: t?.deliveryId ?? '', attempt: t?.attempt ?? 0, at: ctx.now() }).reply('late');
  })
  .command('hang', z.object({ note: z.string() }), async (_s, _i, ctx) => {
    hanging++;
    await new Promise(() => {}); // never answers: the runtime stops under it
    return ctx.none();
  });

/** Deliveries of `hang` started, in this process. */
let hanging = 0;
/** Opens the gate the `slow` command waits at. */
let openGate: () => void = () => {};

const alarm = valueEntity('alarm')
  .initialState(() => ({ rang: 0, ids: [] as string[] }))
  .command('arm', z.object({ after: z.number() }), (s, i, ctx) => {
    ctx.schedule('ring', { after: i.after }, 'ring');
    return ctx.update(s).reply('armed');
  })
  .command('ring', (s, _i, ctx) => ctx.update({ rang: s.rang + 1, ids: [...s.ids, ctx.timer?.deliveryId ?? 'not a timer'] }).reply('rang'))
  .command('get', (s, _i, ctx) => ctx.reply(s));

interface Node {
  system: ActorSystem;
  clock: ManualClock;
  runtime: EntityRuntime;
  events: InspectionEvent[];
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

/** A system on a manual clock at wall-clock `wall`, with a runtime on `store` serving both types. */
function node(store: Store, wall = T0, options: Partial<EntityRuntimeOptions> = {}, idleTimeoutMs = Infinity): Node {
  const clock = new ManualClock({ wall });
  const system = createActorSystem({ clock, logger: silentLogger });
  const events: InspectionEvent[] = [];
  system.events.subscribe((e) => events.push(e));
  const runtime = new EntityRuntime(system, { store, ...options });
  runtime.register(reminder, { idleTimeoutMs });
  runtime.register(alarm, { idleTimeoutMs });
  // Stopping drains on the manual clock: it is moved on until the stop is over.
  stops.push(async () => {
    let done = false;
    const stopped = system.stop().finally(() => (done = true));
    for (let i = 0; i < 10_000 && !done; i++) {
      clock.advance(100);
      await new Promise((r) => setImmediate(r));
    }
    await stopped;
  });
  return { system, clock, runtime, events };
}

/** Moves the node's clock on, then lets the timer rounds it started finish. */
async function advance(n: Node, ms: number): Promise<void> {
  n.clock.advance(ms);
  await n.runtime.timers.idle();
}

/** Waits for `p`, moving the clock on meanwhile (a crashed entity restarts after its backoff, on the clock). */
async function whileAdvancing<T>(n: Node, p: Promise<T>): Promise<T | unknown> {
  let done = false;
  const out = p.then(
    (v) => v,
    (e: unknown) => e,
  ).finally(() => (done = true));
  for (let i = 0; i < 10_000 && !done; i++) {
    n.clock.advance(5);
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

type Fired = { note: string; deliveryId: string; attempt: number; at: number }[];

describe.each(backends)('durable timers (%s)', (backend) => {
  it('fires at its time, as a command to its entity, with a delivery id; and once only', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    await n.runtime.timers.idle();
    const ref = n.runtime.ref(reminder, 'r1');
    await ref.ask('set', { name: 'wake', after: 1000, note: 'hello' });
    expect(await store.timers.list('reminder|r1')).toMatchObject([{ name: 'wake', dueAt: T0 + 1000, command: 'fire', payload: { note: 'hello' }, claimed: false }]);
    await advance(n, 999);
    expect(await ref.ask('get')).toEqual([]);
    await advance(n, 1);
    const fired = (await ref.ask('get')) as Fired;
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ note: 'hello', attempt: 1, at: T0 + 1000 });
    expect(fired[0]?.deliveryId).toMatch(/:\d+$/);
    // Completed in the delivered command's own write: the timer is gone, and nothing fires again.
    expect(await store.timers.list()).toEqual([]);
    await advance(n, 60_000);
    expect(await ref.ask('get')).toHaveLength(1);
    expect(n.runtime.timers.stats()).toMatchObject({ fired: 1, failed: 0, deadLettered: 0, inFlight: 0 });
  });

  it('fires after its entity was passivated, activating it again', async () => {
    const { store } = await openStore(backend);
    const n = node(store, T0, {}, 500);
    const ref = n.runtime.ref(reminder, 'sleepy');
    await ref.ask('set', { name: 'later', after: 5000, note: 'wake up' });
    n.clock.advance(600);
    await until(() => n.runtime.activeEntities === 0, 'passivation');
    expect(n.events.filter((e) => e.type === 'entity.passivated')).toHaveLength(1);
    await advance(n, 4400);
    await until(() => n.runtime.timers.stats().fired === 1, 'the delivery');
    expect(n.events.filter((e) => e.type === 'entity.activated' && e.entityId === 'sleepy')).toHaveLength(2);
    expect(((await ref.ask('get')) as Fired).map((f) => f.note)).toEqual(['wake up']);
  });

  it('a timer scheduled by a command that fails or crashes is never stored and never fires', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    const ref = n.runtime.ref(reminder, 'unlucky');
    await expect(ref.ask('setThenFail', { name: 'a', after: 10, note: 'from a failure' })).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
    expect(await whileAdvancing(n, ref.ask('setThenCrash', { name: 'b', after: 10_000, note: 'from a crash' }, { timeout: Infinity }))).toMatchObject({ code: 'POISON_COMMAND' });
    expect(await store.timers.list()).toEqual([]);
    await advance(n, 20_000);
    expect(await ref.ask('get')).toEqual([]);
    expect(n.runtime.timers.stats().fired).toBe(0);
  });

  it('a timer payload the serializer refuses fails the whole write: no timer and no event', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    const ref = n.runtime.ref(reminder, `bad-payload-${backend}`);
    const err = await ref.ask('setBadPayload').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PERSIST_FAILED', cause: { code: 'SERIALIZATION_FAILED' } });
    expect(await store.timers.list(`reminder|bad-payload-${backend}`)).toEqual([]);
    expect(await store.journal.highestSequenceNr(`reminder|bad-payload-${backend}`)).toBe(0);
  });

  it('a command that only schedules (no events) stores its timer alone, and it fires', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    const ref = n.runtime.ref(reminder, 'quiet');
    await ref.ask('setQuietly', { name: 'q', after: 100, note: 'quiet' });
    expect(await store.journal.highestSequenceNr('reminder|quiet')).toBe(0);
    await advance(n, 100);
    expect(((await ref.ask('get')) as Fired).map((f) => f.note)).toEqual(['quiet']);
  });

  it('cancel: a cancelled timer never fires; cancelling again, or a timer that never existed, is fine', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    const ref = n.runtime.ref(reminder, 'c');
    await ref.ask('set', { name: 'x', after: 1000, note: 'x' });
    await ref.ask('set', { name: 'y', after: 1000, note: 'y' });
    expect(await ref.ask('cancel', { name: 'x' })).toBe('cancelled');
    expect(await ref.ask('cancel', { name: 'x' })).toBe('cancelled');
    expect(await ref.ask('cancel', { name: 'never-was' })).toBe('cancelled');
    expect((await store.timers.list()).map((t) => t.name)).toEqual(['y']);
    await advance(n, 1000);
    expect(((await ref.ask('get')) as Fired).map((f) => f.note)).toEqual(['y']);
  });

  it('scheduling a name again replaces the timer', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    const ref = n.runtime.ref(reminder, 'again');
    await ref.ask('set', { name: 'x', after: 1000, note: 'first' });
    await ref.ask('set', { name: 'x', after: 3000, note: 'second' });
    await advance(n, 2000);
    expect(await ref.ask('get')).toEqual([]);
    await advance(n, 1000);
    expect(((await ref.ask('get')) as Fired).map((f) => f.note)).toEqual(['second']);
  });

  it('a value entity schedules with its state and is woken by its timer', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    const ref = n.runtime.ref(alarm, 'a1');
    await ref.ask('arm', { after: 250 });
    await advance(n, 250);
    const s = (await ref.ask('get')) as { rang: number; ids: string[] };
    expect(s.rang).toBe(1);
    expect(s.ids[0]).toMatch(/:\d+$/);
    expect(await store.timers.list()).toEqual([]);
  });

  it('10 000 timers due at once are all delivered, each once', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    const entities = 100;
    const per = 100;
    await Promise.all(Array.from({ length: entities }, (_, e) => n.runtime.ref(reminder, `many-${e}`).ask('setMany', { n: per, after: 1000 })));
    expect((await store.timers.list()).length).toBe(entities * per);
    await advance(n, 1000);
    expect(n.runtime.timers.stats()).toMatchObject({ fired: entities * per, failed: 0 });
    for (let e = 0; e < entities; e++) {
      const fired = (await n.runtime.ref(reminder, `many-${e}`).ask('get')) as Fired;
      expect(fired.map((f) => f.note).sort()).toEqual(Array.from({ length: per }, (_, k) => `t${k}`).sort());
      expect(new globalThis.Set(fired.map((f) => f.deliveryId)).size).toBe(per);
    }
    expect(await store.timers.list()).toEqual([]);
  }, 60_000);

  it('a timer whose command keeps failing backs off, with one delivery id, then goes to the dead letters', async () => {
    const { store } = await openStore(backend);
    flakyAttempts.length = 0;
    const deadBefore = (await store.timers.deadLetters()).length;
    const n = node(store, T0, { timers: { maxAttempts: 3, backoff: { minMs: 1000, maxMs: 1500 } } });
    const ref = n.runtime.ref(reminder, 'flaky');
    await ref.ask('set', { name: 'f', after: 100, note: 'doomed', command: 'flaky' });
    await advance(n, 100);
    expect(flakyAttempts.map((a) => a.attempt)).toEqual([1]);
    expect(await store.timers.list()).toMatchObject([{ name: 'f', attempts: 1, fireAt: T0 + 1100, lastError: 'COMMAND_FAILED: always fails' }]);
    await advance(n, 999);
    expect(flakyAttempts).toHaveLength(1);
    await advance(n, 1);
    expect(flakyAttempts.map((a) => [a.attempt, a.at - T0])).toEqual([
      [1, 100],
      [2, 1100],
    ]);
    await advance(n, 1500); // capped: 1000 · 2 = 2000 > maxMs
    expect(flakyAttempts.map((a) => [a.attempt, a.at - T0])).toEqual([
      [1, 100],
      [2, 1100],
      [3, 2600],
    ]);
    expect(new globalThis.Set(flakyAttempts.map((a) => a.deliveryId)).size).toBe(1);
    expect(await store.timers.list()).toEqual([]);
    expect((await store.timers.deadLetters()).slice(deadBefore)).toMatchObject([
      { persistenceId: 'reminder|flaky', name: 'f', command: 'flaky', payload: { note: 'doomed' }, attempts: 3, dueAt: T0 + 100, lastError: 'COMMAND_FAILED: always fails', deadAt: T0 + 2600 },
    ]);
    await advance(n, 100_000);
    expect(flakyAttempts).toHaveLength(3);
    expect(n.runtime.timers.stats()).toMatchObject({ fired: 0, failed: 3, deadLettered: 1 });
  });

  it('a periodic timer fires every period; periods missed while no runtime ran fire once, then it goes on', async () => {
    const { store } = await openStore(backend);
    const first = node(store);
    const ref = first.runtime.ref(reminder, 'tick');
    await ref.ask('set', { name: 'tick', every: 1000, note: 'tick' });
    await advance(first, 1000);
    await advance(first, 1000);
    expect(((await ref.ask('get')) as Fired).map((f) => f.at - T0)).toEqual([1000, 2000]);
    await first.system.stop();
    // Down for 10.5 s (ten periods): the next runtime fires the missed occurrence once, at once.
    const second = node(store, T0 + 12_500);
    await until(() => second.runtime.timers.stats().fired === 1, 'the missed period');
    await second.runtime.timers.idle();
    const ref2 = second.runtime.ref(reminder, 'tick');
    expect(((await ref2.ask('get')) as Fired).map((f) => f.at - T0)).toEqual([1000, 2000, 12_500]);
    expect(await store.timers.list()).toMatchObject([{ name: 'tick', dueAt: T0 + 13_000 }]);
    await advance(second, 499);
    expect((await ref2.ask('get')) as Fired).toHaveLength(3);
    await advance(second, 1);
    expect(((await ref2.ask('get')) as Fired).map((f) => f.at - T0)).toEqual([1000, 2000, 12_500, 13_000]);
    // Each occurrence has its own delivery id.
    expect(new globalThis.Set(((await ref2.ask('get')) as Fired).map((f) => f.deliveryId)).size).toBe(4);
    await ref2.ask('cancel', { name: 'tick' });
    expect(await store.timers.list()).toEqual([]);
  });

  it('a delivery that timed out but whose command commits later completes its timer: no second delivery', async () => {
    const { store } = await openStore(backend);
    const n = node(store, T0, { timers: { deliveryTimeoutMs: 100, backoff: { minMs: 1000, maxMs: 1000 } } });
    const id = `late-${backend}`;
    const ref = n.runtime.ref(reminder, id);
    await ref.ask('set', { name: 'l', after: 10, note: 'late', command: 'slow' });
    n.clock.advance(10);
    await until(() => n.runtime.timers.stats().inFlight === 1, 'the delivery');
    await advance(n, 100); // the delivery's ask times out: a failure, retried in 1000 ms
    expect(n.runtime.timers.stats()).toMatchObject({ failed: 1, inFlight: 0 });
    expect(await store.timers.list(`reminder|${id}`)).toMatchObject([{ attempts: 1, fireAt: T0 + 1110 }]);
    openGate(); // the command goes on and commits, with the timer's completion ('get' queues behind it)
    expect(((await ref.ask('get')) as Fired).map((f) => f.note)).toEqual(['late']);
    expect(await store.timers.list(`reminder|${id}`)).toEqual([]);
    await advance(n, 5000);
    expect(((await ref.ask('get')) as Fired).map((f) => f.note)).toEqual(['late']);
  });

  it('a runtime that stops during a delivery gives the claim back: the next runtime fires it at once, not after the lease', async () => {
    const { store } = await openStore(backend);
    const first = node(store, T0, { drainTimeoutMs: 100 });
    const id = `stopping-${backend}`;
    await first.runtime.ref(reminder, id).ask('set', { name: 'h', after: 10, note: 'n', command: 'hang' });
    const started = hanging;
    first.clock.advance(10); // not advance(): its round waits for the delivery, which never ends
    await until(() => hanging === started + 1, 'the hanging delivery');
    // Stop (the drain runs on the manual clock: moved on by the stop helper).
    await stops.pop()?.();
    expect(await store.timers.list(`reminder|${id}`)).toMatchObject([{ name: 'h', claimed: false, attempts: 0, fireAt: T0 + 10 }]);
    expect(first.runtime.timers.stats()).toMatchObject({ fired: 0, failed: 0 });
    const second = node(store, T0 + 20);
    await until(() => hanging === started + 2, 'the delivery on the next runtime');
    expect(second.runtime.timers.stats().inFlight).toBe(1);
    // Removed behind the hanging entity's back, so that no later runtime on this store delivers it again.
    await store.timers.write(`reminder|${id}`, { entityType: 'reminder', entityId: id, changes: [{ kind: 'cancel', name: 'h' }] });
  });

  it('a time already past when scheduled fires at once', async () => {
    const { store } = await openStore(backend);
    const n = node(store);
    const ref = n.runtime.ref(reminder, 'past');
    await ref.ask('set', { name: 'p', at: T0 - 60_000, note: 'late' });
    await until(() => n.runtime.timers.stats().fired === 1, 'the delivery');
    expect(((await ref.ask('get')) as Fired).map((f) => f.note)).toEqual(['late']);
  });

  it('bad timer arguments fail the command with INVALID_TIMER (via its crash) and store nothing', async () => {
    const { store } = await openStore(backend);
    const n = node(store, T0, { defaults: { maxCommandAttempts: 1 } });
    const ref = n.runtime.ref(reminder, 'bad');
    const crash = await whileAdvancing(n, ref.ask('set', { name: 'x', after: 10, note: 'n', command: 'noSuchCommand' }, { timeout: Infinity }));
    expect(crash).toMatchObject({ code: 'POISON_COMMAND' });
    expect((crash as { cause?: unknown }).cause).toMatchObject({ code: 'INVALID_TIMER', field: 'command' });
    const bad = await whileAdvancing(n, ref.ask('set', { name: '', after: 10, note: 'n' }, { timeout: Infinity }));
    expect((bad as { cause?: unknown }).cause).toMatchObject({ code: 'INVALID_TIMER', field: 'name' });
    const negative = await whileAdvancing(n, ref.ask('set', { name: 'x', after: -1, note: 'n' }, { timeout: Infinity }));
    expect((negative as { cause?: unknown }).cause).toMatchObject({ code: 'INVALID_TIMER', field: 'when.after' });
    expect(await store.timers.list()).toEqual([]);
  });
});

describe.each(backends.filter((b) => b !== 'memory'))('durable timers, two runtimes on one database (%s)', (backend) => {
  it('each due timer is claimed and delivered by one runtime only', async () => {
    const { store, db } = await openStore(backend);
    const other = await db!.openStore();
    const a = node(store);
    const b = node(other);
    const count = 300;
    await Promise.all(Array.from({ length: count }, (_, i) => a.runtime.ref(reminder, `shared-${i}`).ask('set', { name: 'once', after: 1000, note: String(i) })));
    a.clock.advance(1000);
    b.clock.advance(1000);
    await Promise.all([a.runtime.timers.poll(), b.runtime.timers.poll()]);
    await Promise.all([a.runtime.timers.idle(), b.runtime.timers.idle()]);
    expect(a.runtime.timers.stats().fired + b.runtime.timers.stats().fired).toBe(count);
    expect(await store.timers.list()).toEqual([]);
    // Each entity's journal (shared by both runtimes' stores) holds its one Fired event.
    let fired = 0;
    for (let i = 0; i < count; i++) {
      const events = await store.journal.read(`reminder|shared-${i}`);
      fired += events.filter((e) => e.type === 'Fired').length;
    }
    expect(fired).toBe(count);
  }, 60_000);
});

describe('durable timers: options and stateless functions', () => {
  it('a runtime with timers disabled schedules but fires nothing; one with them enabled fires', async () => {
    const { store } = await openStore('memory');
    const quiet = node(store, T0, { timers: { enabled: false } });
    const ref = quiet.runtime.ref(reminder, 'disabled');
    await ref.ask('set', { name: 'd', after: 10, note: 'elsewhere' });
    await advance(quiet, 5000);
    expect(quiet.runtime.timers.stats().fired).toBe(0);
    expect((await store.timers.list('reminder|disabled')).map((t) => t.name)).toEqual(['d']);
    const firing = node(store, T0 + 5000);
    await until(() => firing.runtime.timers.stats().fired === 1, 'the delivery by the enabled runtime');
  });

  it('bad options are refused with INVALID_OPTION naming the field', async () => {
    const { store } = await openStore('memory');
    const system = createActorSystem({ clock: new ManualClock(), logger: silentLogger });
    stops.push(() => system.stop());
    expect(() => new EntityRuntime(system, { store, timers: { leaseMs: 1000, deliveryTimeoutMs: 1000 } })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', field: 'timers.deliveryTimeoutMs' }),
    );
    expect(() => new EntityRuntime(system, { store, timers: { maxAttempts: 0 } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', field: 'timers.maxAttempts' }));
    expect(() => new EntityRuntime(system, { store, timers: { backoff: { minMs: -1 } } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', field: 'timers.backoff.minMs' }));
  });

  it('a stateless function cannot schedule: INVALID_TIMER', async () => {
    const { store } = await openStore('memory');
    const system = createActorSystem({ clock: new ManualClock(), logger: silentLogger });
    stops.push(() => system.stop());
    const runtime = new EntityRuntime(system, { store });
    const fn = statelessFunction('stateless-timer').command('try', (_i, ctx) => {
      try {
        (ctx as unknown as { schedule(n: string, w: unknown, c: string): void }).schedule('x', { after: 1 }, 'try');
        return ctx.reply('scheduled');
      } catch (err) {
        return ctx.reply((err as { code?: string }).code);
      }
    });
    runtime.register(fn);
    expect(await runtime.ref(fn, '0').ask('try')).toBe('INVALID_TIMER');
  });
});
