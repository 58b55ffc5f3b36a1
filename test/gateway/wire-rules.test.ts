// Rules of docs/protocol.md that concern what a client may rely on: a COMMAND_FAILED message is the
// handler's text, unchanged; a request id is free again only once its answer has been sent.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connect, eventSourcedEntity, type RemoteError } from '../../src/index.js';
import { onCleanup, rawClient, serve, type Served } from './support.js';

/** A gateway with an entity whose `refuse` command fails with whatever `message.text` is when it runs. */
async function refusing(): Promise<Served & { message: { text: string } }> {
  const served = await serve();
  const message = { text: '' };
  served.runtime.register(
    eventSourcedEntity('refuser')
      .initialState(() => 0)
      .events<{ type: 'Never' }>({ Never: (s) => s })
      .command('refuse', (_s, _i, ctx) => ctx.fail(message.text)),
  );
  return { ...served, message };
}

/** Well-formed text with what encoders treat specially: quotes, backslashes, controls, NUL, line separators, astral characters. */
const text = fc.string({
  unit: fc.oneof(fc.constantFrom('"', '\\', '\n', '\r', '\t', '\u0000', '\u001f', '\u2028', '\u2029', '</script>', '😀', 'é', '\u{10ffff}'), fc.string({ unit: 'grapheme', maxLength: 3 })),
  maxLength: 40,
});

describe('COMMAND_FAILED', () => {
  it.each(['json', 'msgpack'] as const)('carries the handler’s message unchanged (%s)', async (format) => {
    const { url, message } = await refusing();
    const c = await rawClient(url, format);
    let id = 0;
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        message.text = t;
        const answer = await c.request({ kind: 'command', id: ++id, entity: { type: 'refuser', id: 'r' }, command: 'refuse' });
        expect(answer).toEqual({ kind: 'error', id, error: { code: 'COMMAND_FAILED', message: t } });
      }),
      { numRuns: 200 },
    );
  });

  it('over JSON, even a string that is not well-formed UTF-16 arrives as it was (escaped on the wire)', async () => {
    const { url, message } = await refusing();
    const c = await rawClient(url, 'json');
    for (const [i, t] of ['\ud800', 'a\udfffb', '\udc00\ud800', ''].entries()) {
      message.text = t;
      const answer = await c.request({ kind: 'command', id: i, entity: { type: 'refuser', id: 'r' }, command: 'refuse' });
      expect(answer).toEqual({ kind: 'error', id: i, error: { code: 'COMMAND_FAILED', message: t } });
    }
  });

  it('the client’s RemoteError has that message, and the details', async () => {
    const { url, message } = await refusing();
    const client = await connect(url, { format: 'msgpack' });
    onCleanup(() => client.close());
    message.text = 'item "tea" is not in the cart:\nnothing removed';
    const err = (await client.ask('refuser', 'r', 'refuse').catch((e: unknown) => e)) as RemoteError;
    expect(err.code).toBe('COMMAND_FAILED');
    expect(err.message).toBe(message.text);
    const withDetails = (await client.ask('counter', 'c', 'fail').catch((e: unknown) => e)) as RemoteError;
    expect({ message: withDetails.message, details: withDetails.details }).toEqual({ message: 'refused', details: { reason: 'because' } });
  });
});

describe('reusing a request id', () => {
  it('an id is free once its answer is sent: two pipelined pings with one id are both answered, and the answers cannot be told apart', async () => {
    // What docs/protocol.md §2.1 warns about: a request answered at once frees its id before the
    // next frame is read, so reusing an id before its answer arrives can run both requests.
    const { url } = await serve();
    const c = await rawClient(url);
    c.send({ kind: 'ping', id: 'again' });
    c.send({ kind: 'ping', id: 'again' });
    expect(await c.next()).toEqual({ kind: 'pong', id: 'again' });
    expect(await c.next()).toEqual({ kind: 'pong', id: 'again' });
  });

  it('a command is in flight until answered: the same id meanwhile is DUPLICATE_ID, once answered it runs again', async () => {
    const { url } = await serve();
    const c = await rawClient(url);
    const add = { kind: 'command', id: 5, entity: { type: 'counter', id: 'reuse' }, command: 'add', input: { n: 1 } };
    c.send(add);
    c.send(add);
    const answers = [await c.next(), await c.next()];
    expect(answers).toContainEqual({ kind: 'reply', id: 5, result: 1 });
    expect(answers).toContainEqual(expect.objectContaining({ kind: 'error', id: 5, error: expect.objectContaining({ code: 'DUPLICATE_ID' }) }));
    expect(await c.request(add)).toEqual({ kind: 'reply', id: 5, result: 2 });
  });
});
