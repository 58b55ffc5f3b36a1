import { type AnyMessage, normalizeAny } from './protocol.js';

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
  | { readonly type: 'KalixSnapshot'; readonly typeUrl: string; readonly value: Uint8Array; readonly seq: number };

export const emptyState = (): KalixState => ({ snapshot: null, snapshotSeq: 0, seq: 0, events: [] });

const any = (e: { typeUrl: string; value: Uint8Array }): AnyMessage => ({ typeUrl: e.typeUrl, value: e.value });

/** The event handlers: fold the journal into what `init` needs. Pure, as beamstate requires. */
export const kalixEventHandlers = {
  KalixEvent: (s: KalixState, e: Extract<KalixJournalEvent, { type: 'KalixEvent' }>): KalixState => ({ ...s, seq: s.seq + 1, events: [...s.events, any(e)] }),
  KalixSnapshot: (s: KalixState, e: Extract<KalixJournalEvent, { type: 'KalixSnapshot' }>): KalixState => ({ snapshot: any(e), snapshotSeq: e.seq, seq: e.seq, events: [] }),
};

/** The journal events for one reply: its events, then its snapshot (taken after them), appended together. */
export function journalEventsOf(state: KalixState, events: readonly AnyMessage[], snapshot: AnyMessage | undefined): KalixJournalEvent[] {
  const out: KalixJournalEvent[] = events.map(normalizeAny).map((e) => ({ type: 'KalixEvent', typeUrl: e.typeUrl, value: e.value }));
  if (snapshot !== undefined) {
    const s = normalizeAny(snapshot);
    out.push({ type: 'KalixSnapshot', typeUrl: s.typeUrl, value: s.value, seq: state.seq + events.length });
  }
  return out;
}
