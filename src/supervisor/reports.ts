import type { SupervisorEvent } from '../actors/inspection.js';
import type { ExitReason } from '../actors/exit-reason.js';
import { formatReason } from '../actors/exit-reason.js';
import type { ActorRef } from '../actors/ref.js';
import type { ActorSystem } from '../actors/system.js';
import type { Logger, LogLevel } from '../logger.js';
import type { ChildType, RestartType, ResolvedChildSpec } from './child-spec.js';

/**
 * OTP's supervisor report contexts: a child failed to start, a child terminated abnormally, the
 * supervisor gave up (restart intensity), or a child did not stop as asked.
 */
export type SupervisorErrorContext = 'start_error' | 'child_terminated' | 'shutdown' | 'shutdown_error';

/** The child a report is about (OTP's `offender`). */
export interface Offender {
  readonly id: string | undefined;
  /** The child actor, as text; undefined when it was not running. */
  readonly ref: string | undefined;
  readonly restart: RestartType;
  readonly shutdown: 'brutal-kill' | 'infinity' | number;
  readonly type: ChildType;
  readonly significant: boolean;
}

/**
 * A supervisor report, as structured data (OTP's `label`, `supervisor`, `errorContext`, `reason`,
 * `offender`); it is logged at `error` level with this object first, and formatted only by the
 * logger. `reason` is the raw exit reason; when it is an `Error` it is also under `err`, where
 * pino's serializer prints its stack.
 */
export interface SupervisorReport {
  readonly label: 'supervisor_report';
  readonly supervisor: string;
  readonly errorContext: SupervisorErrorContext;
  readonly reason: ExitReason | string;
  readonly offender: Offender;
  readonly err?: Error;
}

/** A progress report: a child started (logged at `debug`, since dynamic supervisors start many). */
export interface ProgressReport {
  readonly label: 'supervisor_progress';
  readonly supervisor: string;
  readonly started: Offender;
}

/** @internal */
export function offender(spec: ResolvedChildSpec, child: ActorRef | null | undefined): Offender {
  return {
    id: spec.id,
    ref: child === null || child === undefined ? undefined : String(child),
    restart: spec.restart,
    shutdown: spec.shutdown === Infinity ? 'infinity' : spec.shutdown,
    type: spec.type,
    significant: spec.significant,
  };
}

const MESSAGES: Record<SupervisorErrorContext, string> = {
  start_error: 'supervisor: child failed to start',
  child_terminated: 'supervisor: child terminated',
  shutdown: 'supervisor: reached maximum restart intensity, shutting down',
  shutdown_error: 'supervisor: child did not shut down as asked',
};

/**
 * Where a supervisor's reports and events go: the system logger and inspection stream, plus the
 * supervisor's own `onEvent` listener. Nothing is built when nobody would see it.
 * @internal
 */
export class Reporter {
  private readonly logger: Logger;
  // Which levels would be written: reports nobody would see are not built (a dynamic supervisor
  // starting many children would otherwise build a progress report for each, to drop it).
  private readonly errors: boolean;
  private readonly infos: boolean;
  private readonly debugs: boolean;

  constructor(
    private readonly system: ActorSystem,
    readonly supervisor: ActorRef,
    private readonly listener: ((event: SupervisorEvent) => void) | undefined,
  ) {
    this.logger = system.logger;
    const enabled = (level: LogLevel): boolean => this.logger.isLevelEnabled?.(level) ?? true;
    this.errors = enabled('error');
    this.infos = enabled('info');
    this.debugs = enabled('debug');
  }

  /** True when an event would be seen: check before building one. */
  get observed(): boolean {
    return this.listener !== undefined || this.system.events.active;
  }

  emit(event: SupervisorEvent): void {
    if (this.system.events.active) this.system.events.publish(event);
    if (this.listener !== undefined) {
      try {
        this.listener(event);
      } catch (err) {
        this.logger.warn({ err, event: event.type, supervisor: String(this.supervisor) }, 'supervisor onEvent listener threw');
      }
    }
  }

  error(context: SupervisorErrorContext, reason: ExitReason | string, spec: ResolvedChildSpec, child: ActorRef | null | undefined): void {
    if (!this.errors) return;
    const report: SupervisorReport =
      reason instanceof Error
        ? { label: 'supervisor_report', supervisor: String(this.supervisor), errorContext: context, reason, offender: offender(spec, child), err: reason }
        : { label: 'supervisor_report', supervisor: String(this.supervisor), errorContext: context, reason, offender: offender(spec, child) };
    this.logger.error(report, `${MESSAGES[context]}: ${formatReason(reason)}`);
  }

  progress(spec: ResolvedChildSpec, child: ActorRef): void {
    if (!this.debugs) return;
    const report: ProgressReport = { label: 'supervisor_progress', supervisor: String(this.supervisor), started: offender(spec, child) };
    this.logger.debug(report, 'supervisor: child started');
  }

  /** A restart happened (`child` undefined: its start returned `IGNORE`). Logged at `info`, as OTP's progress report. */
  restarted(spec: ResolvedChildSpec, child: ActorRef | undefined, previous: ActorRef | undefined): void {
    if (!this.infos) return;
    this.logger.info(
      { label: 'supervisor_restart', supervisor: String(this.supervisor), childId: spec.id, child: child && String(child), previous: previous && String(previous) },
      'supervisor: child restarted',
    );
  }

  /** The supervisor stopped a child cleanly (`debug`; an unclean stop is a `shutdown_error` report). */
  terminated(spec: ResolvedChildSpec, child: ActorRef, reason: ExitReason): void {
    if (this.debugs) this.logger.debug({ label: 'supervisor_terminated', supervisor: String(this.supervisor), childId: spec.id, child: String(child), reason }, 'supervisor: child stopped');
  }

  info(obj: object, msg: string): void {
    if (this.infos) this.logger.info({ supervisor: String(this.supervisor), ...obj }, msg);
  }
}
