import {
  type ActorRef,
  type ActorSystem,
  type Behavior,
  type ChildInfo,
  type ChildSpec,
  type ExitReason,
  type InspectionEvent,
  type SupervisorEvent,
  type SupervisorHandle,
} from '../../src/index.js';

export { testSystem, recordEvents, deferred } from '../actors/support.js';

/** What a test worker understands: crash with an error, exit with a reason, or answer a ping. */
export type WorkerMsg = { crash: string } | { exit: ExitReason } | 'ping';

export interface WorkerOptions {
  /** Trap exits, so a supervisor's shutdown runs `terminate`. */
  readonly trap?: boolean;
  /** Called from `terminate`; may return a promise to make the stop slow. */
  readonly onTerminate?: ((reason: ExitReason) => void | Promise<void>) | undefined;
}

/** A worker that does what it is told. `log` records `start:<tag>` and `stop:<tag>` in order. */
export function worker(tag: string, log?: string[], options: WorkerOptions = {}): Behavior<WorkerMsg, undefined, string> {
  return {
    init(ctx) {
      if (options.trap === true) ctx.trapExit = true;
      log?.push(`start:${tag}`);
      return undefined;
    },
    receive(s, msg, ctx) {
      if (msg === 'ping') ctx.reply(`pong:${tag}`);
      else if ('crash' in msg) throw new Error(msg.crash);
      else ctx.stop(msg.exit);
      return s;
    },
    terminate(_s, reason) {
      log?.push(`stop:${tag}`);
      return options.onTerminate?.(reason);
    },
  };
}

/** A child spec running {@link worker}. */
export function child(id: string, log?: string[], extra: Omit<ChildSpec, 'id' | 'start'> = {}, options: WorkerOptions = {}): ChildSpec {
  return { id, start: (ctx) => ctx.spawn(worker(id, log, { trap: true, ...options })), ...extra };
}

/** The children of a supervisor as `{ id: ref }` (running ones only). */
export async function refs(sup: SupervisorHandle): Promise<Record<string, ActorRef<WorkerMsg, string>>> {
  const out: Record<string, ActorRef<WorkerMsg, string>> = {};
  for (const c of await sup.whichChildren()) if (c.ref !== undefined) out[c.id ?? String(c.ref.id)] = c.ref as ActorRef<WorkerMsg, string>;
  return out;
}

/** `{ id: status }` of every child. */
export async function statuses(sup: SupervisorHandle): Promise<Record<string, ChildInfo['status']>> {
  const out: Record<string, ChildInfo['status']> = {};
  for (const c of await sup.whichChildren()) out[c.id ?? '?'] = c.status;
  return out;
}

/** Crashes a child and lets the supervisor react. */
export async function crash(system: ActorSystem, ref: ActorRef<WorkerMsg, string> | undefined, why = 'boom'): Promise<void> {
  if (ref === undefined) throw new Error('no such child');
  ref.tell({ crash: why });
  await system.whenIdle();
}

/** Makes a child exit with `reason` and lets the supervisor react. */
export async function exitWith(system: ActorSystem, ref: ActorRef<WorkerMsg, string> | undefined, reason: ExitReason): Promise<void> {
  if (ref === undefined) throw new Error('no such child');
  ref.tell({ exit: reason });
  await system.whenIdle();
}

/** Keeps only supervisor events. */
export function supervisorEvents(events: InspectionEvent[]): SupervisorEvent[] {
  return events.filter((e): e is SupervisorEvent => e.type.startsWith('supervisor.'));
}
