import type { Serializer } from './serializer.js';
import { encodeValue } from './serializer.js';
import { PersistenceArgumentError } from './errors.js';
import type { TimerChange, TimerWrites } from './timer-store.js';

/** A schedule, its payload encoded. */
export interface EncodedTimerPut {
  readonly name: string;
  readonly scheduleId: string;
  readonly dueAt: number;
  readonly everyMs: number;
  readonly command: string;
  readonly payload: Uint8Array;
}

export interface EncodedTimerDone {
  readonly name: string;
  readonly claim: string;
  readonly nextDueAt: number | null;
}

/**
 * An entity's timer changes, validated, encoded and reduced to one change per name: what the
 * backends write. Encoding happens in the caller's call, so a payload the serializer rejects
 * fails that write alone, before anything is written.
 */
export interface EncodedTimerWrites {
  readonly entityType: string;
  readonly entityId: string;
  readonly puts: readonly EncodedTimerPut[];
  readonly cancels: readonly string[];
  readonly completes: readonly EncodedTimerDone[];
  /** Payload bytes, for batch bounds. */
  readonly bytes: number;
}

/**
 * Reduces the changes in order, per name: a schedule or cancel replaces whatever came before it;
 * a completion counts only if nothing before it in these changes scheduled or cancelled the name
 * (a schedule replaced the row it would complete; a cancel removed it). So one row is touched
 * once, which a single SQL statement needs.
 */
export function encodeTimerWrites(serializer: Serializer, writes: TimerWrites): EncodedTimerWrites {
  if (typeof writes !== 'object' || writes === null || !Array.isArray(writes.changes)) {
    throw new PersistenceArgumentError('timers', 'must be { entityType, entityId, changes: [...] }');
  }
  const last = new Map<string, TimerChange>();
  for (const c of writes.changes) {
    if (c.kind === 'complete') {
      const before = last.get(c.name);
      if (before === undefined || before.kind === 'complete') last.set(c.name, c);
    } else {
      last.set(c.name, c);
    }
  }
  const puts: EncodedTimerPut[] = [];
  const cancels: string[] = [];
  const completes: EncodedTimerDone[] = [];
  let bytes = 0;
  for (const c of last.values()) {
    switch (c.kind) {
      case 'schedule': {
        const payload = encodeValue(serializer, c.payload, `timer ${JSON.stringify(c.name)} payload`);
        bytes += payload.byteLength;
        puts.push({ name: c.name, scheduleId: c.scheduleId, dueAt: c.dueAt, everyMs: c.everyMs, command: c.command, payload });
        break;
      }
      case 'cancel':
        cancels.push(c.name);
        break;
      case 'complete':
        completes.push({ name: c.name, claim: c.claim, nextDueAt: c.nextDueAt });
        break;
    }
  }
  return { entityType: writes.entityType, entityId: writes.entityId, puts, cancels, completes, bytes };
}
