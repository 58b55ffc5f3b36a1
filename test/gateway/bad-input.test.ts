// Bad input of every kind: each gets an error frame with a stable code or a documented close code;
// the server never crashes, no prototype is polluted, and a bystander connection never notices.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { eventSourcedEntity } from '../../src/index.js';
import { type Frame, pack, type RawClient, rawClient, serve, stillServes, until } from './support.js';

/** A second connection with a live subscription, checked after the bad input. */
async function bystander(url: string): Promise<{ check(): Promise<void> }> {
  const b = await rawClient(url);
  await b.request({ kind: 'subscribe', id: 'watch', entity: { type: 'counter', id: 'bystander' }, state: true });
  let n = 0;
  return {
    async check() {
      n++;
      const reply = await b.request({ kind: 'command', id: `b${n}`, entity: { type: 'counter', id: 'bystander' }, command: 'add', input: { n: 1 } });
      expect(reply).toEqual({ kind: 'reply', id: `b${n}`, result: n });
      await b.waitFor((f) => f.kind === 'update' && (f.state as { value: number } | undefined)?.value === n);
      expect(b.ws.readyState).toBe(b.ws.OPEN);
    },
  };
}

const cmd = (id: unknown, extra: Record<string, unknown> = {}): Frame => ({
  kind: 'command',
  id,
  entity: { type: 'counter', id: 'x' },
  command: 'get',
  ...extra,
});

function nested(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Sends `raw` and expects exactly one error frame with `code` (and `id`), the connection staying open. */
async function expectError(c: RawClient, raw: unknown, code: string, id: unknown = null): Promise<Frame> {
  const from = c.frames.length;
  c.send(raw);
  const frame = await c.waitFor((f) => f.kind === 'error', from);
  expect(frame.error).toMatchObject({ code });
  expect(frame.id).toEqual(id);
  expect(JSON.stringify(frame)).not.toMatch(/at .*\.(ts|js):\d+/); // no stack traces
  // The connection is still usable.
  expect(await c.request({ kind: 'ping', id: `ping-${from}` })).toEqual({ kind: 'pong', id: `ping-${from}` });
  return frame;
}

describe('bad input on a JSON connection', () => {
  it('invalid JSON, binary frames and non-object frames', async () => {
    const { url } = await serve();
    const watch = await bystander(url);
    const c = await rawClient(url);
    await expectError(c, '{"kind":"command",', 'MALFORMED_FRAME');
    await expectError(c, 'not json at all', 'MALFORMED_FRAME');
    await expectError(c, '', 'MALFORMED_FRAME');
    await expectError(c, Buffer.from([0x82, 0xa4, 0x6b]), 'MALFORMED_FRAME'); // a binary frame
    await expectError(c, '[1,2,3]', 'INVALID_FRAME');
    await expectError(c, '42', 'INVALID_FRAME');
    await expectError(c, 'null', 'INVALID_FRAME');
    await expectError(c, '"command"', 'INVALID_FRAME');
    await watch.check();
    await stillServes(url);
  });

  it('wrong field types, unknown kinds and unknown fields are INVALID_FRAME, with the id when it is valid', async () => {
    const { url } = await serve();
    const watch = await bystander(url);
    const c = await rawClient(url);
    const cases: [unknown, unknown, (string | number)[]][] = [
      [cmd({ nested: 1 }), null, ['id']],
      [cmd(1.5), null, ['id']],
      [cmd(-1), null, ['id']],
      [cmd(2 ** 53), null, ['id']],
      [cmd(''), null, ['id']],
      [cmd('x'.repeat(129)), null, ['id']],
      [{ kind: 'command', entity: { type: 'counter', id: 'x' }, command: 'get' }, null, ['id']],
      [{ kind: 'launch', id: 1 }, 1, ['kind']],
      [{ kind: 7, id: 2 }, 2, ['kind']],
      [{ id: 3 }, 3, ['kind']],
      [cmd(4, { entity: 'counter/x' }), 4, ['entity']],
      [cmd(5, { entity: { type: 7, id: 'x' } }), 5, ['entity', 'type']],
      [cmd(6, { entity: { type: 'counter', id: 7 } }), 6, ['entity', 'id']],
      [cmd(7, { entity: { type: 'counter', id: 'x', region: 'eu' } }), 7, ['entity', 'region']],
      [cmd(8, { entity: { type: 'x'.repeat(65), id: 'x' } }), 8, ['entity', 'type']],
      [cmd(9, { command: 42 }), 9, ['command']],
      [cmd(10, { command: '' }), 10, ['command']],
      [cmd(11, { extra: true }), 11, ['extra']],
      [{ kind: 'subscribe', id: 12, entity: { type: 'counter', id: 'x' } }, 12, []],
      [{ kind: 'subscribe', id: 13, entity: { type: 'counter', id: 'x' }, events: 'yes' }, 13, ['events']],
      [{ kind: 'subscribe', id: 14, entity: { type: 'counter', id: 'x' }, events: true, fromSequenceNr: 0 }, 14, ['fromSequenceNr']],
      [{ kind: 'subscribe', id: 15, entity: { type: 'counter', id: 'x' }, state: true, fromSequenceNr: 1 }, 15, ['fromSequenceNr']],
      [{ kind: 'unsubscribe', id: 16 }, 16, ['subscription']],
      [{ kind: 'ping', id: 17, payload: 'x' }, 17, ['payload']],
    ];
    for (const [frame, id, path] of cases) {
      const error = (await expectError(c, frame, 'INVALID_FRAME', id)).error as { issues: { path: unknown[] }[] };
      expect(error.issues[0]?.path).toEqual(path);
    }
    await watch.check();
    await stillServes(url);
  });

  it('unknown entity types and commands keep the entity layer’s codes', async () => {
    const { url } = await serve();
    const watch = await bystander(url);
    const c = await rawClient(url);
    await expectError(c, cmd('a', { entity: { type: 'ghost', id: 'x' } }), 'UNKNOWN_ENTITY_TYPE', 'a');
    await expectError(c, cmd('b', { command: 'fly' }), 'UNKNOWN_COMMAND', 'b');
    await expectError(c, cmd('c', { command: 'add', input: { n: 'one' } }), 'INVALID_COMMAND', 'c');
    await expectError(c, cmd('d', { entity: { type: 'counter', id: 'x'.repeat(10_000) } }), 'INVALID_ENTITY_ID', 'd');
    await watch.check();
    await stillServes(url);
  });

  it('a duplicate id of a request in flight is DUPLICATE_ID; the original is still answered', async () => {
    const { url, runtime } = await serve();
    const watch = await bystander(url);
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    runtime.register(
      eventSourcedEntity('slow')
        .initialState(() => 0)
        .events<{ type: 'X' }>({ X: (s) => s })
        .command('wait', async (_s, _i, ctx) => {
          await gate;
          return ctx.reply('done');
        }),
    );
    const c = await rawClient(url);
    c.send({ kind: 'command', id: 'same', entity: { type: 'slow', id: 's' }, command: 'wait' });
    await expectError(c, { kind: 'command', id: 'same', entity: { type: 'counter', id: 'x' }, command: 'get' }, 'DUPLICATE_ID', 'same');
    await expectError(c, { kind: 'ping', id: 'same' }, 'DUPLICATE_ID', 'same');
    release();
    expect(await c.waitFor((f) => f.kind === 'reply' && f.id === 'same')).toEqual({ kind: 'reply', id: 'same', result: 'done' });
    // Once answered, the id is free again.
    expect(await c.request({ kind: 'ping', id: 'same' })).toEqual({ kind: 'pong', id: 'same' });
    await watch.check();
  });

  it('__proto__, constructor and prototype keys are refused anywhere, and nothing is polluted', async () => {
    const { url, runtime } = await serve();
    const watch = await bystander(url);
    const c = await rawClient(url);
    await expectError(c, '{"kind":"command","id":1,"entity":{"type":"counter","id":"x"},"command":"add","input":{"__proto__":{"polluted":true},"n":1}}', 'UNSAFE_KEY', 1);
    await expectError(c, '{"kind":"command","id":2,"entity":{"type":"counter","id":"x"},"command":"add","input":{"n":1,"a":[{"b":{"constructor":{"prototype":{"polluted":true}}}}]}}', 'UNSAFE_KEY', 2);
    await expectError(c, '{"kind":"command","id":3,"entity":{"type":"counter","id":"x"},"command":"add","input":{"prototype":1}}', 'UNSAFE_KEY', 3);
    await expectError(c, '{"__proto__":{"polluted":true},"kind":"ping","id":4}', 'UNSAFE_KEY', 4);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect((Object.prototype as { polluted?: unknown }).polluted).toBeUndefined();
    // None of them ran.
    expect(await runtime.refFor('counter', 'x').ask('get')).toBe(0);
    await watch.check();
  });

  it('nesting deeper than maxDepth is NESTING_TOO_DEEP, even 500 000 levels deep; maxDepth itself passes', async () => {
    const { url } = await serve({ limits: { maxDepth: 16, maxPayload: 4 * 1024 * 1024 } });
    const watch = await bystander(url);
    const c = await rawClient(url);
    const deep = `{"kind":"command","id":"deep","entity":{"type":"greeter","id":"x"},"command":"greet","input":${'['.repeat(500_000)}${']'.repeat(500_000)}}`;
    await expectError(c, deep, 'NESTING_TOO_DEEP', 'deep');
    // The frame is depth 1, input depth 2: 15 more levels fit.
    const fits = await c.request(cmd('fits', { entity: { type: 'greeter', id: 'x' }, command: 'greet', input: nested(14, {}) }));
    expect(fits).toMatchObject({ kind: 'error', error: { code: 'INVALID_COMMAND' } }); // past the gateway, refused by the schema
    await expectError(c, cmd('over', { entity: { type: 'greeter', id: 'x' }, command: 'greet', input: nested(15, {}) }), 'NESTING_TOO_DEEP', 'over');
    await watch.check();
    await stillServes(url);
  });

  it('a frame over maxPayload closes the connection with 1009; others go on', async () => {
    const { url } = await serve({ limits: { maxPayload: 1024 } });
    const watch = await bystander(url);
    const c = await rawClient(url);
    c.send(cmd(1, { input: 'x'.repeat(2000) }));
    expect((await c.closed).code).toBe(1009);
    await watch.check();
    await stillServes(url);
  });

  it('a text frame that is not UTF-8 closes the connection with 1007', async () => {
    const { url } = await serve();
    const watch = await bystander(url);
    const c = await rawClient(url);
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await c.closed).code).toBe(1007);
    await watch.check();
  });

  it('a flood beyond maxInFlight is answered TOO_MANY_REQUESTS, every frame gets exactly one answer', async () => {
    const { url, runtime } = await serve({ limits: { maxInFlight: 8 } });
    const watch = await bystander(url);
    const c = await rawClient(url);
    const N = 5000;
    for (let i = 0; i < N; i++) c.send({ kind: 'command', id: i, entity: { type: 'counter', id: `f${i % 4}` }, command: 'add', input: { n: 1 } });
    await until(() => c.frames.length >= N, 'an answer to every frame');
    const replies = c.frames.filter((f) => f.kind === 'reply');
    const refused = c.frames.filter((f) => f.kind === 'error');
    expect(new Set(c.frames.map((f) => f.id)).size).toBe(N);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((f) => (f.error as { code: string }).code === 'TOO_MANY_REQUESTS')).toBe(true);
    // Exactly the accepted commands ran.
    let total = 0;
    for (let e = 0; e < 4; e++) total += (await runtime.refFor('counter', `f${e}`).ask('get')) as number;
    expect(total).toBe(replies.length);
    await watch.check();
    await stillServes(url);
  });

  it('a reply that cannot be encoded is ENCODE_FAILED', async () => {
    const { url } = await serve();
    const c = await rawClient(url);
    await expectError(c, cmd('big', { command: 'bigint' }), 'ENCODE_FAILED', 'big');
  });
});

describe('bad input on a msgpack connection', () => {
  const timestamps = new Packr({ useRecords: false }); // msgpackr's defaults: Dates as the timestamp extension

  it('text frames, invalid msgpack, extension types and non-string keys are MALFORMED_FRAME', async () => {
    const { url } = await serve();
    const watch = await bystander(url);
    const c = await rawClient(url, 'msgpack');
    await expectError(c, JSON.stringify({ kind: 'ping', id: 1 }), 'MALFORMED_FRAME');
    await expectError(c, Buffer.from([0xc1]), 'MALFORMED_FRAME');
    await expectError(c, Buffer.from([0x82, 0xa4, 0x6b]), 'MALFORMED_FRAME'); // truncated
    await expectError(c, Buffer.concat([pack({ kind: 'ping', id: 2 }), Buffer.from([0x00])]), 'MALFORMED_FRAME', 2); // trailing bytes, after a readable id
    await expectError(c, Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), 'MALFORMED_FRAME'); // array32 of 4 G items, no data
    await expectError(c, timestamps.pack({ kind: 'command', id: 3, entity: { type: 'counter', id: 'x' }, command: 'add', input: { at: new Date() } }), 'MALFORMED_FRAME', 3);
    await expectError(c, Buffer.from([0xd4, 0x65, 0x00]), 'MALFORMED_FRAME'); // fixext: msgpackr's Error extension
    await expectError(c, Buffer.from([0x81, 0x01, 0x02]), 'MALFORMED_FRAME'); // {1: 2}
    await expectError(c, pack([1, 2]), 'INVALID_FRAME');
    await watch.check();
    await stillServes(url, 'msgpack');
  });

  it('unsafe keys and deep nesting are refused before decoding, with the id', async () => {
    const { url, runtime } = await serve();
    const watch = await bystander(url);
    const c = await rawClient(url, 'msgpack');
    // msgpack map {kind, id, entity, command, input: {"__proto__": {polluted: true}}} written by hand.
    const frame = (input: Buffer): Buffer =>
      Buffer.concat([Buffer.from([0x85]), pack('kind'), pack('command'), pack('id'), pack(7), pack('entity'), pack({ type: 'counter', id: 'x' }), pack('command'), pack('add'), pack('input'), input]);
    await expectError(c, frame(Buffer.concat([Buffer.from([0x81]), pack('__proto__'), pack({ polluted: true })])), 'UNSAFE_KEY', 7);
    await expectError(c, frame(Buffer.concat([Buffer.from([0x81]), pack('constructor'), pack({ prototype: 1 })])), 'UNSAFE_KEY', 7);
    await expectError(c, frame(Buffer.from([...Array.from({ length: 200_000 }, () => 0x91), 0x01])), 'NESTING_TOO_DEEP', 7);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(await runtime.refFor('counter', 'x').ask('get')).toBe(0);
    await watch.check();
  });

  it('random bytes never crash the server: every frame is answered with an error or a reply', async () => {
    const { url } = await serve();
    const watch = await bystander(url);
    const c = await rawClient(url, 'msgpack');
    const samples = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 64 }), { numRuns: 500, seed: 42 });
    for (const bytes of samples) c.send(Buffer.from(bytes));
    await until(() => c.frames.length >= samples.length, 'an answer to every frame');
    expect(c.frames.every((f) => f.kind === 'error' || f.kind === 'reply' || f.kind === 'pong' || f.kind === 'subscribed' || f.kind === 'unsubscribed')).toBe(true);
    await watch.check();
    await stillServes(url, 'msgpack');
  });
});

describe('random JSON', () => {
  it('arbitrary JSON values as frames are answered, never crash', async () => {
    const { url } = await serve();
    const c = await rawClient(url);
    const samples = fc.sample(fc.jsonValue({ maxDepth: 4 }), { numRuns: 300, seed: 7 });
    for (const v of samples) c.send(JSON.stringify(v) ?? 'null');
    await until(() => c.frames.length >= samples.length);
    expect(c.frames.filter((f) => f.kind === 'error')).toHaveLength(samples.length);
    await stillServes(url);
  });
});
