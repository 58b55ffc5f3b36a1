import type { AnyMessage } from './protocol.js';

/**
 * What the proxy keeps of a Kalix value entity, in beamstate's durable-state store: the user
 * function's last state exactly as it sent it (an `Any`: its type URL and bytes), or null when
 * none is stored (new, or deleted). The proxy never decodes it: the SDK may store a protobuf
 * message, JSON (`json.kalix.io/…`) or a primitive, and only the user function reads it.
 */
export interface KalixValueState {
  readonly value: AnyMessage | null;
}

export const emptyValueState = (): KalixValueState => ({ value: null });
