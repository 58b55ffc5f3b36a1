import type { SaveSnapshotOptions } from './snapshot-store.js';
import type { UpsertStateOptions } from './durable-state-store.js';
import type { Serializer } from './serializer.js';
import { encodeValue } from './serializer.js';
import { checkMetadata, checkNonNegativeInt, checkPersistenceId, checkTypeName } from './validation.js';

/**
 * Snapshot saves and durable-state writes, validated and encoded the same way by every backend,
 * before anything is written (a value the serializer rejects fails the call alone).
 */
export interface EncodedSnapshot {
  readonly type: string;
  readonly timestamp: number;
  readonly payload: Uint8Array;
  readonly metadata: Uint8Array | null;
}

export function encodeSnapshot(serializer: Serializer, persistenceId: string, sequenceNr: number, snapshot: unknown, options: SaveSnapshotOptions | undefined): EncodedSnapshot {
  checkPersistenceId(persistenceId);
  checkNonNegativeInt(sequenceNr, 'sequenceNr');
  return {
    type: options?.type === undefined ? '' : checkTypeName(options.type, 'options.type'),
    timestamp: options?.timestamp === undefined ? Date.now() : checkNonNegativeInt(options.timestamp, 'options.timestamp'),
    payload: encodeValue(serializer, snapshot, 'snapshot'),
    metadata: options?.metadata === undefined ? null : encodeValue(serializer, checkMetadata(options.metadata, 'options.metadata'), 'snapshot metadata'),
  };
}

export interface EncodedState {
  readonly type: string;
  readonly payload: Uint8Array;
}

export function encodeState(serializer: Serializer, persistenceId: string, expectedRevision: number, value: unknown, options: UpsertStateOptions | undefined): EncodedState {
  checkPersistenceId(persistenceId);
  checkNonNegativeInt(expectedRevision, 'expectedRevision');
  return {
    type: options?.type === undefined ? '' : checkTypeName(options.type, 'options.type'),
    payload: encodeValue(serializer, value, `durable state ${persistenceId}`),
  };
}
