// Spans of gateway commands, recorded by the OpenTelemetry SDK's in-memory exporter: the causal
// chain from the client's traceparent through the entity's handler and journal commit to the reply.
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client.js';
import { createGateway, InvalidOptionError } from '../../src/index.js';
import { formatTraceParent } from '../../src/tracing/traceparent.js';
import { SpanName } from '../../src/tracing/tracing.js';
import { onCleanup, rawClient, serve } from '../gateway/support.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

function tracer(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  onCleanup(() => provider.shutdown());
  return { exporter, provider };
}

const byName = (spans: ReadableSpan[], name: string): ReadableSpan[] => spans.filter((s) => s.name === name);
const one = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = byName(spans, name);
  expect(found, name).toHaveLength(1);
  return found[0] as ReadableSpan;
};
const startNs = (s: ReadableSpan): bigint => BigInt(s.startTime[0]) * 1_000_000_000n + BigInt(s.startTime[1]);

describe('gateway command spans', () => {
  it('a command with a client traceparent: server span child of the client span, then handler, journal commit and reply as its children, in that order', async () => {
    const { exporter, provider } = tracer();
    const { url } = await serve({ tracing: { tracerProvider: provider } });
    const c = await rawClient(url);
    const reply = await c.request({ kind: 'command', id: 1, entity: { type: 'counter', id: 'c1' }, command: 'add', input: { n: 2 }, traceparent: TRACEPARENT, tracestate: 'vendor=abc' });
    expect(reply).toMatchObject({ kind: 'reply', id: 1, result: 2 });
    const spans = exporter.getFinishedSpans();
    const server = one(spans, SpanName.command);
    const handle = one(spans, SpanName.handle);
    const commit = one(spans, SpanName.commit);
    const sent = one(spans, SpanName.reply);
    // One trace, the client's.
    for (const s of [server, handle, commit, sent]) expect(s.spanContext().traceId).toBe(TRACE_ID);
    expect(server.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(server.parentSpanContext?.traceState?.get('vendor')).toBe('abc');
    expect(server.kind).toBe(1); // SpanKind.SERVER
    const serverId = server.spanContext().spanId;
    for (const s of [handle, commit, sent]) expect(s.parentSpanContext?.spanId).toBe(serverId);
    // Causal order: the handler ran, then the batch was committed, then the reply went, then the
    // command ended (the exporter has them in the order they ended; the children's start times,
    // taken on their parent's clock, in the order they began).
    expect(spans.map((s) => s.name)).toEqual([SpanName.handle, SpanName.commit, SpanName.reply, SpanName.command]);
    expect(startNs(handle) <= startNs(commit) && startNs(commit) <= startNs(sent)).toBe(true);
    expect(server.attributes).toMatchObject({ 'beamstate.entity.type': 'counter', 'beamstate.entity.id': 'c1', 'beamstate.command': 'add', 'beamstate.request.id': '1' });
    expect(handle.attributes).toMatchObject({ 'beamstate.entity.sequence_nr': 0, 'beamstate.attempt': 1, 'beamstate.command': 'add' });
    expect(commit.attributes).toMatchObject({ 'beamstate.batch.size': 1, 'beamstate.entity.sequence_nr': 1 });
    expect(sent.attributes).toMatchObject({ 'beamstate.reply.outcome': 'reply' });
    expect(server.status.code).toBe(0); // UNSET: it succeeded
  });

  it('a command that writes nothing has no commit span; a failed one has error status with its code', async () => {
    const { exporter, provider } = tracer();
    const { url } = await serve({ tracing: { tracerProvider: provider } });
    const c = await rawClient(url);
    expect(await c.request({ kind: 'command', id: 'g', entity: { type: 'counter', id: 'c1' }, command: 'get' })).toMatchObject({ kind: 'reply', result: 0 });
    expect(await c.request({ kind: 'command', id: 'f', entity: { type: 'counter', id: 'c1' }, command: 'fail' })).toMatchObject({ kind: 'error', error: { code: 'COMMAND_FAILED' } });
    const spans = exporter.getFinishedSpans();
    expect(byName(spans, SpanName.commit)).toHaveLength(0);
    const servers = byName(spans, SpanName.command);
    expect(servers.map((s) => s.attributes['beamstate.request.id'])).toEqual(['g', 'f']);
    const failed = servers[1] as ReadableSpan;
    expect(failed.status).toMatchObject({ code: 2, message: 'COMMAND_FAILED' }); // ERROR
    expect(failed.attributes['beamstate.error.code']).toBe('COMMAND_FAILED');
    const failedReply = byName(spans, SpanName.reply).find((s) => s.parentSpanContext?.spanId === failed.spanContext().spanId);
    expect(failedReply?.attributes['beamstate.reply.outcome']).toBe('error');
    // Without a client traceparent each command starts a trace of its own.
    expect(servers[0]?.parentSpanContext).toBeUndefined();
    expect(servers[0]?.spanContext().traceId).not.toBe(servers[1]?.spanContext().traceId);
  });

  it('commands batched into one write each get a commit span of that batch', async () => {
    const { exporter, provider } = tracer();
    const { url } = await serve({ tracing: { tracerProvider: provider } });
    const c = await rawClient(url);
    // Sent in one go: the entity handles them as one batch (one append).
    for (let i = 0; i < 3; i++) c.send({ kind: 'command', id: i, entity: { type: 'counter', id: 'b' }, command: 'add', input: { n: 1 }, traceparent: formatTraceParent(TRACE_ID, `00000000000000a${i}`, 1) });
    for (let i = 0; i < 3; i++) expect(await c.answer(i)).toMatchObject({ kind: 'reply' });
    const spans = exporter.getFinishedSpans();
    const commits = byName(spans, SpanName.commit);
    expect(commits).toHaveLength(3);
    const servers = byName(spans, SpanName.command);
    for (const commit of commits) expect(servers.map((s) => s.spanContext().spanId)).toContain(commit.parentSpanContext?.spanId);
    // Whatever the batching, each handler saw the sequence number its command came after.
    expect(byName(spans, SpanName.handle).map((s) => s.attributes['beamstate.entity.sequence_nr']).sort()).toEqual([0, 1, 2]);
    expect(commits.every((s) => typeof s.attributes['beamstate.batch.size'] === 'number')).toBe(true);
  });

  it('a malformed traceparent string is ignored: the command runs in a new trace, marked beamstate.traceparent.invalid', async () => {
    const { exporter, provider } = tracer();
    const { url } = await serve({ tracing: { tracerProvider: provider } });
    const c = await rawClient(url);
    const bad = ['', 'garbage', `00-${'0'.repeat(32)}-${CLIENT_SPAN}-01`, `ff-${TRACE_ID}-${CLIENT_SPAN}-01`, TRACEPARENT.toUpperCase(), `${TRACEPARENT}-extra`];
    for (const [i, traceparent] of bad.entries()) {
      expect(await c.request({ kind: 'command', id: i, entity: { type: 'counter', id: 'm' }, command: 'get', traceparent })).toMatchObject({ kind: 'reply', result: 0 });
    }
    const servers = byName(exporter.getFinishedSpans(), SpanName.command);
    expect(servers).toHaveLength(bad.length);
    for (const s of servers) {
      expect(s.parentSpanContext).toBeUndefined();
      expect(s.spanContext().traceId).not.toBe(TRACE_ID);
      expect(s.attributes['beamstate.traceparent.invalid']).toBe(true);
    }
  });

  it('a traceparent that is not a string, or too long, is INVALID_FRAME naming the field, traced or not', async () => {
    for (const tracing of [false, true]) {
      const { provider } = tracer();
      const { url } = await serve(tracing ? { tracing: { tracerProvider: provider } } : {});
      const c = await rawClient(url);
      const cases: [string, unknown][] = [
        ['traceparent', 42],
        ['traceparent', 'x'.repeat(257)],
        ['tracestate', { a: 1 }],
        ['tracestate', 'x'.repeat(513)],
      ];
      for (const [i, [field, value]] of cases.entries()) {
        const answer = await c.request({ kind: 'command', id: i, entity: { type: 'counter', id: 'v' }, command: 'get', [field]: value });
        expect(answer).toMatchObject({ kind: 'error', id: i, error: { code: 'INVALID_FRAME', issues: [{ path: [field] }] } });
      }
    }
  });

  it('a client span that is not sampled (flags 00): the default parent-based sampler records nothing, and the command is answered', async () => {
    const { exporter, provider } = tracer();
    const { url } = await serve({ tracing: { tracerProvider: provider } });
    const c = await rawClient(url);
    const unsampled = `00-${TRACE_ID}-${CLIENT_SPAN}-00`;
    expect(await c.request({ kind: 'command', id: 1, entity: { type: 'counter', id: 'u' }, command: 'add', input: { n: 1 }, traceparent: unsampled })).toMatchObject({ kind: 'reply', result: 1 });
    expect(await c.request({ kind: 'command', id: 2, entity: { type: 'counter', id: 'u' }, command: 'fail', traceparent: unsampled })).toMatchObject({ kind: 'error' });
    expect(exporter.getFinishedSpans()).toEqual([]);
    // A sampled one on the same gateway is recorded: the empty list above is the sampler's doing.
    await c.request({ kind: 'command', id: 3, entity: { type: 'counter', id: 'u' }, command: 'get', traceparent: TRACEPARENT });
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual([SpanName.handle, SpanName.reply, SpanName.command]);
  });

  it('the client sends a traceparent per ask when given one', async () => {
    const { exporter, provider } = tracer();
    const { url } = await serve({ tracing: { tracerProvider: provider } });
    const client = await connect(url, { heartbeatMs: false });
    onCleanup(() => client.close());
    expect(await client.ask('counter', 'k', 'add', { n: 5 }, { traceparent: TRACEPARENT })).toBe(5);
    expect(await client.ask('counter', 'k', 'get')).toBe(5);
    const servers = byName(exporter.getFinishedSpans(), SpanName.command);
    expect(servers[0]?.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(servers[1]?.parentSpanContext).toBeUndefined();
  });

  it('a tracing option that is not a boolean or { tracerProvider } is INVALID_OPTION', async () => {
    const { runtime } = await serve();
    for (const tracing of ['yes', { tracerProvider: {} }]) {
      await expect(createGateway({ runtime, port: 0, tracing: tracing as never })).rejects.toBeInstanceOf(InvalidOptionError);
    }
  });
});
