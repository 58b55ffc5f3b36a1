// Entity ids the stores cannot hold exactly (NUL, lone surrogates) are refused at the gateway's
// door with INVALID_ENTITY_ID: before, a NUL id reached the store and came back as
// RECOVERY_FAILED with a stack logged per request, and on PGlite and PostgreSQL two different
// lone-surrogate ids became one stream (issue 13, item 2).
import { afterEach, describe, expect, it } from 'vitest';
import { createActorSystem, createGateway, EntityRuntime, type Logger, ManualClock } from '../../src/index.js';
import { createStore, type Store } from '../../src/persistence/index.js';
import { counter, type RawClient, rawClient } from './support.js';

interface Captured {
  readonly logger: Logger;
  readonly records: { level: string; obj: object; msg: string | undefined }[];
}

function capturingLogger(): Captured {
  const records: Captured['records'] = [];
  const make = (): Logger => ({
    debug: (obj, msg) => records.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => records.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => records.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => records.push({ level: 'error', obj, msg }),
    child: () => make(),
  });
  return { logger: make(), records };
}

/** `store` with every call to its parts recorded (method name and persistence id). */
function recordingStore(store: Store): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const record = <T extends object>(part: string, target: T): T =>
    new Proxy(target, {
      get(t, key) {
        const v: unknown = Reflect.get(t, key, t);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.push(`${part}.${String(key)}(${JSON.stringify(args[0])})`);
          return (v as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  return {
    store: {
      ...store,
      journal: record('journal', store.journal),
      snapshots: record('snapshots', store.snapshots),
      durableState: record('durableState', store.durableState),
      recovery: record('recovery', store.recovery),
      close: () => store.close(),
      [Symbol.asyncDispose]: () => store.close(),
    },
    calls,
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(): Promise<{ client: RawClient; calls: string[]; records: Captured['records'] }> {
  const { logger, records } = capturingLogger();
  const base = await createStore({ kind: 'memory' });
  cleanups.push(() => base.close());
  const { store, calls } = recordingStore(base);
  const system = createActorSystem({ clock: new ManualClock(), logger });
  cleanups.push(() => system.stop());
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter);
  const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1' });
  cleanups.push(() => gateway.close());
  return { client: await rawClient(gateway.url as string), calls, records };
}

describe('entity ids over the gateway', () => {
  const bad: [string, string][] = [
    ['a NUL character', 'a\u0000b'],
    ['only NUL', '\u0000'],
    ['a lone high surrogate', 'x\uD800'],
    ['a lone low surrogate', '\uDC00y'],
    ['surrogates in the wrong order', '\uDC00\uD800'],
  ];

  for (const format of ['json', 'msgpack'] as const) {
    it(`refuses ids the stores cannot hold with INVALID_ENTITY_ID, logging nothing and touching no store (${format})`, async () => {
      const { client, calls, records } = await setUp();
      // msgpack cannot carry a lone surrogate (UTF-8 has no encoding for it), so only NULs there.
      const cases = format === 'json' ? bad : bad.slice(0, 2);
      for (const [what, id] of cases) {
        for (const kind of ['command', 'subscribe'] as const) {
          const frame =
            kind === 'command'
              ? { kind, id: `${what}-${kind}`, entity: { type: 'counter', id }, command: 'add', input: { n: 1 } }
              : { kind, id: `${what}-${kind}`, entity: { type: 'counter', id }, events: true };
          const answer = await client.request(frame);
          expect(answer, `${what} (${kind})`).toMatchObject({ kind: 'error', id: `${what}-${kind}`, error: { code: 'INVALID_ENTITY_ID' } });
        }
      }
      expect(calls).toEqual([]);
      expect(records.filter((r) => r.level === 'warn' || r.level === 'error')).toEqual([]);
      // The connection and the entity layer are fine: a good id still works (and does reach the store).
      const ok = await client.request({ kind: 'command', id: 'ok', entity: { type: 'counter', id: 'fine \u{1F600}' }, command: 'add', input: { n: 2 } });
      expect(ok).toEqual({ kind: 'reply', id: 'ok', result: 2 });
      expect(calls.length).toBeGreaterThan(0);
    });
  }
});
