import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ActorRef,
  type ChildSpec,
  createActorSystem,
  type ExitReason,
  ManualClock,
  type RestartType,
  silentLogger,
  type Strategy,
  startDynamicSupervisor,
  startSupervisor,
} from '../../src/index.js';
import { type WorkerMsg, worker } from './support.js';

// A reference model of OTP's static supervisor (supervisor.erl's restart/2, do_restart/3,
// add_restart/3, handle_call for the admin calls), checked against the real supervisor after
// every step of a random history. Where the rules were not obvious, they were checked against
// Erlang/OTP 25 itself: a one-for-all or rest-for-one restart also starts siblings that were not
// running (terminated, or transient ones that had exited normally), and drops temporary siblings;
// a restart whose start fails is retried at once (`try_again_restart`), each try counting toward
// the intensity, so a child that cannot start makes the supervisor give up.

const IDS = ['a', 'b', 'c', 'd', 'e'] as const;
type Id = (typeof IDS)[number];

type Cmd =
  | { kind: 'exit'; child: number; reason: 'normal' | 'shutdown' | 'error' }
  | { kind: 'terminate'; child: number }
  | { kind: 'restart'; child: number }
  | { kind: 'delete'; child: number }
  | { kind: 'start'; child: number }
  | { kind: 'advance'; ms: number }
  /** From now on the child's start function fails (`break`) or works again (`fix`). */
  | { kind: 'break' | 'fix'; child: number };

interface ModelChild {
  id: Id;
  restart: RestartType;
  running: boolean;
  /** New at every start: the real child must then be a new actor. */
  generation: number;
}

class Model {
  children: ModelChild[];
  restarts: number[] = [];
  alive = true;
  now = 0;
  readonly broken = new Set<Id>();
  private generations = 0;

  constructor(
    readonly strategy: Strategy,
    readonly intensity: number,
    readonly periodMs: number,
    readonly types: readonly RestartType[],
  ) {
    this.children = types.map((restart, i) => ({ id: IDS[i] as Id, restart, running: true, generation: ++this.generations }));
  }

  find(id: Id): ModelChild | undefined {
    return this.children.find((c) => c.id === id);
  }

  private start(c: ModelChild): void {
    c.running = true;
    c.generation = ++this.generations;
  }

  /** A running child exits on its own with `reason`. */
  exit(id: Id, reason: 'normal' | 'shutdown' | 'error'): void {
    const c = this.find(id) as ModelChild;
    c.running = false;
    const restart = c.restart === 'permanent' || (c.restart === 'transient' && reason === 'error');
    if (!restart) {
      if (c.restart === 'temporary') this.children = this.children.filter((x) => x !== c);
      return;
    }
    // add_restart/3: keep restarts no older than the period, then count this one.
    this.restarts = [this.now, ...this.restarts.filter((t) => t >= this.now - this.periodMs)];
    if (this.restarts.length > this.intensity) {
      this.die();
      return;
    }
    const group = this.strategy === 'one-for-one' ? [c] : this.children.slice(this.strategy === 'one-for-all' ? 0 : this.children.indexOf(c));
    // A start that keeps failing is retried until the intensity is exceeded.
    if (group.some((x) => x.restart !== 'temporary' && this.broken.has(x.id))) {
      this.die();
      return;
    }
    this.children = this.children.filter((x) => !(group.includes(x) && x.restart === 'temporary'));
    for (const x of group) if (x.restart !== 'temporary') this.start(x);
  }

  private die(): void {
    this.alive = false;
    for (const x of this.children) x.running = false;
  }

  terminate(id: Id): string {
    const c = this.find(id);
    if (c === undefined) return 'CHILD_NOT_FOUND';
    c.running = false;
    if (c.restart === 'temporary') this.children = this.children.filter((x) => x !== c);
    return 'ok';
  }

  restartChild(id: Id): string {
    const c = this.find(id);
    if (c === undefined) return 'CHILD_NOT_FOUND';
    if (c.running) return 'CHILD_RUNNING';
    if (this.broken.has(id)) return 'CHILD_START_FAILED';
    this.start(c);
    return 'ok';
  }

  deleteChild(id: Id): string {
    const c = this.find(id);
    if (c === undefined) return 'CHILD_NOT_FOUND';
    if (c.running) return 'CHILD_RUNNING';
    this.children = this.children.filter((x) => x !== c);
    return 'ok';
  }

  startChild(id: Id, restart: RestartType): string {
    const c = this.find(id);
    if (c !== undefined) return c.running ? 'ALREADY_STARTED' : 'ALREADY_PRESENT';
    if (this.broken.has(id)) return 'CHILD_START_FAILED';
    const fresh: ModelChild = { id, restart, running: false, generation: 0 };
    this.children.push(fresh);
    this.start(fresh);
    return 'ok';
  }
}

const commandArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('exit' as const), child: fc.nat(4), reason: fc.constantFrom('normal' as const, 'shutdown' as const, 'error' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('terminate' as const), child: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), child: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), child: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('start' as const), child: fc.nat(4) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(0, 1, 500, 999, 1000, 1000, 2000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('break' as const, 'fix' as const), child: fc.nat(4) }) },
);

const setupArb = fc.record({
  strategy: fc.constantFrom<Strategy>('one-for-one', 'one-for-all', 'rest-for-one'),
  intensity: fc.integer({ min: 0, max: 4 }),
  periodMs: fc.constantFrom(1000, 2000, 5000),
  types: fc.array(fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'), { minLength: 1, maxLength: 5 }),
  commands: fc.array(commandArb, { maxLength: 40 }),
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

describe('model-based: the supervisor agrees with a reference model of OTP’s rules', () => {
  it('after every crash, admin call and time step', async () => {
    await fc.assert(
      fc.asyncProperty(setupArb, async ({ strategy, intensity, periodMs, types, commands }) => {
        const clock = new ManualClock();
        await using system = createActorSystem({ clock, logger: silentLogger }); // crashes on purpose: silent
        const model = new Model(strategy, intensity, periodMs, types);
        const spec = (i: number): ChildSpec => ({
          id: IDS[i] as Id,
          restart: types[i % types.length] as RestartType,
          start: (ctx) => {
            if (model.broken.has(IDS[i] as Id)) throw new Error('cannot start');
            return ctx.spawn(worker(IDS[i] as string, undefined, { trap: i % 2 === 0 }));
          },
        });
        const sup = await startSupervisor(system, { strategy, intensity, periodMs, children: types.map((_, i) => spec(i)) });
        /** The actor id each child last ran as, and the model generation it matched. */
        const seen = new Map<Id, { actor: number; generation: number }>();
        const all: ActorRef[] = [];

        const check = async (step: string): Promise<void> => {
          expect(sup.alive, `${step}: supervisor alive`).toBe(model.alive);
          if (!model.alive) {
            for (const ref of all) expect(ref.alive, `${step}: ${String(ref)} stopped with the supervisor`).toBe(false);
            return;
          }
          const which = await sup.whichChildren();
          expect(
            which.map((c) => [c.id, c.status]),
            step,
          ).toEqual(model.children.map((c) => [c.id, c.running ? 'running' : 'stopped']));
          for (const c of model.children) {
            const real = which.find((w) => w.id === c.id)?.ref;
            if (!c.running || real === undefined) continue;
            if (!all.includes(real)) all.push(real);
            const prev = seen.get(c.id);
            if (prev !== undefined) {
              if (prev.generation === c.generation) expect(real.id, `${step}: ${c.id} kept its instance`).toBe(prev.actor);
              else expect(real.id, `${step}: ${c.id} was restarted`).not.toBe(prev.actor);
            }
            seen.set(c.id, { actor: real.id, generation: c.generation });
          }
        };

        await check('start');
        for (const cmd of commands) {
          if (!model.alive) break;
          const step = JSON.stringify(cmd);
          if (cmd.kind === 'advance') {
            clock.advance(cmd.ms);
            model.now += cmd.ms;
          } else if (cmd.kind === 'break') {
            model.broken.add(IDS[cmd.child % types.length] as Id);
          } else if (cmd.kind === 'fix') {
            model.broken.delete(IDS[cmd.child % types.length] as Id);
          } else {
            const id = IDS[cmd.child % types.length] as Id;
            const restart = types[cmd.child % types.length] as RestartType;
            switch (cmd.kind) {
              case 'exit': {
                const c = model.find(id);
                if (c === undefined || !c.running) continue;
                const ref = (await sup.whichChildren()).find((w) => w.id === id)?.ref as ActorRef<WorkerMsg>;
                const reason: ExitReason = cmd.reason === 'error' ? new Error('crash') : cmd.reason;
                const exited = system.awaitExit(ref);
                if (cmd.reason === 'error') ref.tell({ crash: 'crash' });
                else ref.tell({ exit: reason });
                await exited;
                model.exit(id, cmd.reason);
                break;
              }
              case 'terminate':
                expect(await codeOf(sup.terminateChild(id)), step).toBe(model.terminate(id));
                break;
              case 'restart':
                expect(await codeOf(sup.restartChild(id)), step).toBe(model.restartChild(id));
                break;
              case 'delete':
                expect(await codeOf(sup.deleteChild(id)), step).toBe(model.deleteChild(id));
                break;
              case 'start':
                expect(await codeOf(sup.startChild(spec(cmd.child % types.length))), step).toBe(model.startChild(id, restart));
                break;
            }
          }
          await system.whenIdle();
          await check(step);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

// The dynamic supervisor (`simple_one_for_one`): one restart type for all, children told apart by
// ref, a restarted child keeps its arguments and gets a new ref, reported with the one it replaces.

type DynCmd =
  | { kind: 'start' }
  | { kind: 'exit'; child: number; reason: 'normal' | 'shutdown' | 'error' }
  | { kind: 'terminate'; child: number }
  | { kind: 'advance'; ms: number };

const dynCommandArb: fc.Arbitrary<DynCmd> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'start' as const }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('exit' as const), child: fc.nat(9), reason: fc.constantFrom('normal' as const, 'shutdown' as const, 'error' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('terminate' as const), child: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(0, 1, 500, 1000, 2000) }) },
);

describe('model-based: the dynamic supervisor agrees with the model', () => {
  it('after every start, crash, terminate and time step', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          restart: fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'),
          intensity: fc.integer({ min: 0, max: 4 }),
          maxChildren: fc.constantFrom(2, 4, Infinity),
          commands: fc.array(dynCommandArb, { maxLength: 40 }),
        }),
        async ({ restart, intensity, maxChildren, commands }) => {
          const clock = new ManualClock();
          await using system = createActorSystem({ clock, logger: silentLogger }); // crashes on purpose: silent
          /** Each child: the argument it was started with and the ref it runs as now. */
          let children: { arg: number; ref: ActorRef<WorkerMsg, string> }[] = [];
          let restarts: number[] = [];
          let alive = true;
          const replaced = new Map<ActorRef, ActorRef | undefined>();
          const sup = await startDynamicSupervisor(system, {
            intensity,
            periodMs: 1000,
            maxChildren,
            onEvent: (e) => {
              if (e.type === 'supervisor.child-restarted') replaced.set(e.previous as ActorRef, e.child);
            },
            child: { restart, start: (ctx, n: number) => ctx.spawn(worker(`w${n}`)) },
          });
          let next = 0;
          for (const cmd of commands) {
            if (!alive) break;
            const step = JSON.stringify(cmd);
            if (cmd.kind === 'advance') {
              clock.advance(cmd.ms);
            } else if (cmd.kind === 'start') {
              const n = next++;
              const expected = children.length >= maxChildren ? 'MAX_CHILDREN' : 'ok';
              let ref: ActorRef<WorkerMsg, string> | undefined;
              expect(await codeOf(sup.startChild(n).then((r) => (ref = r as ActorRef<WorkerMsg, string>))), step).toBe(expected);
              if (ref !== undefined) children.push({ arg: n, ref });
            } else if (children.length > 0) {
              const c = children[cmd.child % children.length] as { arg: number; ref: ActorRef<WorkerMsg, string> };
              if (cmd.kind === 'terminate') {
                await sup.terminateChild(c.ref);
                children = children.filter((x) => x !== c);
              } else {
                const exited = system.awaitExit(c.ref);
                if (cmd.reason === 'error') c.ref.tell({ crash: 'crash' });
                else c.ref.tell({ exit: cmd.reason as ExitReason });
                await exited;
                await system.whenIdle();
                const restarted = restart === 'permanent' || (restart === 'transient' && cmd.reason === 'error');
                if (!restarted) {
                  children = children.filter((x) => x !== c);
                } else {
                  restarts = [clock.now(), ...restarts.filter((t) => t >= clock.now() - 1000)];
                  if (restarts.length > intensity) {
                    alive = false;
                  } else {
                    const now = replaced.get(c.ref);
                    expect(now, `${step}: restarted with a new ref`).toBeDefined();
                    expect(now, step).not.toBe(c.ref);
                    expect(await (now as ActorRef<WorkerMsg, string>).ask('ping'), `${step}: same arguments`).toBe(`pong:w${c.arg}`);
                    c.ref = now as ActorRef<WorkerMsg, string>;
                  }
                }
              }
            }
            await system.whenIdle();
            expect(sup.alive, step).toBe(alive);
            if (!alive) {
              for (const c of children) expect(c.ref.alive, `${step}: children stopped with the supervisor`).toBe(false);
              break;
            }
            const which = await sup.whichChildren();
            expect(new Set(which.map((w) => w.ref)), step).toEqual(new Set(children.map((c) => c.ref)));
            expect(await sup.countChildren(), step).toEqual({ specs: 1, active: children.length, supervisors: 0, workers: children.length });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
