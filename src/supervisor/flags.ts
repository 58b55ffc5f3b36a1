import { type BackoffOptions, type ResolvedBackoff, resolveBackoff } from './backoff.js';
import { InvalidSupervisorFlagsError } from './errors.js';

/**
 * How a supervisor restarts children when one of them must be restarted:
 * - `'one-for-one'`: only that child.
 * - `'one-for-all'`: every other child is stopped (in reverse start order), then all are started
 *   again in order.
 * - `'rest-for-one'`: the children started after it are stopped, then it and they are started
 *   again in order.
 */
export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';

/**
 * When a supervisor stops itself because significant children exited on their own (OTP 24's
 * `auto_shutdown`): `'never'` (default), `'any-significant'` (when any one does), or
 * `'all-significant'` (when the last running one does).
 */
export type AutoShutdown = 'never' | 'any-significant' | 'all-significant';

/** The flags shared by static and dynamic supervisors. */
export interface RestartFlags {
  /** Maximum restarts within the period before the supervisor gives up (exits `shutdown`). Integer >= 0. Default 1. */
  readonly intensity?: number;
  /** The intensity window in seconds (integer > 0), as OTP. Default 5. */
  readonly period?: number;
  /** The intensity window in ms, instead of `period`. */
  readonly periodMs?: number;
  /** Default `'never'`. Significant children are only allowed with another value. */
  readonly autoShutdown?: AutoShutdown;
  /** Restart backoff for every child whose spec has none. Default none: restart at once, as OTP. */
  readonly backoff?: BackoffOptions;
}

/** The flags of a static supervisor. */
export interface SupervisorFlags extends RestartFlags {
  /** Default `'one-for-one'`. */
  readonly strategy?: Strategy;
}

/**
 * Every default of the supervisor flags, in one place (OTP's `?default_flags`): one-for-one, at
 * most 1 restart in 5 seconds, no automatic shutdown, no backoff.
 */
export const supervisorDefaults = {
  strategy: 'one-for-one',
  intensity: 1,
  /** Seconds, as OTP. */
  period: 5,
  autoShutdown: 'never',
} as const satisfies { strategy: Strategy; intensity: number; period: number; autoShutdown: AutoShutdown };

/** Flags with defaults applied and the period in ms. @internal */
export interface ResolvedFlags {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly periodMs: number;
  readonly autoShutdown: AutoShutdown;
  readonly backoff: ResolvedBackoff | undefined;
}

const STRATEGIES: readonly string[] = ['one-for-one', 'one-for-all', 'rest-for-one'];
const AUTO_SHUTDOWNS: readonly string[] = ['never', 'any-significant', 'all-significant'];

function fail(field: string, value: unknown, message: string): never {
  throw new InvalidSupervisorFlagsError(field, value, message);
}

/**
 * Validates the flags of a supervisor spec (each check names its field, as OTP's
 * `validIntensity/1` and friends) and applies the defaults. `strategy` is only read for static
 * supervisors; a dynamic supervisor has none.
 * @internal
 */
export function resolveFlags(spec: Readonly<Record<string, unknown>>, dynamic: boolean): ResolvedFlags {
  const strategy = dynamic ? 'one-for-one' : (spec.strategy ?? supervisorDefaults.strategy);
  if (typeof strategy !== 'string' || !STRATEGIES.includes(strategy)) {
    fail('strategy', strategy, `must be 'one-for-one', 'one-for-all' or 'rest-for-one', got ${String(strategy)}`);
  }
  const intensity = spec.intensity ?? supervisorDefaults.intensity;
  if (typeof intensity !== 'number' || !Number.isInteger(intensity) || intensity < 0) {
    fail('intensity', intensity, `must be an integer >= 0, got ${String(intensity)}`);
  }
  let periodMs: number;
  if (spec.period !== undefined && spec.periodMs !== undefined) fail('periodMs', spec.periodMs, 'give either period (seconds) or periodMs, not both');
  if (spec.periodMs !== undefined) {
    const p = spec.periodMs;
    if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0) fail('periodMs', p, `must be a finite number > 0, got ${String(p)}`);
    periodMs = p as number;
  } else {
    const p = spec.period ?? supervisorDefaults.period;
    if (typeof p !== 'number' || !Number.isInteger(p) || p <= 0) fail('period', p, `must be an integer > 0 (seconds), got ${String(p)}`);
    periodMs = (p as number) * 1000;
  }
  const autoShutdown = spec.autoShutdown ?? supervisorDefaults.autoShutdown;
  if (typeof autoShutdown !== 'string' || !AUTO_SHUTDOWNS.includes(autoShutdown)) {
    fail('autoShutdown', autoShutdown, `must be 'never', 'any-significant' or 'all-significant', got ${String(autoShutdown)}`);
  }
  const backoff = spec.backoff === undefined ? undefined : resolveBackoff(spec.backoff, { flags: true });
  return {
    strategy: strategy as Strategy,
    intensity: intensity as number,
    periodMs,
    autoShutdown: autoShutdown as AutoShutdown,
    backoff,
  };
}
