import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTraceParent, parseTraceParent } from '../../src/tracing/traceparent.js';

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));

describe('W3C traceparent', () => {
  it('parses the recommendation\'s example', () => {
    expect(parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    });
  });

  it('format then parse gives back any non-zero trace id, span id and flags', () => {
    fc.assert(
      fc.property(hex(32), hex(16), fc.integer({ min: 0, max: 255 }), (traceId, spanId, flags) => {
        fc.pre(!/^0+$/.test(traceId) && !/^0+$/.test(spanId));
        expect(parseTraceParent(formatTraceParent(traceId, spanId, flags))).toEqual({ traceId, spanId, traceFlags: flags });
      }),
    );
  });

  it('refuses version ff, all-zero ids, uppercase, wrong lengths and separators; a later version may append fields', () => {
    const t = '4bf92f3577b34da6a3ce929d0e0e4736';
    const s = '00f067aa0ba902b7';
    for (const bad of [
      `ff-${t}-${s}-01`,
      `00-${'0'.repeat(32)}-${s}-01`,
      `00-${t}-${'0'.repeat(16)}-01`,
      `00-${t.toUpperCase()}-${s}-01`,
      `00-${t}-${s}-1`,
      `00-${t}-${s}-01-`,
      `00_${t}-${s}-01`,
      `0g-${t}-${s}-01`,
      `01-${t}-${s}-01x`,
      '',
    ]) {
      expect(parseTraceParent(bad), bad).toBeNull();
    }
    expect(parseTraceParent(`01-${t}-${s}-01-what-comes-later`)).toEqual({ traceId: t, spanId: s, traceFlags: 1 });
    expect(parseTraceParent(`01-${t}-${s}-00`)).toEqual({ traceId: t, spanId: s, traceFlags: 0 });
  });

  it('never throws, whatever the string', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (v) => void parseTraceParent(v)));
  });
});
