import { randomUUID } from 'node:crypto';
import { BeamstateError } from '../../errors.js';
import { textProblem } from '../../persistence/text.js';
import type { TimerChange } from '../../persistence/timer-store.js';
import type { CommandDef } from '../definition.js';

/**
 * When a durable timer fires: at a wall-clock time, after a delay, or every period (first after
 * one period, or at `at` / after `after`). Times are epoch milliseconds, delays milliseconds.
 */
export type TimerWhen =
  | { readonly at: number | Date; readonly every?: number }
  | { readonly after: number; readonly every?: number }
  | { readonly every: number };

/** Set on `ctx.timer` when the command is a timer's delivery. */
export interface TimerDelivery {
  /** The timer's name. */
  readonly name: string;
  /**
   * The same for every delivery of this occurrence (retries, redeliveries after a crash or a
   * lost lease), different for every other: the schedule call and the occurrence's time. Keep
   * the ids you have handled to make a handler idempotent (see docs/timers.md).
   */
  readonly deliveryId: string;
  /** 1 for the first delivery of this occurrence, 2 for the first retry, … */
  readonly attempt: number;
  /** The occurrence's time, epoch ms (for a periodic timer, the period it stands for). */
  readonly scheduledFor: number;
}

/** What an event-sourced or value entity's handler can do with its entity's durable timers. */
export interface TimerEffects {
  /**
   * Schedules (or replaces) the entity's timer `name`: when it is due, `command` is sent to this
   * entity with `payload`, as any command is (validated by its schema, activating the entity if
   * needed). Written with the command's events or state, in their transaction: if the command
   * fails, crashes or its write fails, there is no timer. A missed time (the process was down)
   * fires once, as soon as the runtime is back; a periodic timer then goes on from its next
   * period after now, not once per period missed.
   */
  schedule(name: string, when: TimerWhen, command: string, payload?: unknown): void;
  /** Cancels the entity's timer `name`, with the command's write; cancelling a timer that does not exist does nothing. */
  cancel(name: string): void;
}

/** `INVALID_TIMER`: `ctx.schedule` or `ctx.cancel` was called with something it cannot store; `field` names it. */
export class InvalidTimerError extends BeamstateError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('INVALID_TIMER', `${field}: ${message}`);
    this.field = field;
  }
}

/** Timer names: at most this many UTF-16 code units. */
export const MAX_TIMER_NAME_LENGTH = 256;

/** @internal Checks a timer name. */
export function checkTimerName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_TIMER_NAME_LENGTH) {
    throw new InvalidTimerError('name', `must be a string of 1-${MAX_TIMER_NAME_LENGTH} characters, got ${JSON.stringify(name)}`);
  }
  const problem = textProblem(name);
  if (problem !== undefined) throw new InvalidTimerError('name', problem);
  return name;
}

function checkMs(field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new InvalidTimerError(field, `must be a finite number >= ${min}, got ${String(v)}`);
  return Math.round(v);
}

/** @internal A schedule call as a timer change, its time worked out from `now` (epoch ms). */
export function scheduleChange(
  commands: ReadonlyMap<string, CommandDef>,
  typeName: string,
  name: unknown,
  when: unknown,
  command: unknown,
  payload: unknown,
  now: number,
): TimerChange {
  const n = checkTimerName(name);
  if (typeof command !== 'string' || !commands.has(command)) {
    throw new InvalidTimerError('command', `entity type ${JSON.stringify(typeName)} has no command ${JSON.stringify(command)}`);
  }
  if (typeof when !== 'object' || when === null) throw new InvalidTimerError('when', 'must be { at }, { after } or { every }, each optionally with every');
  const w = when as { at?: unknown; after?: unknown; every?: unknown };
  if (w.at !== undefined && w.after !== undefined) throw new InvalidTimerError('when', 'give at or after, not both');
  const everyMs = w.every === undefined ? 0 : checkMs('when.every', w.every, 1);
  let dueAt: number;
  if (w.at !== undefined) {
    const at = w.at instanceof Date ? w.at.getTime() : w.at;
    dueAt = checkMs('when.at', at, 0);
  } else if (w.after !== undefined) {
    dueAt = now + checkMs('when.after', w.after, 0);
  } else if (everyMs > 0) {
    dueAt = now + everyMs;
  } else {
    throw new InvalidTimerError('when', 'must be { at }, { after } or { every }, each optionally with every');
  }
  return { kind: 'schedule', name: n, dueAt, everyMs, command, payload, scheduleId: randomUUID() };
}

/** @internal The occurrence after `dueAt` of a timer with period `everyMs`, the first one later than `now`; null for a one-shot timer. */
export function nextOccurrence(dueAt: number, everyMs: number, now: number): number | null {
  if (everyMs <= 0) return null;
  if (now < dueAt) return dueAt + everyMs;
  return dueAt + everyMs * (Math.floor((now - dueAt) / everyMs) + 1);
}
