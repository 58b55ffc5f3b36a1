// npm run bench -- observer
//
// tell_per_s_baseline                tells spread over 1000 busy actors for 2.5 s, before the observer
//                                    module is even loaded (same system, same run)
// tell_per_s_with_observer_idle      the same, with an observer created and mounted on the gateway
//                                    and nobody connected (target ≥ 0.97 × baseline)
// tell_per_s_with_observer_watching  the same, with a page's channel connected and watching (an
//                                    update per second) (target ≥ 0.85 × baseline)
// idle_vs_baseline, watching_vs_baseline   the ratios
// observer_update_bytes_per_s        bytes a watching page receives per second with 100 000 entities
//                                    active (target ≤ 200 kB/s)
// observer_update_build_ms           server time to build one update with those 100 000 entities
//
// Rounds alternate idle and watching after the baseline rounds; each figure is the best round.
import WebSocket from 'ws';
import { z } from 'zod';
import { type ActorRef, createActorSystem, createGateway, EntityRuntime, eventSourcedEntity, silentLogger } from '../src/index.js';
import { createStore } from '../src/persistence/index.js';
import { gc, log, now, report, round } from './_report.js';

const ACTORS = 1000;
/** Each round tells for this long (so a watching round sees a few updates), then drains. */
const ROUND_MS = 2500;
const ROUNDS = 3;
const ENTITIES = 100_000;

const system = createActorSystem({ logger: silentLogger });
const store = await createStore({ kind: 'memory', logger: silentLogger });
const counter = eventSourcedEntity('counter')
  .initialState(() => ({ value: 0 }))
  .events<{ type: 'Added'; n: number }>({ Added: (s, e) => ({ value: s.value + e.n }) })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((st) => st.value));
const runtime = new EntityRuntime(system, { store, logger: silentLogger });
runtime.register(counter);
const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1', logger: silentLogger });

let remaining = 0;
let finished: () => void = () => {};
const workers: ActorRef<number>[] = [];
for (let i = 0; i < ACTORS; i++) {
  workers.push(
    system.spawn<number, number>({
      init: () => 0,
      receive(n, m) {
        if (--remaining === 0) finished();
        return n + m;
      },
    }),
  );
}

async function tellRound(): Promise<number> {
  gc();
  const t0 = now();
  let sent = 0;
  // In slices of 50 000, each handled before the next is sent (the actors are busy, their
  // mailboxes bounded), so that the observer's timer and socket get their turns as in a real system.
  while (now() - t0 < ROUND_MS) {
    remaining = 50_000;
    const done = new Promise<void>((r) => (finished = r));
    for (let i = 0; i < 50_000; i++) (workers[(sent + i) % ACTORS] as ActorRef<number>).tell(1);
    sent += 50_000;
    await done;
  }
  return sent / ((now() - t0) / 1000);
}

// Warm-up (JIT), not counted.
for (let i = 0; i < 2; i++) log(`warm-up: ${round(await tellRound())} tells/s`);

const baseline: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  baseline.push(await tellRound());
  log(`baseline round ${i + 1}: ${round(baseline[i] as number)} tells/s`);
}

const { createObserver, OBSERVER_SUBPROTOCOL } = await import('../src/observer/index.js');
const observer = createObserver({ runtime, gateway, allowAnonymous: true, processMetrics: false });

async function connect(): Promise<{ ws: WebSocket; bytes: () => number; updates: () => number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/observer/ws`, [OBSERVER_SUBPROTOCOL]);
  let bytes = 0;
  let updates = 0;
  ws.on('message', (data: Buffer) => {
    bytes += data.length;
    if (data.toString('utf8', 0, 20).includes('"update"')) updates++;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ op: 'watch' }));
  return { ws, bytes: () => bytes, updates: () => updates };
}

const idle: number[] = [];
const watching: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  idle.push(await tellRound());
  const page = await connect();
  watching.push(await tellRound());
  log(`round ${i + 1}: idle ${round(idle[i] as number)} tells/s, watching ${round(watching[i] as number)} tells/s (${page.updates()} updates)`);
  page.ws.close();
  await new Promise<void>((r) => page.ws.once('close', () => r()));
}

// 100 000 active entities, then a page watching them for a few updates.
log(`activating ${ENTITIES} entities…`);
for (let i = 0; i < ENTITIES; i += 5000) {
  const asks: Promise<unknown>[] = [];
  for (let j = i; j < i + 5000; j++) asks.push(runtime.ref(counter, `e-${j}`).ask('add', { n: 1 }));
  await Promise.all(asks);
}
const page = await connect();
while (page.updates() < 1) await new Promise((r) => setTimeout(r, 50));
const b0 = page.bytes();
const t0 = now();
const u0 = page.updates();
while (page.updates() < u0 + 5) await new Promise((r) => setTimeout(r, 50));
const bytesPerSecond = (page.bytes() - b0) / ((now() - t0) / 1000);
log(`with ${ENTITIES} entities: ${round(bytesPerSecond)} B/s over ${page.updates() - u0} updates`);
// One update's build time, measured from the server side: a second watch is answered at once.
const builds: number[] = [];
for (let i = 0; i < 5; i++) {
  const before = page.updates();
  const tb = now();
  page.ws.send(JSON.stringify({ op: 'watch' }));
  while (page.updates() === before) await new Promise((r) => setImmediate(r));
  builds.push(now() - tb);
}
page.ws.close();
await observer.close();
await gateway.close();
await runtime.stop();
await system.stop();
await store.close();

const best = (xs: number[]): number => Math.max(...xs);
report('observer', {
  tell_per_s_baseline: round(best(baseline)),
  tell_per_s_with_observer_idle: round(best(idle)),
  tell_per_s_with_observer_watching: round(best(watching)),
  idle_vs_baseline: round(best(idle) / best(baseline), 3),
  watching_vs_baseline: round(best(watching) / best(baseline), 3),
  observer_update_bytes_per_s: round(bytesPerSecond),
  observer_update_build_ms: round(Math.min(...builds), 1),
});
