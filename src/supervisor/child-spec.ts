import type { Behavior, SpawnOptions } from '../actors/behavior.js';
import type { ActorRef, Ignore } from '../actors/ref.js';
import type { ActorSystem } from '../actors/system.js';
import { type BackoffOptions, type ResolvedBackoff, resolveBackoff } from './backoff.js';
import { InvalidChildSpecError } from './errors.js';
import type { AutoShutdown } from './flags.js';
import type { DynamicSupervisorRef, SupervisorHandle, SupervisorRef } from './refs.js';
import type { DynamicSupervisorSpec, SupervisorSpec } from './spec.js';

/**
 * When a child that exited is restarted:
 * - `'permanent'`: always.
 * - `'transient'`: only if it exited abnormally, i.e. with a reason other than `'normal'`,
 *   `'shutdown'` or `{ shutdown: detail }`.
 * - `'temporary'`: never, not even when a sibling's crash makes a one-for-all or rest-for-one
 *   supervisor stop it; its spec is forgotten as soon as it exits.
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** A child that is itself a supervisor gets an `'infinity'` shutdown by default, so its subtree has time to stop. */
export type ChildType = 'worker' | 'supervisor';

/**
 * How the supervisor stops a child:
 * - `'brutal-kill'`: the untrappable `kill` signal at once.
 * - a number of ms: an exit signal `shutdown` (a child that traps exits runs its `terminate`),
 *   then `kill` if it has not exited after that long.
 * - `'infinity'` (or `Infinity`): the `shutdown` signal, then wait as long as it takes.
 */
export type Shutdown = 'brutal-kill' | 'infinity' | number;

/** What a start function may return: the child's ref, a nested supervisor's ref, or `IGNORE` to start nothing. */
export type ChildStartResult<Msg = unknown, Reply = unknown> = ActorRef<Msg, Reply> | SupervisorHandle | Ignore;

/**
 * Given to a child's start function by the supervisor. Start the child through it, so the child
 * is linked to the supervisor and has the supervisor as its parent (which is what lets a child
 * that traps exits run `terminate` when the supervisor stops it).
 */
export interface ChildStartContext {
  readonly system: ActorSystem;
  /** The supervisor starting the child. */
  readonly supervisor: ActorRef;
  /**
   * Spawns the child linked to the supervisor and resolves once its `init` has run: with its ref,
   * or `IGNORE` if init returned `IGNORE`. Rejects with init's error if init fails. Spawn one
   * actor per start: the one the start function returns is the child.
   */
  spawn<Msg, State, Reply>(behavior: Behavior<Msg, State, Reply>, options?: SpawnOptions): Promise<ActorRef<Msg, Reply> | Ignore>;
  /** Starts a supervisor as this child (give the spec `type: 'supervisor'`). */
  startSupervisor(spec: SupervisorSpec): Promise<SupervisorRef>;
  /** Starts a dynamic supervisor as this child (give the spec `type: 'supervisor'`). */
  startDynamicSupervisor<Args extends unknown[], Msg = unknown, Reply = unknown>(
    spec: DynamicSupervisorSpec<Args, Msg, Reply>,
  ): Promise<DynamicSupervisorRef<Args, Msg, Reply>>;
}

/** The fields a child spec shares with a dynamic supervisor's child template. */
export interface ChildOptions {
  /** Default `'permanent'`. */
  readonly restart?: RestartType;
  /** Default 5000 ms for a worker, `'infinity'` for a supervisor. */
  readonly shutdown?: Shutdown;
  /** Default `'worker'`. */
  readonly type?: ChildType;
  /**
   * Whether this child's own exit counts for the supervisor's `autoShutdown`. Default false. Only
   * allowed for transient and temporary children, under a supervisor whose `autoShutdown` is not
   * `'never'` (as OTP).
   */
  readonly significant?: boolean;
  /** Restart backoff for this child; default the supervisor's `backoff`, if any. */
  readonly backoff?: BackoffOptions;
}

/**
 * A child specification (OTP's `child_spec()` map), plain data.
 *
 * ```ts
 * { id: 'cache', start: (ctx) => ctx.spawn(cacheBehavior), restart: 'transient' }
 * ```
 */
export interface ChildSpec<Msg = unknown, Reply = unknown> extends ChildOptions {
  /** Unique among the supervisor's children. */
  readonly id: string;
  /**
   * Starts the child, normally `(ctx) => ctx.spawn(behavior)`. It may also return `IGNORE`, and
   * may throw or reject: the child then fails to start with that reason.
   */
  readonly start: (ctx: ChildStartContext) => ChildStartResult<Msg, Reply> | Promise<ChildStartResult<Msg, Reply>>;
}

/** A dynamic supervisor's single child template: `start` gets the arguments given to `startChild`. */
export interface DynamicChildSpec<Args extends unknown[] = unknown[], Msg = unknown, Reply = unknown> extends ChildOptions {
  readonly start: (ctx: ChildStartContext, ...args: Args) => ChildStartResult<Msg, Reply> | Promise<ChildStartResult<Msg, Reply>>;
}

/** Every default of a child spec, in one place (OTP's `?default_child_spec`). */
export const childSpecDefaults = {
  restart: 'permanent',
  type: 'worker',
  significant: false,
  /** By child type. */
  shutdown: { worker: 5000, supervisor: 'infinity' },
} as const satisfies {
  restart: RestartType;
  type: ChildType;
  significant: boolean;
  shutdown: Record<ChildType, Shutdown>;
};

/** A start function as the supervisor calls it. @internal */
export type StartFunction = (ctx: ChildStartContext, ...args: unknown[]) => unknown;

/** A child spec with defaults applied. `shutdown` is `'brutal-kill'` or ms (`Infinity` for infinity). @internal */
export interface ResolvedChildSpec {
  readonly id: string | undefined;
  readonly start: StartFunction;
  readonly restart: RestartType;
  readonly shutdown: 'brutal-kill' | number;
  readonly type: ChildType;
  readonly significant: boolean;
  readonly backoff: ResolvedBackoff | undefined;
  /** The spec as the user gave it, for `getChildSpec`. */
  readonly original: ChildSpec | DynamicChildSpec;
}

const STATIC_KEYS = new Set(['id', 'start', 'restart', 'shutdown', 'type', 'significant', 'backoff']);
const RESTARTS: readonly string[] = ['permanent', 'transient', 'temporary'];

/**
 * Validates one child spec and applies its defaults; throws `INVALID_CHILD_SPEC` naming the
 * field. With `dynamic`, it is a dynamic supervisor's template, which has no `id`.
 * @internal
 */
export function resolveChildSpec(spec: unknown, autoShutdown: AutoShutdown | undefined, dynamic = false): ResolvedChildSpec {
  if (typeof spec !== 'object' || spec === null) throw new InvalidChildSpecError('spec', spec, 'a child spec must be an object');
  const s = spec as Record<string, unknown>;
  let id: string | undefined;
  if (!dynamic) {
    if (typeof s.id !== 'string' || s.id.length === 0) throw new InvalidChildSpecError('id', s.id, 'must be a non-empty string');
    id = s.id;
  }
  const fail = (field: string, value: unknown, message: string): never => {
    throw new InvalidChildSpecError(field, value, message, id);
  };
  for (const key of Object.keys(s)) {
    if (!STATIC_KEYS.has(key)) fail(key, s[key], 'unknown child spec field');
    if (dynamic && key === 'id') fail('id', s.id, 'a dynamic supervisor’s child spec has no id (children are told apart by ref)');
  }
  if (typeof s.start !== 'function') fail('start', s.start, 'must be a function (ctx) => ActorRef | IGNORE | Promise of one');
  const restart = s.restart ?? childSpecDefaults.restart;
  if (typeof restart !== 'string' || !RESTARTS.includes(restart)) {
    fail('restart', restart, `must be 'permanent', 'transient' or 'temporary', got ${String(restart)}`);
  }
  const type = s.type ?? childSpecDefaults.type;
  if (type !== 'worker' && type !== 'supervisor') fail('type', type, `must be 'worker' or 'supervisor', got ${String(type)}`);
  const significant = s.significant ?? childSpecDefaults.significant;
  if (typeof significant !== 'boolean') fail('significant', significant, 'must be a boolean');
  if (significant === true) {
    if (restart === 'permanent') fail('significant', significant, 'a permanent child cannot be significant (it is always restarted)');
    if (autoShutdown === 'never') fail('significant', significant, "significant children need the supervisor's autoShutdown to be 'any-significant' or 'all-significant'");
  }
  const shutdown = resolveShutdown(s.shutdown ?? childSpecDefaults.shutdown[type as ChildType], fail);
  const backoff = s.backoff === undefined ? undefined : resolveBackoff(s.backoff, { childId: id });
  return {
    id,
    start: s.start as StartFunction,
    restart: restart as RestartType,
    shutdown,
    type: type as ChildType,
    significant: significant as boolean,
    backoff,
    original: spec as ChildSpec,
  };
}

function resolveShutdown(value: unknown, fail: (field: string, value: unknown, message: string) => never): 'brutal-kill' | number {
  if (value === 'brutal-kill') return value;
  if (value === 'infinity' || value === Infinity) return Infinity;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  return fail('shutdown', value, `must be 'brutal-kill', 'infinity' or a number of ms >= 0, got ${String(value)}`);
}

/**
 * Checks a list of child specs as a static supervisor would (OTP's `check_childspecs/2`): each
 * spec's fields and that ids are unique. With `autoShutdown`, also whether significant children
 * are allowed. Throws `INVALID_CHILD_SPEC` naming the first bad field.
 */
export function checkChildSpecs(specs: readonly ChildSpec[], autoShutdown?: AutoShutdown): void {
  resolveChildSpecs(specs, autoShutdown);
}

/** @internal */
export function resolveChildSpecs(specs: unknown, autoShutdown: AutoShutdown | undefined): ResolvedChildSpec[] {
  if (!Array.isArray(specs)) throw new InvalidChildSpecError('children', specs, 'must be an array of child specs');
  const ids = new Set<string>();
  const out: ResolvedChildSpec[] = [];
  for (const spec of specs) {
    const r = resolveChildSpec(spec, autoShutdown);
    const id = r.id as string;
    if (ids.has(id)) throw new InvalidChildSpecError('id', id, 'duplicate child id', id);
    ids.add(id);
    out.push(r);
  }
  return out;
}
