import { afterEach } from 'vitest';
import { z } from 'zod';
import {
  type ActorSystem,
  createActorSystem,
  type EntityRuntimeOptions,
  EntityRuntime,
  eventSourcedEntity,
  type InspectionEvent,
  ManualClock,
  silentLogger,
} from '../../src/index.js';
import { createStore, StoreUnavailableError, type Store } from '../../src/persistence/index.js';
import { openTestDatabase, type TestDatabase } from '../persistence/support.js';

export type Backend = 'memory' | 'pglite' | 'postgres';
/** `postgres` is the real server when DATABASE_URL is set, PGlite otherwise. */
export const backends: Backend[] = ['memory', 'pglite', 'postgres'];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export interface Harness {
  system: ActorSystem;
  clock: ManualClock;
  store: Store;
  runtime: EntityRuntime;
  events: InspectionEvent[];
  /** A new system and runtime on the same store, as after a process restart. */
  restart(options?: Partial<EntityRuntimeOptions>): Promise<Harness>;
}

export async function openStore(backend: Backend): Promise<{ store: Store; db: TestDatabase | null }> {
  if (backend === 'memory') {
    const store = await createStore({ kind: 'memory' });
    cleanups.push(() => store.close());
    return { store, db: null };
  }
  const db = await openTestDatabase(backend === 'pglite' ? 'pglite' : undefined);
  cleanups.push(() => db.close());
  return { store: await db.openStore(), db };
}

/**
 * A system on a manual clock with an entity runtime on `store`; stopped after the test. Silent
 * (these tests crash entities on purpose); `options.logger` gives the runtime a logger of its own.
 */
export async function harness(store: Store, options: Partial<EntityRuntimeOptions> = {}): Promise<Harness> {
  const clock = new ManualClock();
  const system = createActorSystem({ clock, logger: silentLogger });
  const events: InspectionEvent[] = [];
  system.events.subscribe((e) => events.push(e));
  const runtime = new EntityRuntime(system, { store, ...options });
  cleanups.push(() => system.stop());
  return {
    system,
    clock,
    store,
    runtime,
    events,
    restart: async (more = {}) => {
      await system.stop();
      return harness(store, { ...options, ...more });
    },
  };
}

/** `target` with some methods replaced; the others called on `target` itself (it has #private fields). */
export function delegate<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(t, key) {
      if (key in overrides) return overrides[key as keyof T];
      const v: unknown = Reflect.get(t, key, t);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/** `store` with some of its parts replaced; closing it closes `store`. */
export function storeWith(store: Store, parts: Partial<Pick<Store, 'journal' | 'durableState' | 'recovery' | 'snapshots'>>): Store {
  return { ...store, ...parts, close: () => store.close(), [Symbol.asyncDispose]: () => store.close() };
}

/** `store` whose appends wait until the test lets each one go (to the real store) or fail. */
export function heldAppends(store: Store): { store: Store; held: { go(): void; fail(err: Error): void }[] } {
  const held: { go(): void; fail(err: Error): void }[] = [];
  const append: Store['journal']['append'] = (...args) =>
    new Promise((resolve, reject) => {
      held.push({ go: () => store.journal.append(...args).then(resolve, reject), fail: reject });
    });
  return { store: storeWith(store, { journal: delegate(store.journal, { append }) }), held };
}

/** `store` whose snapshot saves wait until the test lets each one go (to the real store); `saves` lists the sequence numbers asked for. */
export function heldSnapshotSaves(store: Store): { store: Store; held: { sequenceNr: number; go(): void }[]; saves: number[] } {
  const held: { sequenceNr: number; go(): void }[] = [];
  const saves: number[] = [];
  const save: Store['snapshots']['save'] = (...args) => {
    saves.push(args[1]);
    return new Promise((resolve, reject) => {
      held.push({ sequenceNr: args[1], go: () => store.snapshots.save(...args).then(resolve, reject) });
    });
  };
  return { store: storeWith(store, { snapshots: delegate(store.snapshots, { save }) }), held, saves };
}

/** `store` whose next `n` appends fail as if the database had gone away. */
export function failingAppends(store: Store): { store: Store; failNext(n: number): void } {
  let failures = 0;
  const append: Store['journal']['append'] = (...args) => {
    if (failures === 0) return store.journal.append(...args);
    failures--;
    return Promise.reject(new StoreUnavailableError('connection terminated'));
  };
  return { store: storeWith(store, { journal: delegate(store.journal, { append }) }), failNext: (n) => (failures = n) };
}

/** `store` whose journal replays wait until the test opens the gate (`open()`). */
export function heldReplays(store: Store): { store: Store; open(): void; waiting(): number } {
  let opened = false;
  const waiting: (() => void)[] = [];
  const replay: Store['journal']['replay'] = async (...args) => {
    if (!opened) await new Promise<void>((r) => waiting.push(r));
    return store.journal.replay(...args);
  };
  return {
    store: storeWith(store, { journal: delegate(store.journal, { replay }) }),
    open: () => {
      opened = true;
      for (const go of waiting.splice(0)) go();
    },
    waiting: () => waiting.length,
  };
}

/** Waits until `predicate` holds, letting actors and the store run; bounded, never sleeps on a clock. */
export async function until(predicate: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (predicate()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A small event-sourced entity for tests. */
export type CounterEvent = { readonly type: 'Added'; readonly n: number };
export const counter = eventSourcedEntity('counter')
  .initialState(() => ({ value: 0 }))
  .events<CounterEvent>({ Added: (s, e) => ({ value: s.value + e.n }) })
  .command('add', z.object({ n: z.number().int() }), (s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((st) => st.value))
  .command('get', (s, _i, ctx) => ctx.reply(s.value))
  .command('crash', () => {
    throw new Error('boom');
  });

export function activations(events: InspectionEvent[], entityId?: string): Extract<InspectionEvent, { type: 'entity.activated' }>[] {
  return events.filter(
    (e): e is Extract<InspectionEvent, { type: 'entity.activated' }> => e.type === 'entity.activated' && (entityId === undefined || e.entityId === entityId),
  );
}
