/**
 * Reconnection delays: exponential from `minMs` to `maxMs`, each multiplied by a random factor
 * in `[1 − randomFactor, 1 + randomFactor]` so that clients cut off together do not come back
 * together. Pure: the random number is an argument.
 */

/** How a client reconnects after losing its connection. */
export interface ReconnectOptions {
  /** Delay before the first attempt. Default 250 ms. */
  readonly minMs?: number;
  /** Longest delay. Default 10 000 ms. */
  readonly maxMs?: number;
  /** Jitter, from 0 to 1. Default 0.2. */
  readonly randomFactor?: number;
  /** Attempts before giving up (the client then closes). Default unlimited. */
  readonly maxAttempts?: number;
}

/** Every default of {@link ReconnectOptions}. */
export const reconnectDefaults = { minMs: 250, maxMs: 10_000, randomFactor: 0.2, maxAttempts: Infinity } as const;

/** The delay before attempt `attempt` (0 is the first), given a random number in [0, 1). */
export function backoffDelay(attempt: number, options: Required<ReconnectOptions>, random: number): number {
  const base = Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30));
  const jitter = 1 + options.randomFactor * (random * 2 - 1);
  return Math.max(0, Math.round(base * jitter));
}
