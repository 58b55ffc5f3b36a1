import type { Logger } from '../logger.js';
import type { ExitReason } from './exit-reason.js';
import type { ActorRef } from './ref.js';

/**
 * The inspection stream: one typed union of everything observable that happens in a system.
 * Events are built only when someone subscribes (`system.events.active`), so an unobserved
 * system pays one boolean check per event site.
 */
export type InspectionEvent = ActorEvent | SupervisorEvent | EntityEvent;

export type ActorEvent =
  | { readonly type: 'actor.spawned'; readonly actor: ActorRef; readonly parent: ActorRef | undefined }
  | { readonly type: 'actor.stopped'; readonly actor: ActorRef; readonly reason: ExitReason }
  /** A message that reached no live actor (sent to a dead one, or left in its mailbox when it died). */
  | { readonly type: 'dead-letter'; readonly recipient: ActorRef; readonly message: unknown }
  /** A message a bounded mailbox refused or evicted. */
  | { readonly type: 'dropped'; readonly recipient: ActorRef; readonly message: unknown; readonly reason: 'mailbox-full' };

/**
 * Supervisor reports, as OTP's supervisor reports: which supervisor, which child, why. `childId`
 * is the child spec's id, or undefined for a dynamic supervisor's children (told apart by ref).
 */
export type SupervisorEvent =
  /** A child started: when its supervisor started, or by `startChild`/`restartChild`. */
  | { readonly type: 'supervisor.child-started'; readonly supervisor: ActorRef; readonly childId: string | undefined; readonly child: ActorRef }
  /** A child exited on its own (crashed, or stopped itself); `willRestart` says whether the supervisor restarts it. */
  | {
      readonly type: 'supervisor.child-exited';
      readonly supervisor: ActorRef;
      readonly childId: string | undefined;
      readonly child: ActorRef;
      readonly reason: ExitReason;
      readonly willRestart: boolean;
    }
  /** The supervisor stopped a child (`terminateChild`, a sibling's restart, or its own shutdown); `reason` is how the child exited. */
  | { readonly type: 'supervisor.child-terminated'; readonly supervisor: ActorRef; readonly childId: string | undefined; readonly child: ActorRef; readonly reason: ExitReason }
  /**
   * A child was started again by a restart. `previous` is the instance it replaces (undefined for a
   * sibling that was not running); `child` is undefined if the start function returned `IGNORE`.
   */
  | {
      readonly type: 'supervisor.child-restarted';
      readonly supervisor: ActorRef;
      readonly childId: string | undefined;
      readonly child: ActorRef | undefined;
      readonly previous: ActorRef | undefined;
    }
  /** A restart will be tried after `delayMs`: a backoff delay, or 0 for the retry of a restart whose start failed. `attempt` counts from 1. */
  | { readonly type: 'supervisor.restart-scheduled'; readonly supervisor: ActorRef; readonly childId: string | undefined; readonly delayMs: number; readonly attempt: number }
  /** A child's start function failed (during the supervisor's start, `startChild`, or a restart). */
  | { readonly type: 'supervisor.start-failed'; readonly supervisor: ActorRef; readonly childId: string | undefined; readonly reason: ExitReason }
  /** Restart intensity exceeded: the supervisor gives up and exits with `shutdown`, escalating to its parent. `reason` is the last failure. */
  | { readonly type: 'supervisor.escalated'; readonly supervisor: ActorRef; readonly childId: string | undefined; readonly reason: ExitReason }
  /** A significant child's exit triggered the supervisor's `autoShutdown`. */
  | { readonly type: 'supervisor.auto-shutdown'; readonly supervisor: ActorRef; readonly childId: string | undefined }
  /** The supervisor is stopping its children, then exits with `reason`. */
  | { readonly type: 'supervisor.shutdown'; readonly supervisor: ActorRef; readonly reason: ExitReason };

/** Entity lifecycle and persistence. */
export type EntityEvent =
  | { readonly type: 'entity.activated'; readonly entityType: string; readonly entityId: string; readonly sequenceNr: number; readonly fromSnapshot: boolean; readonly replayed: number }
  | { readonly type: 'entity.passivated'; readonly entityType: string; readonly entityId: string; readonly reason: 'idle' | 'lru' | 'requested' }
  | { readonly type: 'entity.persisted'; readonly entityType: string; readonly entityId: string; readonly fromSequenceNr: number; readonly toSequenceNr: number }
  | { readonly type: 'entity.snapshot'; readonly entityType: string; readonly entityId: string; readonly sequenceNr: number }
  | { readonly type: 'entity.recovery-failed'; readonly entityType: string; readonly entityId: string; readonly reason: ExitReason }
  | { readonly type: 'entity.poison-command'; readonly entityType: string; readonly entityId: string; readonly attempts: number };

export type InspectionEventType = InspectionEvent['type'];

export type InspectionListener = (event: InspectionEvent) => void;

/** A subscription, ended by calling it or with `using`. */
export interface Unsubscribe {
  (): void;
  [Symbol.dispose](): void;
}

export class EventStream {
  /** True while anyone listens; event sites check it before building an event. */
  active = false;
  private listeners: InspectionListener[] = [];
  /** @internal */
  constructor(private readonly logger: Logger) {}

  /**
   * Calls `listener` for every event (or only those whose `type` is in `types`). A listener that
   * throws is logged and otherwise ignored: observers never break the system they observe.
   */
  subscribe(listener: InspectionListener, types?: readonly InspectionEventType[]): Unsubscribe {
    const wrapped: InspectionListener =
      types === undefined
        ? listener
        : (e) => {
            if (types.includes(e.type)) listener(e);
          };
    this.listeners = [...this.listeners, wrapped];
    this.active = true;
    const off = (() => {
      this.listeners = this.listeners.filter((l) => l !== wrapped);
      this.active = this.listeners.length > 0;
    }) as Unsubscribe;
    off[Symbol.dispose] = off;
    return off;
  }

  /** @internal */
  publish(event: InspectionEvent): void {
    // Copy-on-write listener array: a listener may unsubscribe while we iterate.
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) {
      try {
        (ls[i] as InspectionListener)(event);
      } catch (err) {
        this.logger.warn({ err, event: event.type }, 'inspection listener threw');
      }
    }
  }
}
