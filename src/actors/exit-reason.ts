/**
 * Why an actor stopped, with OTP's vocabulary:
 * - `'normal'`: it finished its work. Linked actors are not affected.
 * - `'shutdown'` / `{ shutdown: detail }`: it was told to stop (by its supervisor, or by
 *   `stop()`). Also not a crash, but it does take down linked actors that do not trap exits.
 * - `'killed'`: it was killed with the untrappable `'kill'` signal.
 * - `'noproc'`: the reason reported for an actor that was already dead when monitored.
 * - an `Error`: it crashed. A handler that throws something other than an `Error` crashes with
 *   an {@link ActorCrashError} whose `cause` is the thrown value.
 */
export type ExitReason = 'normal' | 'shutdown' | 'killed' | 'noproc' | ShutdownWith | Error;

/** `{shutdown, Detail}`: a shutdown that carries information. */
export interface ShutdownWith {
  readonly shutdown: unknown;
}

/** An exit signal's reason as sent with `exit(ref, reason)`: any exit reason, or the untrappable `'kill'`. */
export type ExitSignalReason = ExitReason | 'kill';

/** True for reasons that are not crashes: `normal`, `shutdown` and `{ shutdown }` (OTP's "normal" exits for transient children). */
export function isNormalExit(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown' || isShutdownWith(reason);
}

export function isShutdownWith(reason: unknown): reason is ShutdownWith {
  return typeof reason === 'object' && reason !== null && !(reason instanceof Error) && 'shutdown' in reason;
}

/** A short printable form of a reason, for logs and error messages. */
export function formatReason(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (reason instanceof Error) {
    const code = (reason as { code?: unknown }).code;
    return typeof code === 'string' ? `${reason.name}[${code}]: ${reason.message}` : `${reason.name}: ${reason.message}`;
  }
  if (isShutdownWith(reason)) return `{shutdown, ${safeString(reason.shutdown)}}`;
  return safeString(reason);
}

function safeString(v: unknown): string {
  try {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
}
