// npm run bench -- actors
//
// tell_msgs_per_s          two actors, the first forwards each of 5 M messages to the second
// xstate_tell_msgs_per_s   the same shape with XState v5 (createActor(fromTransition(…))), same run
// ask_per_s                1 M sequential asks to one actor
// spawn_stop_per_s         spawn and gracefully stop 1 M actors (in waves of 10 k)
// idle_actor_bytes         heap per idle actor, 1 M actors alive that have each handled one message
// flood_timer_lag_max_ms   worst lateness of a 1 ms interval timer while one actor drains 2 M queued messages
// idle_timer_lag_max_ms    the same timer with nothing else running (its baseline)
import { createActor, fromTransition } from 'xstate';
import { type ActorRef, type Behavior, createActorSystem } from '../src/index.js';
import { gc, log, now, report, round } from './_report.js';

const TELL_N = 5_000_000;
const ASK_N = 1_000_000;
const SPAWN_N = 1_000_000;
const IDLE_N = 1_000_000;
const FLOOD_N = 2_000_000;

async function benchTell(): Promise<number> {
  const system = createActorSystem();
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const sink = system.spawn<number, number>({
    init: () => 0,
    receive(count) {
      if (++count === TELL_N) done();
      return count;
    },
  });
  const forwarder = system.spawn<number, undefined>({
    receive(state, msg) {
      sink.tell(msg);
      return state;
    },
  });
  const t0 = now();
  for (let i = 0; i < TELL_N; i++) forwarder.tell(i);
  await finished;
  const rate = TELL_N / ((now() - t0) / 1000);
  await system.stop();
  return rate;
}

function benchXState(): number {
  const sink = createActor(fromTransition((count: number) => count + 1, 0));
  sink.start();
  const forwarder = createActor(
    fromTransition((state: number, event: { type: 'n'; n: number }) => {
      sink.send(event);
      return state;
    }, 0),
  );
  forwarder.start();
  const t0 = now();
  for (let i = 0; i < TELL_N; i++) forwarder.send({ type: 'n', n: i });
  const elapsed = now() - t0;
  if (sink.getSnapshot().context !== TELL_N) throw new Error(`xstate sink counted ${sink.getSnapshot().context}`);
  forwarder.stop();
  sink.stop();
  return TELL_N / (elapsed / 1000);
}

async function benchAsk(): Promise<number> {
  const system = createActorSystem();
  const echo = system.spawn<number, undefined, number>({
    receive(state, n, ctx) {
      ctx.reply(n + 1);
      return state;
    },
  });
  let x = 0;
  const t0 = now();
  for (let i = 0; i < ASK_N; i++) x = await echo.ask(i);
  const rate = ASK_N / ((now() - t0) / 1000);
  if (x !== ASK_N) throw new Error('wrong reply');
  await system.stop();
  return rate;
}

async function benchSpawnStop(): Promise<number> {
  const system = createActorSystem();
  const behavior: Behavior<unknown, number> = { init: () => 0, receive: (s) => s };
  const WAVE = 10_000;
  const refs: ActorRef[] = new Array<ActorRef>(WAVE);
  const stops: Promise<void>[] = new Array<Promise<void>>(WAVE);
  const t0 = now();
  for (let done = 0; done < SPAWN_N; done += WAVE) {
    for (let i = 0; i < WAVE; i++) refs[i] = system.spawn(behavior);
    for (let i = 0; i < WAVE; i++) stops[i] = (refs[i] as ActorRef).stop();
    await Promise.all(stops);
  }
  const rate = SPAWN_N / ((now() - t0) / 1000);
  if (system.actorCount !== 0) throw new Error(`${system.actorCount} actors left`);
  await system.stop();
  return rate;
}

async function benchIdleBytes(): Promise<number> {
  gc();
  const before = process.memoryUsage().heapUsed;
  const system = createActorSystem();
  const behavior: Behavior<number, number> = { init: () => 0, receive: (s, n) => s + n };
  const refs: ActorRef<number>[] = new Array<ActorRef<number>>(IDLE_N);
  for (let i = 0; i < IDLE_N; i++) {
    const ref = system.spawn(behavior);
    ref.tell(1);
    refs[i] = ref;
  }
  await system.whenIdle();
  gc();
  const after = process.memoryUsage().heapUsed;
  // The refs array itself is the benchmark's, not the actors': subtract its 8 bytes a slot.
  const bytes = (after - before - IDLE_N * 8) / IDLE_N;
  if (system.actorCount !== IDLE_N) throw new Error('actors missing');
  await system.stop();
  refs.length = 0;
  return bytes;
}

async function timerLag(during: () => Promise<void>): Promise<number> {
  let worst = 0;
  let last = now();
  const timer = setInterval(() => {
    const t = now();
    worst = Math.max(worst, t - last - 1);
    last = t;
  }, 1);
  await during();
  clearInterval(timer);
  return worst;
}

async function benchFlood(): Promise<{ flood: number; idle: number }> {
  const idle = await timerLag(() => new Promise((r) => setTimeout(r, 300)));
  const system = createActorSystem();
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const flooded = system.spawn<number, number>({
    init: () => 0,
    receive(count) {
      if (++count === FLOOD_N) done();
      return count;
    },
  });
  // Queue everything first (the scheduler cannot run during this synchronous loop), then
  // measure the timer while the actor drains its mailbox.
  for (let i = 0; i < FLOOD_N; i++) flooded.tell(i);
  const flood = await timerLag(() => finished);
  await system.stop();
  return { flood, idle };
}

async function main(): Promise<void> {
  // Alternate the two and keep each one's best of three, so neither is measured only cold or
  // only after the other has left garbage behind.
  let tell = 0;
  let xs = 0;
  for (let round_ = 0; round_ < 3; round_++) {
    gc();
    const x = benchXState();
    gc();
    const t = await benchTell();
    log(`tell round ${round_ + 1}: beamstate ${round(t)} msgs/s, xstate ${round(x)} msgs/s`);
    tell = Math.max(tell, t);
    xs = Math.max(xs, x);
  }
  log('ask…');
  const ask = await benchAsk();
  log(`  ${round(ask)} asks/s`);
  log('spawn+stop…');
  const spawn = await benchSpawnStop();
  log(`  ${round(spawn)} /s`);
  log('idle actor bytes…');
  const bytes = await benchIdleBytes();
  log(`  ${round(bytes)} B`);
  log('flood timer lag…');
  const lag = await benchFlood();
  log(`  flood ${round(lag.flood, 2)} ms, idle ${round(lag.idle, 2)} ms`);
  report('actors', {
    tell_msgs_per_s: round(tell),
    xstate_tell_msgs_per_s: round(xs),
    tell_vs_xstate: round(tell / xs, 2),
    ask_per_s: round(ask),
    spawn_stop_per_s: round(spawn),
    idle_actor_bytes: round(bytes),
    flood_timer_lag_max_ms: round(lag.flood, 2),
    idle_timer_lag_max_ms: round(lag.idle, 2),
  });
}

await main();
