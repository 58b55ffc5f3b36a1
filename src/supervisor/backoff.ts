import { InvalidChildSpecError, InvalidSupervisorFlagsError } from './errors.js';

/**
 * Akka-style restart backoff (beyond OTP): instead of restarting a crashed child at once, the
 * supervisor waits `minMs * 2^n` (capped at `maxMs`), plus up to `randomFactor` of that as random
 * jitter, where `n` counts the child's restarts since it last ran for `resetAfterMs` without
 * exiting. While it waits the child is reported as `restarting`.
 *
 * ```ts
 * { minMs: 100, maxMs: 10_000 } // 100, 200, 400, … 10 000 ms (+ up to 20 %)
 * ```
 */
export interface BackoffOptions {
  /** First delay, ms (> 0). */
  readonly minMs: number;
  /** Cap of the exponential delay, ms (>= minMs). */
  readonly maxMs: number;
  /** Up to this fraction of the delay is added at random (Akka's `randomFactor`). Default 0.2; 0 for exact delays. */
  readonly randomFactor?: number;
  /** A child that ran this long (ms) before exiting starts again from `minMs`. Default `(minMs + maxMs) / 2`, as Akka. */
  readonly resetAfterMs?: number;
}

/** The defaults of {@link BackoffOptions} that are not required. */
export const backoffDefaults = {
  randomFactor: 0.2,
} as const;

/** Backoff options with every default applied. */
export type ResolvedBackoff = Required<BackoffOptions>;

const KEYS = new Set(['minMs', 'maxMs', 'randomFactor', 'resetAfterMs']);

/**
 * Validates backoff options and applies defaults. `where` says whose option it is, so the error
 * names the field as the user wrote it (`backoff.minMs` of a child, or of the supervisor).
 * @internal
 */
export function resolveBackoff(value: unknown, where: { childId?: string | undefined; flags?: boolean }): ResolvedBackoff {
  const fail = (field: string, v: unknown, message: string): never => {
    if (where.flags === true) throw new InvalidSupervisorFlagsError(field, v, message);
    throw new InvalidChildSpecError(field, v, message, where.childId);
  };
  if (typeof value !== 'object' || value === null) return fail('backoff', value, 'must be an object { minMs, maxMs, randomFactor?, resetAfterMs? }');
  const b = value as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!KEYS.has(k)) fail(`backoff.${k}`, b[k], 'unknown backoff option');
  const { minMs, maxMs } = b;
  if (typeof minMs !== 'number' || !Number.isFinite(minMs) || minMs <= 0) fail('backoff.minMs', minMs, 'must be a finite number > 0');
  if (typeof maxMs !== 'number' || !Number.isFinite(maxMs) || maxMs < (minMs as number)) fail('backoff.maxMs', maxMs, 'must be a finite number >= minMs');
  const randomFactor = b.randomFactor ?? backoffDefaults.randomFactor;
  if (typeof randomFactor !== 'number' || !Number.isFinite(randomFactor) || randomFactor < 0) {
    fail('backoff.randomFactor', randomFactor, 'must be a finite number >= 0');
  }
  const resetAfterMs = b.resetAfterMs ?? ((minMs as number) + (maxMs as number)) / 2;
  if (typeof resetAfterMs !== 'number' || !(resetAfterMs > 0)) fail('backoff.resetAfterMs', resetAfterMs, 'must be a number > 0 (Infinity: never reset)');
  return { minMs: minMs as number, maxMs: maxMs as number, randomFactor: randomFactor as number, resetAfterMs: resetAfterMs as number };
}

/**
 * The delay before restart number `attempt` (0 for the first restart after a reset):
 * `min(maxMs, minMs * 2^attempt) * (1 + random() * randomFactor)`, as Akka computes it. Pure,
 * with the random source passed in.
 */
export function backoffDelay(attempt: number, backoff: ResolvedBackoff, random: () => number): number {
  const exp = Math.min(backoff.maxMs, backoff.minMs * 2 ** attempt);
  const jitter = backoff.randomFactor === 0 ? 1 : 1 + random() * backoff.randomFactor;
  return exp * jitter;
}

/**
 * Per-child backoff bookkeeping: how many restarts in a row and when the child last started.
 * @internal
 */
export class BackoffState {
  attempt = 0;
  /** Clock time the child last started; -Infinity before its first start. */
  startedAt = Number.NEGATIVE_INFINITY;

  /** The child exited at `now`: reset the count if it had run for `resetAfterMs`. */
  exited(now: number, backoff: ResolvedBackoff): void {
    if (now - this.startedAt >= backoff.resetAfterMs) this.attempt = 0;
  }

  /** The delay for the next restart attempt, counting it. */
  next(backoff: ResolvedBackoff, random: () => number): number {
    const delay = backoffDelay(this.attempt, backoff, random);
    this.attempt++;
    return delay;
  }
}
