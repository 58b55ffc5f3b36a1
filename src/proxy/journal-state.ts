import { ProxyProtocolError } from './errors.js';
import { type AnyMessage, normalizeAny } from './protocol.js';

/**
 * An `Any` to be written: one without a type URL is refused (PROXY_PROTOCOL_ERROR) before anything
 * is written, since no user function could read it back and the entity could never be inited again.
 */
function typed(raw: { readonly typeUrl?: string; readonly value?: Uint8Array }, what: string): AnyMessage {
  const any = normalizeAny(raw);
  if (any.typeUrl === '') throw new ProxyProtocolError(`the user function sent ${what} without a type URL; nothing was written`);
  return any;
}

/**
 * What the proxy keeps of a Kalix event-sourced entity: exactly what a new stream's `init`
 * needs — the user function's latest snapshot and the events after it. The user function holds
 * the real state; the proxy only holds its journal.
 */
export interface KalixState {
  /** The latest snapshot the user function sent (null: none yet). */
  readonly snapshot: AnyMessage | null;
  /** The Kalix sequence number the snapshot was taken at. */
  readonly snapshotSeq: number;
  /** The Kalix sequence number of the last event (events only; snapshots take no number). */
  readonly seq: number;
  /** Events after the snapshot, in order. */
  readonly events: readonly AnyMessage[];
}

/** The journal's events of a Kalix entity: its own events, and the snapshots persisted with them. */
export type KalixJournalEvent =
  | { readonly type: 'KalixEvent'; readonly typeUrl: string; readonly value: Uint8Array }
  | { readonly type: 'KalixSnapshot'; readonly typeUrl: string; readonly value: Uint8Array; readonly seq: number }
  /**
   * The user function deleted the entity (a reply's `delete`) after its events up to `seq`. The
   * journal keeps them, marked by this event, for consumers reading it; the entity starts again
   * empty (no snapshot, no events), its sequence numbers going on after `seq`. `retainMs` is the
   * Duration the reply gave (how long Kalix would keep the events before removing them).
   */
  | { readonly type: 'KalixDeleted'; readonly seq: number; readonly retainMs: number };

export const emptyState = (): KalixState => ({ snapshot: null, snapshotSeq: 0, seq: 0, events: [] });

const any = (e: { typeUrl: string; value: Uint8Array }): AnyMessage => ({ typeUrl: e.typeUrl, value: e.value });

/** The event handlers: fold the journal into what `init` needs. Pure, as beamstate requires. */
export const kalixEventHandlers = {
  KalixEvent: (s: KalixState, e: Extract<KalixJournalEvent, { type: 'KalixEvent' }>): KalixState => ({ ...s, seq: s.seq + 1, events: [...s.events, any(e)] }),
  KalixSnapshot: (s: KalixState, e: Extract<KalixJournalEvent, { type: 'KalixSnapshot' }>): KalixState => ({ snapshot: any(e), snapshotSeq: e.seq, seq: e.seq, events: [] }),
  KalixDeleted: (s: KalixState, e: Extract<KalixJournalEvent, { type: 'KalixDeleted' }>): KalixState => ({ snapshot: null, snapshotSeq: e.seq, seq: e.seq, events: [] }),
};

/** What one reply writes besides its events. */
export interface ReplyWrites {
  /** The reply's own snapshot (taken after its events). */
  readonly snapshot?: AnyMessage | undefined;
  /** A snapshot the proxy asked for (snapshot_request) before the command: the state at `state.seq`, before the reply's events. */
  readonly requested?: AnyMessage | undefined;
  /** The reply deletes the entity: `retainMs` from its Duration. */
  readonly deleted?: { readonly retainMs: number } | undefined;
}

/**
 * The journal events for one reply, appended together (one atomic append): a requested snapshot
 * first (the state before the command), then the reply's events, then its own snapshot (taken
 * after them), then the deletion marker.
 */
export function journalEventsOf(state: KalixState, events: readonly AnyMessage[], writes: ReplyWrites = {}): KalixJournalEvent[] {
  const out: KalixJournalEvent[] = [];
  if (writes.requested !== undefined) {
    const r = typed(writes.requested, 'a snapshot reply');
    out.push({ type: 'KalixSnapshot', typeUrl: r.typeUrl, value: r.value, seq: state.seq });
  }
  for (const e of events) {
    const n = typed(e, 'an event');
    out.push({ type: 'KalixEvent', typeUrl: n.typeUrl, value: n.value });
  }
  const after = state.seq + events.length;
  if (writes.snapshot !== undefined) {
    const s = typed(writes.snapshot, 'a snapshot');
    out.push({ type: 'KalixSnapshot', typeUrl: s.typeUrl, value: s.value, seq: after });
  }
  if (writes.deleted !== undefined) out.push({ type: 'KalixDeleted', seq: after, retainMs: writes.deleted.retainMs });
  return out;
}
