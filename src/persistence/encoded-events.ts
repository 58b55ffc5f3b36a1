import type { EventToAppend } from './journal.js';
import type { Serializer } from './serializer.js';
import { encodeValue } from './serializer.js';
import { PersistenceArgumentError } from './errors.js';
import { checkMetadata, checkTypeName } from './validation.js';
import { isStorableText } from './text.js';
import { checkTags } from './global-order.js';

/**
 * An append's events, validated and encoded, ready for any backend. Encoding happens in the
 * caller's call to `append`, so a value the serializer rejects fails that append alone, before it
 * can join a batch, and the batch writer only moves bytes.
 */
export interface EncodedEvents {
  readonly count: number;
  readonly types: string[];
  readonly payloads: Uint8Array[];
  /** `null` where an event has no metadata. */
  readonly metadata: (Uint8Array | null)[];
  /** Total bytes of payloads and metadata, for the batch-size bound. */
  readonly bytes: number;
  /** Whether any event has metadata. */
  readonly hasMetadata: boolean;
  /** Each event's tags, `null` where it has none. */
  readonly tags: (readonly string[] | null)[];
  /** Whether any event has tags. */
  readonly hasTags: boolean;
}

/** One event, validated and encoded. */
export interface EncodedEvent {
  readonly type: string;
  readonly payload: Uint8Array;
  readonly metadata: Uint8Array | null;
  readonly tags: readonly string[] | null;
}

/** Validates and encodes event `i` of an append. */
export function encodeEvent(serializer: Serializer, event: EventToAppend | undefined, i: number): EncodedEvent {
  if (typeof event !== 'object' || event === null) {
    throw new PersistenceArgumentError(`events[${i}]`, 'must be an object with a payload');
  }
  // Names for errors (`events[0].type`) are built only on failure: this runs for every event.
  const type = event.type;
  return {
    type: type === undefined ? '' : typeof type === 'string' && isStorableText(type) ? type : checkTypeName(type, `events[${i}].type`),
    payload: encodeValue(serializer, event.payload, 'payload', i),
    metadata:
      event.metadata === undefined ? null : encodeValue(serializer, checkMetadata(event.metadata, `events[${i}].metadata`), `events[${i}].metadata`),
    tags: event.tags === undefined ? null : checkTags(event.tags, `events[${i}].tags`),
  };
}

export function encodeEvents(serializer: Serializer, events: readonly EventToAppend[]): EncodedEvents {
  if (!Array.isArray(events)) throw new PersistenceArgumentError('events', 'must be an array');
  const count = events.length;
  if (count === 0) throw new PersistenceArgumentError('events', 'must contain at least one event');
  const types = new Array<string>(count);
  const payloads = new Array<Uint8Array>(count);
  const metadata = new Array<Uint8Array | null>(count);
  let bytes = 0;
  let hasMetadata = false;
  const tags = new Array<readonly string[] | null>(count);
  let hasTags = false;
  for (let i = 0; i < count; i++) {
    const e = encodeEvent(serializer, events[i], i);
    types[i] = e.type;
    payloads[i] = e.payload;
    metadata[i] = e.metadata;
    tags[i] = e.tags;
    if (e.tags !== null) hasTags = true;
    bytes += e.payload.byteLength;
    if (e.metadata !== null) {
      bytes += e.metadata.byteLength;
      hasMetadata = true;
    }
  }
  return { count, types, payloads, metadata, bytes, hasMetadata, tags, hasTags };
}
