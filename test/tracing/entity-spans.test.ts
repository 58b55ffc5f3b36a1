// The entity's spans of a traced command when things go wrong or take time: a handler that
// crashes and is retried, an async handler, a write that fails.
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { eventSourcedEntity } from '../../src/index.js';
import { SpanName } from '../../src/tracing/tracing.js';
import { onCleanup, rawClient, serve } from '../gateway/support.js';

let crashes = 0;
const flaky = eventSourcedEntity('flaky')
  .initialState(() => ({ n: 0 }))
  .events<{ type: 'Done' }>({ Done: (s) => ({ n: s.n + 1 }) })
  .command('once', (_s, _i, ctx) => {
    if (crashes++ === 0) throw new Error('first attempt crashes');
    return ctx.emit({ type: 'Done' }).thenReply((s) => s.n);
  })
  .command('slow', async (_s, _i, ctx) => {
    await new Promise((resolve) => setImmediate(resolve));
    return ctx.emit({ type: 'Done' }).thenReply((s) => s.n);
  })
  .command('get', (s, _i, ctx) => ctx.reply(s.n));

async function traced() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  onCleanup(() => provider.shutdown());
  const served = await serve({ tracing: { tracerProvider: provider } });
  served.runtime.register(flaky);
  return { ...served, exporter, client: await rawClient(served.url) };
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

describe('entity spans of a traced command', () => {
  it('a handler that crashes and is retried by the restarted entity: two handle spans (attempts 1 and 2, the first an error) under one server span', async () => {
    crashes = 0;
    const { exporter, client, clock } = await traced();
    client.send({ kind: 'command', id: 1, entity: { type: 'flaky', id: 'f' }, command: 'once' });
    const answer = client.answer(1);
    let answered = false;
    void answer.then(() => (answered = true));
    // The restart waits for the type's backoff, on the test's manual clock: moved until it answers.
    for (let i = 0; i < 100 && !answered; i++) {
      clock.advanceToNext();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await answer).toMatchObject({ kind: 'reply', result: 1 });
    const spans = exporter.getFinishedSpans();
    const [server] = named(spans, SpanName.command);
    const handles = named(spans, SpanName.handle);
    expect(handles.map((s) => [s.attributes['beamstate.attempt'], s.status.code])).toEqual([
      [1, 2],
      [2, 0],
    ]);
    for (const s of [...handles, ...named(spans, SpanName.commit)]) expect(s.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
  });

  it('an async handler: its handle span ends when its promise settles, before the commit', async () => {
    const { exporter, client } = await traced();
    expect(await client.request({ kind: 'command', id: 1, entity: { type: 'flaky', id: 's' }, command: 'slow' })).toMatchObject({ kind: 'reply', result: 1 });
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual([SpanName.handle, SpanName.commit, SpanName.reply, SpanName.command]);
  });

  it('a write that fails: the commit span and the server span are errors with PERSIST_FAILED, the reply an error', async () => {
    const { exporter, client, store } = await traced();
    expect(await client.request({ kind: 'command', id: 1, entity: { type: 'flaky', id: 'w' }, command: 'get' })).toMatchObject({ kind: 'reply', result: 0 });
    store.journal.append = () => Promise.reject(new Error('disk on fire'));
    expect(await client.request({ kind: 'command', id: 2, entity: { type: 'flaky', id: 'w' }, command: 'slow' })).toMatchObject({ kind: 'error', error: { code: 'PERSIST_FAILED' } });
    const spans = exporter.getFinishedSpans();
    const [commit] = named(spans, SpanName.commit);
    expect(commit?.status.code).toBe(2);
    expect(commit?.attributes['beamstate.error.code']).toBe('PERSIST_FAILED');
    const server = named(spans, SpanName.command).find((s) => s.attributes['beamstate.request.id'] === '2');
    expect(server?.attributes['beamstate.error.code']).toBe('PERSIST_FAILED');
    expect(named(spans, SpanName.reply).find((s) => s.parentSpanContext?.spanId === server?.spanContext().spanId)?.attributes['beamstate.reply.outcome']).toBe('error');
  });
});
