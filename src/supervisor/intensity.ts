/**
 * Restart intensity, as OTP's `add_restart/3`: a pure function of the restart history and the
 * time, so it can be tested without a clock. The supervisor keeps the returned history and gives
 * up when `exceeded` is true.
 */

/** The outcome of recording one restart. */
export interface RestartWindow {
  /** Restart times still inside the period, newest first (including `now`). */
  readonly restarts: readonly number[];
  /** True when more than `intensity` restarts fall inside the period: the supervisor must give up. */
  readonly exceeded: boolean;
}

/**
 * Records a restart at `now` (ms) and forgets restarts older than `periodMs`. A restart exactly
 * `periodMs` ago still counts (OTP keeps `R >= Now - Period`). `restarts` is newest first, as
 * returned by the previous call.
 *
 * ```ts
 * let w = addRestart([], 0, 1, 5000);   // 1 restart in 5 s: fine
 * w = addRestart(w.restarts, 4000, 1, 5000); // 2 in 5 s with intensity 1: exceeded
 * ```
 */
export function addRestart(restarts: readonly number[], now: number, intensity: number, periodMs: number): RestartWindow {
  const threshold = now - periodMs;
  // The supervisor dies as soon as the window holds intensity + 1 restarts, so no more are kept.
  const keep = Math.min(restarts.length, intensity + 1);
  const next: number[] = [now];
  for (let i = 0; i < keep; i++) {
    const r = restarts[i] as number;
    if (r < threshold) break;
    next.push(r);
  }
  return { restarts: next, exceeded: next.length > intensity };
}
