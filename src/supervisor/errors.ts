import type { ActorRef } from '../actors/ref.js';
import type { ExitReason } from '../actors/exit-reason.js';
import { formatReason } from '../actors/exit-reason.js';
import { BeamstateError } from '../errors.js';

/**
 * `INVALID_CHILD_SPEC`: a child spec is malformed. `field` names the offending field (`'id'`,
 * `'restart'`, `'shutdown'`, …), as OTP's `{invalid_restart_type, X}` does; `childId` is the
 * spec's id when it has a usable one.
 */
export class InvalidChildSpecError extends BeamstateError {
  readonly field: string;
  readonly value: unknown;
  readonly childId: string | undefined;
  constructor(field: string, value: unknown, message: string, childId?: string) {
    super('INVALID_CHILD_SPEC', `${childId === undefined ? '' : `child ${JSON.stringify(childId)}: `}${field}: ${message}`);
    this.field = field;
    this.value = value;
    this.childId = childId;
  }
}

/** `INVALID_SUPERVISOR_FLAGS`: a supervisor flag is malformed; `field` names it (`'intensity'`, `'period'`, …). */
export class InvalidSupervisorFlagsError extends BeamstateError {
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, message: string) {
    super('INVALID_SUPERVISOR_FLAGS', `${field}: ${message}`);
    this.field = field;
    this.value = value;
  }
}

/**
 * `CHILD_START_FAILED`: a child's start function threw, rejected, returned something that is not
 * an actor, or the child's `init` failed. `reason` is the failure (the init error itself when
 * init failed). A supervisor whose child fails during its own start rejects with this error after
 * stopping the children it had started (OTP's `{shutdown, {failed_to_start_child, Id, Reason}}`).
 */
export class ChildStartError extends BeamstateError {
  readonly childId: string | undefined;
  readonly reason: ExitReason;
  constructor(childId: string | undefined, reason: ExitReason) {
    super('CHILD_START_FAILED', `${childId === undefined ? 'dynamic child' : `child ${JSON.stringify(childId)}`} failed to start: ${formatReason(reason)}`, {
      cause: reason,
    });
    this.childId = childId;
    this.reason = reason;
  }
}

/** `ALREADY_STARTED`: `startChild` with the id of a child that is running (OTP's `{already_started, Pid}`); `ref` is that child. */
export class AlreadyStartedError extends BeamstateError {
  readonly childId: string;
  readonly ref: ActorRef;
  constructor(childId: string, ref: ActorRef) {
    super('ALREADY_STARTED', `child ${JSON.stringify(childId)} is already started as ${String(ref)}`);
    this.childId = childId;
    this.ref = ref;
  }
}

/** `ALREADY_PRESENT`: `startChild` with the id of a spec the supervisor holds whose child is not running (OTP's `already_present`). */
export class AlreadyPresentError extends BeamstateError {
  readonly childId: string;
  constructor(childId: string) {
    super('ALREADY_PRESENT', `a child spec with id ${JSON.stringify(childId)} is already present`);
    this.childId = childId;
  }
}

/** `CHILD_RUNNING`: `restartChild` or `deleteChild` on a child that is running (OTP's `running`). */
export class ChildRunningError extends BeamstateError {
  readonly childId: string;
  constructor(childId: string) {
    super('CHILD_RUNNING', `child ${JSON.stringify(childId)} is running`);
    this.childId = childId;
  }
}

/** `CHILD_RESTARTING`: `restartChild` or `deleteChild` on a child whose restart is pending (OTP's `restarting`). */
export class ChildRestartingError extends BeamstateError {
  readonly childId: string;
  constructor(childId: string) {
    super('CHILD_RESTARTING', `child ${JSON.stringify(childId)} is being restarted`);
    this.childId = childId;
  }
}

/** `CHILD_NOT_FOUND`: no child with this id (or, for `terminateChild(ref)`, a live actor that is not a child) (OTP's `not_found`). */
export class ChildNotFoundError extends BeamstateError {
  readonly child: string;
  constructor(child: string | ActorRef) {
    super('CHILD_NOT_FOUND', `no child ${typeof child === 'string' ? JSON.stringify(child) : String(child)}`);
    this.child = typeof child === 'string' ? child : String(child);
  }
}

/** `MAX_CHILDREN`: a dynamic supervisor already has `maxChildren` children (Elixir's `{:error, :max_children}`). */
export class MaxChildrenError extends BeamstateError {
  readonly maxChildren: number;
  constructor(maxChildren: number) {
    super('MAX_CHILDREN', `the dynamic supervisor already has its maximum of ${maxChildren} children`);
    this.maxChildren = maxChildren;
  }
}
