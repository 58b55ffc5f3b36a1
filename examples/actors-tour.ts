// A short tour of beamstate's actors: run it with `npx tsx examples/actors-tour.ts`.
// Counters that keep state, a flaky worker watched by a trapping guardian that restarts it,
// asks with timeouts, and a timer — the BEAM's building blocks on Node's event loop.
import { type ActorRef, type Behavior, createActorSystem, type ExitMessage, formatReason } from '../src/index.js';

type CounterMsg = { type: 'add'; n: number } | { type: 'get' };
const counter: Behavior<CounterMsg, number, number> = {
  init: () => 0,
  receive(total, msg, ctx) {
    if (msg.type === 'add') return total + msg.n;
    ctx.reply(total);
    return total;
  },
};

type WorkerMsg = { type: 'job'; input: number };
const flakyWorker: Behavior<WorkerMsg, number, number> = {
  init: () => 0,
  receive(done, msg, ctx) {
    if (msg.input % 4 === 3) throw new Error(`cannot handle ${msg.input}`);
    ctx.reply(msg.input * msg.input);
    return done + 1;
  },
};

// A guardian traps exits and restarts its worker when it crashes: a one-line supervisor.
type GuardianMsg = { type: 'work'; input: number } | { type: 'tick' };
const guardian: Behavior<GuardianMsg, { worker: ActorRef<WorkerMsg, number>; restarts: number; ticks: number }> = {
  init(ctx) {
    ctx.trapExit = true;
    ctx.timers.startInterval('tick', { type: 'tick' }, 10);
    return { worker: ctx.spawnLink(flakyWorker), restarts: 0, ticks: 0 };
  },
  async receive(state, msg, ctx) {
    if (msg.type === 'tick') return { ...state, ticks: state.ticks + 1 };
    const replyTo = ctx.replyTo;
    try {
      replyTo?.reply(await state.worker.ask({ type: 'job', input: msg.input }, { timeout: 1000 }));
    } catch (err) {
      replyTo?.fail(err as Error);
    }
    return state;
  },
  onExit(state, exit: ExitMessage, ctx) {
    ctx.log.warn({ reason: formatReason(exit.reason) }, 'worker crashed, restarting');
    console.log(`  guardian: worker exited (${formatReason(exit.reason)}), restarting it`);
    return { ...state, worker: ctx.spawnLink(flakyWorker), restarts: state.restarts + 1 };
  },
};

await using system = createActorSystem({ name: 'tour' });

console.log('1. counters keep their own state');
const counters = Array.from({ length: 3 }, (_, i) => system.spawn(counter, { name: `counter-${i}` }));
counters.forEach((c, i) => {
  for (let k = 0; k <= i; k++) c.tell({ type: 'add', n: 10 });
});
console.log('  totals:', await Promise.all(counters.map((c) => c.ask({ type: 'get' }))));

console.log('2. a crash is contained and the worker comes back');
const g = system.spawn(guardian, { name: 'guardian' });
for (let input = 1; input <= 8; input++) {
  try {
    console.log(`  ${input}² = ${await g.ask<number>({ type: 'work', input })}`);
  } catch (err) {
    console.log(`  job ${input} failed: ${(err as Error).message}`);
  }
}

console.log('3. asks time out instead of hanging');
const silent = system.spawn({ receive: (s: undefined) => s });
try {
  await silent.ask('anyone there?', { timeout: 50 });
} catch (err) {
  console.log(`  ${(err as { code: string }).code}: ${(err as Error).message}`);
}

console.log(`4. ${system.actorCount} actors alive; stopping the system`);
