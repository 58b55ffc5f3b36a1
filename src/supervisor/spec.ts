import type { SupervisorEvent } from '../actors/inspection.js';
import { type ChildSpec, type DynamicChildSpec, type ResolvedChildSpec, resolveChildSpec, resolveChildSpecs } from './child-spec.js';
import { InvalidSupervisorFlagsError } from './errors.js';
import { type ResolvedFlags, type RestartFlags, resolveFlags, type SupervisorFlags } from './flags.js';

/** Options of any supervisor that are not OTP flags. */
export interface SupervisorOptions {
  /** Registers the supervisor actor under this name. */
  readonly name?: string;
  /**
   * Called synchronously, inside the supervisor, with each of this supervisor's events (child
   * started, exited, restarted, restart scheduled, start failed, escalated, shutdown): the same
   * events as on `system.events`, without subscribing to the whole system. A listener that
   * throws is logged and ignored.
   */
  readonly onEvent?: (event: SupervisorEvent) => void;
  /** Random source in [0, 1) for backoff jitter. Default `Math.random`; pass a fixed one in tests. */
  readonly random?: () => number;
}

/**
 * A static supervisor: flags and the children it starts, in order.
 *
 * ```ts
 * const sup = await startSupervisor(system, {
 *   strategy: 'rest-for-one',
 *   children: [
 *     { id: 'db', start: (ctx) => ctx.spawn(db) },
 *     { id: 'api', start: (ctx) => ctx.spawn(api) },
 *   ],
 * });
 * ```
 */
export interface SupervisorSpec extends SupervisorFlags, SupervisorOptions {
  /** Started in this order when the supervisor starts; stopped in reverse order. Default none. */
  readonly children?: readonly ChildSpec[];
}

/**
 * A dynamic supervisor (OTP's `simple_one_for_one`): one child template, children added at run
 * time with arguments, told apart by ref, stopped in parallel. The strategy is one-for-one.
 */
export interface DynamicSupervisorSpec<Args extends unknown[] = unknown[], Msg = unknown, Reply = unknown> extends RestartFlags, SupervisorOptions {
  readonly child: DynamicChildSpec<Args, Msg, Reply>;
  /** `startChild` beyond this many children rejects with `MAX_CHILDREN`. Default unlimited. */
  readonly maxChildren?: number;
}

/** A validated supervisor spec. @internal */
export interface ResolvedSupervisorSpec {
  readonly flags: ResolvedFlags;
  readonly name: string | undefined;
  readonly onEvent: ((event: SupervisorEvent) => void) | undefined;
  readonly random: () => number;
}

/** @internal */
export interface ResolvedStaticSpec extends ResolvedSupervisorSpec {
  readonly children: readonly ResolvedChildSpec[];
}

/** @internal */
export interface ResolvedDynamicSpec extends ResolvedSupervisorSpec {
  readonly child: ResolvedChildSpec;
  readonly maxChildren: number;
}

const COMMON_KEYS = ['intensity', 'period', 'periodMs', 'autoShutdown', 'backoff', 'name', 'onEvent', 'random'];
const STATIC_KEYS = new Set([...COMMON_KEYS, 'strategy', 'children']);
const DYNAMIC_KEYS = new Set([...COMMON_KEYS, 'child', 'maxChildren']);

function resolveCommon(spec: unknown, keys: ReadonlySet<string>, dynamic: boolean): ResolvedSupervisorSpec {
  if (typeof spec !== 'object' || spec === null) throw new InvalidSupervisorFlagsError('spec', spec, 'a supervisor spec must be an object');
  const s = spec as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (!keys.has(key)) {
      const hint = dynamic && key === 'strategy' ? ' (a dynamic supervisor is always one-for-one)' : '';
      throw new InvalidSupervisorFlagsError(key, s[key], `unknown supervisor option${hint}`);
    }
  }
  const flags = resolveFlags(s, dynamic);
  if (s.name !== undefined && (typeof s.name !== 'string' || s.name.length === 0)) throw new InvalidSupervisorFlagsError('name', s.name, 'must be a non-empty string');
  if (s.onEvent !== undefined && typeof s.onEvent !== 'function') throw new InvalidSupervisorFlagsError('onEvent', s.onEvent, 'must be a function');
  if (s.random !== undefined && typeof s.random !== 'function') throw new InvalidSupervisorFlagsError('random', s.random, 'must be a function returning [0, 1)');
  return {
    flags,
    name: s.name as string | undefined,
    onEvent: s.onEvent as ((event: SupervisorEvent) => void) | undefined,
    random: (s.random as (() => number) | undefined) ?? Math.random,
  };
}

/** Validates a static supervisor's spec: flags first, then each child. @internal */
export function resolveStaticSpec(spec: unknown): ResolvedStaticSpec {
  const common = resolveCommon(spec, STATIC_KEYS, false);
  const children = resolveChildSpecs((spec as SupervisorSpec).children ?? [], common.flags.autoShutdown);
  return { ...common, children };
}

/** Validates a dynamic supervisor's spec. @internal */
export function resolveDynamicSpec(spec: unknown): ResolvedDynamicSpec {
  const common = resolveCommon(spec, DYNAMIC_KEYS, true);
  const s = spec as DynamicSupervisorSpec;
  if (s.child === undefined) throw new InvalidSupervisorFlagsError('child', undefined, 'a dynamic supervisor needs a child spec');
  const child = resolveChildSpec(s.child, common.flags.autoShutdown, true);
  const maxChildren = s.maxChildren ?? Infinity;
  if (typeof maxChildren !== 'number' || !(maxChildren === Infinity || (Number.isInteger(maxChildren) && maxChildren >= 0))) {
    throw new InvalidSupervisorFlagsError('maxChildren', maxChildren, 'must be an integer >= 0 or Infinity');
  }
  return { ...common, child, maxChildren };
}

/**
 * Validates a supervisor spec without starting anything; throws `INVALID_SUPERVISOR_FLAGS` or
 * `INVALID_CHILD_SPEC` naming the first bad field. `startSupervisor` does the same check.
 */
export function checkSupervisorSpec(spec: SupervisorSpec): void {
  resolveStaticSpec(spec);
}
