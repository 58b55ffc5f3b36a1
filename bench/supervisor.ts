// npm run bench -- supervisor
//
// restart_latency_us_p50/p99        one-for-one: from a child's crash (inside its handler) to the
//                                   restarted instance handling the next message (sent when the
//                                   supervisor reports the restart), real clock
// bare_restart_latency_us_p50/p99   the same crash → respawn → message with a hand-written
//                                   trapping actor that links and respawns its child (baseline)
// one_for_all_10k_restart_ms        one-for-all supervisor with 10 000 children: from one crash to
//                                   all 10 000 restarted (stopped in reverse order, one by one,
//                                   then started in order), median of 5
// bare_10k_restart_ms               the same work by hand: stop 10 000 linked actors one by one
//                                   (awaiting each), spawn 10 000 (baseline)
// dynamic_start_children_per_s      children started under a dynamic supervisor (startChild asks,
//                                   10 000 in flight at a time)
// spawn_baseline_per_s              plain system.spawn of the same behaviour
// spawn_via_ask_baseline_per_s      an actor that spawns a child per ask (the same protocol
//                                   without the supervisor)
import { type ActorRef, type ActorSystem, type Behavior, createActorSystem as createSystem, type ActorSystemOptions, type ExitMessage } from '../src/actors/index.js';
import { silentLogger } from '../src/logger.js';
import { startDynamicSupervisor, startSupervisor } from '../src/supervisor/index.js';
import { gc, log, now, percentile, report, round } from './_report.js';

const LATENCY_SAMPLES = 20_000;
const LATENCY_WARMUP = 2_000;
const GROUP = 10_000;
const GROUP_ROUNDS = 5;
const DYNAMIC_N = 200_000;
const WAVE = 10_000;

type Msg = 'crash' | 'ping';

// Silent systems: these runs crash children tens of thousands of times on purpose, and the default
// logger would write every crash report to stderr; the figures measure restarts, not log writes,
// for the supervisor and its baselines alike.
const createActorSystem = (options: ActorSystemOptions = {}): ActorSystem => createSystem({ logger: silentLogger, ...options });

/** Shared between a latency run and its children: when the last crash happened, the current instance, who waits for the ping. */
interface Probe {
  crashAt: number;
  current: ActorRef<Msg> | undefined;
  onPing: () => void;
}

/** The child: records when it crashes, and calls back when it handles a ping. */
function probe(p: Probe): Behavior<Msg, undefined> {
  return {
    receive(s, msg) {
      if (msg === 'ping') p.onPing();
      else {
        p.crashAt = now();
        throw new Error('crash');
      }
      return s;
    },
  };
}

/** Crash the current instance, wait for the next one to handle a ping, repeat. `setup` starts the first instance and must set `p.current` on each restart. */
async function latencies(setup: (p: Probe) => Promise<ActorSystem>): Promise<{ p50: number; p99: number }> {
  const samples = new Float64Array(LATENCY_SAMPLES);
  let pinged: (t: number) => void = () => {};
  const p: Probe = { crashAt: 0, current: undefined, onPing: () => pinged(now()) };
  const system = await setup(p);
  for (let i = -LATENCY_WARMUP; i < LATENCY_SAMPLES; i++) {
    const next = new Promise<number>((resolve) => (pinged = resolve));
    (p.current as ActorRef<Msg>).tell('crash');
    const t1 = await next;
    if (i >= 0) samples[i] = (t1 - p.crashAt) * 1000;
  }
  await system.stop();
  samples.sort();
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

function supervisedLatency(): Promise<{ p50: number; p99: number }> {
  return latencies(async (p) => {
    const system = createActorSystem();
    const sup = await startSupervisor(system, {
      strategy: 'one-for-one',
      intensity: 1e9,
      periodMs: 1,
      onEvent(e) {
        if (e.type === 'supervisor.child-restarted' && e.child !== undefined) {
          p.current = e.child as ActorRef<Msg>;
          p.current.tell('ping');
        }
      },
      children: [{ id: 'probe', start: (ctx) => ctx.spawn(probe(p)) }],
    });
    p.current = (await sup.whichChildren())[0]?.ref as ActorRef<Msg>;
    return system;
  });
}

function bareLatency(): Promise<{ p50: number; p99: number }> {
  return latencies(async (p) => {
    const system = createActorSystem();
    const behavior = probe(p);
    system.spawn<never, undefined>({
      init(ctx) {
        ctx.trapExit = true;
        p.current = ctx.spawnLink(behavior);
        return undefined;
      },
      receive: (s) => s,
      onExit(s, _msg: ExitMessage, ctx) {
        p.current = ctx.spawnLink(behavior);
        p.current.tell('ping');
        return s;
      },
    });
    return system;
  });
}

const idle: Behavior<Msg, undefined> = {
  receive(s, msg) {
    if (msg === 'crash') throw new Error('crash');
    return s;
  },
};

async function oneForAll(): Promise<number> {
  const system = createActorSystem();
  let restarted = 0;
  let done: () => void = () => {};
  const sup = await startSupervisor(system, {
    strategy: 'one-for-all',
    intensity: 1e9,
    periodMs: 1,
    onEvent(e) {
      if (e.type === 'supervisor.child-restarted' && ++restarted === GROUP) done();
    },
    children: Array.from({ length: GROUP }, (_, i) => ({ id: `c${i}`, start: (ctx) => ctx.spawn(idle) })),
  });
  const times: number[] = [];
  for (let round_ = 0; round_ < GROUP_ROUNDS; round_++) {
    const which = await sup.whichChildren();
    const victim = which[Math.floor(GROUP / 2)]?.ref as ActorRef<Msg>;
    restarted = 0;
    const finished = new Promise<void>((r) => (done = r));
    gc();
    const t0 = now();
    victim.tell('crash');
    await finished;
    times.push(now() - t0);
  }
  if (system.actorCount !== GROUP + 1) throw new Error(`expected ${GROUP + 1} actors, found ${system.actorCount}`);
  await system.stop();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

async function bareOneForAll(): Promise<number> {
  const system = createActorSystem();
  const times: number[] = [];
  let kids: ActorRef<Msg>[] = [];
  let restart: () => Promise<void> = async () => {};
  system.spawn<never, undefined>({
    init(ctx) {
      ctx.trapExit = true;
      for (let i = 0; i < GROUP; i++) kids.push(ctx.spawnLink(idle));
      restart = async () => {
        for (let i = kids.length - 1; i >= 0; i--) {
          const k = kids[i] as ActorRef<Msg>;
          ctx.unlink(k);
          await k.stop('shutdown');
        }
        kids = [];
        for (let i = 0; i < GROUP; i++) kids.push(ctx.spawnLink(idle));
      };
      return undefined;
    },
    receive: (s) => s,
  });
  await system.whenIdle();
  for (let round_ = 0; round_ < GROUP_ROUNDS; round_++) {
    gc();
    const t0 = now();
    await restart();
    times.push(now() - t0);
  }
  await system.stop();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

async function dynamicStarts(): Promise<number> {
  const system = createActorSystem();
  const sup = await startDynamicSupervisor(system, { child: { start: (ctx) => ctx.spawn(idle) } });
  const pending: Promise<unknown>[] = new Array<Promise<unknown>>(WAVE);
  gc();
  const t0 = now();
  for (let done = 0; done < DYNAMIC_N; done += WAVE) {
    for (let i = 0; i < WAVE; i++) pending[i] = sup.startChild();
    await Promise.all(pending);
  }
  const rate = DYNAMIC_N / ((now() - t0) / 1000);
  const counts = await sup.countChildren();
  if (counts.active !== DYNAMIC_N) throw new Error(`expected ${DYNAMIC_N} children, found ${counts.active}`);
  await system.stop();
  return rate;
}

async function spawnBaseline(): Promise<number> {
  const system = createActorSystem();
  gc();
  const t0 = now();
  for (let i = 0; i < DYNAMIC_N; i++) system.spawn(idle);
  const rate = DYNAMIC_N / ((now() - t0) / 1000);
  await system.stop();
  return rate;
}

async function spawnViaAskBaseline(): Promise<number> {
  const system = createActorSystem();
  const spawner = system.spawn<'spawn', undefined, ActorRef>({
    receive(s, _m, ctx) {
      ctx.reply(ctx.spawnLink(idle));
      return s;
    },
  });
  const pending: Promise<unknown>[] = new Array<Promise<unknown>>(WAVE);
  gc();
  const t0 = now();
  for (let done = 0; done < DYNAMIC_N; done += WAVE) {
    for (let i = 0; i < WAVE; i++) pending[i] = spawner.ask('spawn');
    await Promise.all(pending);
  }
  const rate = DYNAMIC_N / ((now() - t0) / 1000);
  await system.stop();
  return rate;
}

async function main(): Promise<void> {
  log('restart latency (supervised, then bare)…');
  const sup = await supervisedLatency();
  log(`  supervised p50 ${round(sup.p50, 1)} µs, p99 ${round(sup.p99, 1)} µs`);
  const bare = await bareLatency();
  log(`  bare       p50 ${round(bare.p50, 1)} µs, p99 ${round(bare.p99, 1)} µs`);
  log('one-for-all, 10 000 children…');
  const ofa = await oneForAll();
  log(`  supervised ${round(ofa, 1)} ms`);
  const bareOfa = await bareOneForAll();
  log(`  bare       ${round(bareOfa, 1)} ms`);
  log('dynamic starts…');
  const dyn = await dynamicStarts();
  log(`  ${round(dyn)} children/s`);
  const spawn = await spawnBaseline();
  log(`  spawn baseline ${round(spawn)} /s`);
  const viaAsk = await spawnViaAskBaseline();
  log(`  spawn-via-ask baseline ${round(viaAsk)} /s`);
  report('supervisor', {
    restart_latency_us_p50: round(sup.p50, 1),
    restart_latency_us_p99: round(sup.p99, 1),
    bare_restart_latency_us_p50: round(bare.p50, 1),
    bare_restart_latency_us_p99: round(bare.p99, 1),
    one_for_all_10k_restart_ms: round(ofa, 1),
    bare_10k_restart_ms: round(bareOfa, 1),
    dynamic_start_children_per_s: round(dyn),
    spawn_baseline_per_s: round(spawn),
    spawn_via_ask_baseline_per_s: round(viaAsk),
  });
}

await main();
