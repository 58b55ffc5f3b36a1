import type { Actor } from '../actors/actor.js';
import type { TimerHandle } from '../actors/clock.js';
import type { ExitReason } from '../actors/exit-reason.js';
import { isShutdownWith } from '../actors/exit-reason.js';
import type { RestartType } from './child-spec.js';

/**
 * Stops one child the way OTP's `shutdown/2` does. The supervisor unlinks first, so the child's
 * exit does not come back to it as an exit message, and watches the child's death directly
 * (a monitor, in OTP). Then:
 * - a child that does not trap exits: it dies with reason `shutdown` at once;
 * - `'brutal-kill'`: `kill` at once (the child is dead when this returns);
 * - ms: exit signal `shutdown` from the supervisor (the child's parent, so a child that traps
 *   exits runs `terminate`), and `kill` when `ms` pass on the system clock;
 * - `Infinity`: exit signal `shutdown`, then wait.
 * Returns the child's exit reason, synchronously when it is already known.
 * @internal
 */
export function shutdownChild(supervisor: Actor, child: Actor, shutdown: 'brutal-kill' | number): ExitReason | Promise<ExitReason> {
  supervisor.unlink(child);
  const system = supervisor.system;
  if (child.dead) return child.exitReason as ExitReason;
  if (shutdown === 'brutal-kill') {
    system.sendExitSignal(supervisor, child, 'kill');
    return child.exitReason as ExitReason;
  }
  if (!child.trapExit) {
    // A child that does not trap exits dies from a `shutdown` exit signal the moment the signal
    // is processed, running nothing (no `terminate`, as OTP). Delivering it now has the same
    // effect without a trip through the child's signal queue and the scheduler, which is what
    // makes a one-for-all restart of thousands of plain workers cheap.
    child.die('shutdown');
    return child.exitReason as ExitReason;
  }
  return new Promise<ExitReason>((resolve) => {
    const clock = system.clock;
    let timer: TimerHandle | null = null;
    let exited = false;
    child.onExit((reason) => {
      exited = true;
      if (timer !== null) clock.clearTimeout(timer);
      resolve(reason);
    });
    system.sendExitSignal(supervisor, child, 'shutdown');
    if (shutdown === Infinity) return;
    const deadline = clock.now() + shutdown;
    // Most children are gone by the end of the scheduler turn that delivers the signal (a
    // microtask queued before this one), so the kill timer is armed only for those that are not:
    // a one-for-all restart of thousands of children then costs no timer per child.
    void resolved.then(() => {
      if (!exited) timer = clock.setTimeout(() => system.sendExitSignal(supervisor, child, 'kill'), Math.max(0, deadline - clock.now()));
    });
  });
}

const resolved = Promise.resolve();

/**
 * Stops many children at once (a dynamic supervisor's shutdown, OTP's
 * `terminate_dynamic_children`): every child gets the signal together, one timer kills whoever
 * is left. Resolves with each child's exit reason, in the order given.
 * @internal
 */
export function shutdownChildren(supervisor: Actor, children: readonly Actor[], shutdown: 'brutal-kill' | number): Promise<ExitReason[]> {
  const system = supervisor.system;
  const reasons = new Array<ExitReason>(children.length);
  let pending = 0;
  let resolveAll: () => void = () => {};
  const done = new Promise<void>((resolve) => (resolveAll = resolve));
  const signal = shutdown === 'brutal-kill' ? 'kill' : 'shutdown';
  for (let i = 0; i < children.length; i++) {
    const child = children[i] as Actor;
    supervisor.unlink(child);
    if (child.dead) {
      reasons[i] = child.exitReason as ExitReason;
      continue;
    }
    pending++;
    child.onExit((reason) => {
      reasons[i] = reason;
      if (--pending === 0) resolveAll();
    });
    system.sendExitSignal(supervisor, child, signal);
  }
  if (pending === 0) return Promise.resolve(reasons);
  const clock = system.clock;
  const timer =
    shutdown === 'brutal-kill' || shutdown === Infinity
      ? null
      : clock.setTimeout(() => {
          for (const child of children) if (!child.dead) system.sendExitSignal(supervisor, child, 'kill');
        }, shutdown);
  return done.then(() => {
    if (timer !== null) clock.clearTimeout(timer);
    return reasons;
  });
}

/**
 * Whether a child stopped the way its shutdown asked (otherwise the supervisor logs a
 * `shutdown_error`, as OTP): `killed` after a brutal kill, `shutdown` after the shutdown signal;
 * a child that is not permanent may also have exited `normal` or `{ shutdown }` on its own.
 * @internal
 */
export function isCleanShutdown(reason: ExitReason, shutdown: 'brutal-kill' | number, restart: RestartType): boolean {
  if (shutdown === 'brutal-kill' ? reason === 'killed' : reason === 'shutdown') return true;
  if (restart === 'permanent') return false;
  return reason === 'normal' || isShutdownWith(reason) || (shutdown === 'brutal-kill' && reason === 'shutdown');
}
