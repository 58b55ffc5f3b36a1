/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) `traceparent` values, parsed and
 * formatted without the OpenTelemetry API, so that the gateway's frame validation and the
 * client can use them with no optional dependency loaded.
 *
 * `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase. As the recommendation
 * says, a version above 00 is parsed as 00 (its first 55 characters, then `-` or the end), and
 * version ff, an all-zero trace or parent id, or anything else malformed is refused: the receiver
 * then starts a new trace.
 */

/** Longest `traceparent` a frame may carry (version 00 is exactly 55; later versions may append fields). */
export const MAX_TRACEPARENT_LENGTH = 256;
/** Longest `tracestate` a frame may carry (the recommendation's 512 characters). */
export const MAX_TRACESTATE_LENGTH = 512;

/** A parsed `traceparent`. */
export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** The parsed value, or null if `value` is not a valid `traceparent`. */
export function parseTraceParent(value: string): TraceParent | null {
  if (value.length < 55) return null;
  const version = value.slice(0, 2);
  if (!HEX.test(version) || version === 'ff') return null;
  if (version === '00' ? value.length !== 55 : value.length > 55 && value[55] !== '-') return null;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return null;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(spanId) || !HEX.test(flags)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
}

/** A version-00 `traceparent` for a span. */
export function formatTraceParent(traceId: string, spanId: string, traceFlags: number): string {
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
