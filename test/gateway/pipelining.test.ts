// Many requests in flight on one connection, answered by id.
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { onCleanup, rawClient, serve, until } from './support.js';

describe('pipelining', () => {
  it.each(['json', 'msgpack'] as const)('answers 1000 pipelined requests on one connection, each with its own id (%s)', async (format) => {
    const { url, runtime } = await serve();
    const c = await rawClient(url, format);
    // Ids of both kinds, interleaved over 10 entities, sent back to back without waiting.
    const ids: (string | number)[] = [];
    for (let i = 0; i < 1000; i++) {
      const id = i % 2 === 0 ? i : `req-${i}`;
      ids.push(id);
      c.send({ kind: 'command', id, entity: { type: 'counter', id: `e${i % 10}` }, command: 'add', input: { n: i } });
    }
    await until(() => c.frames.length >= 1000, '1000 answers');
    const byId = new Map(c.frames.map((f) => [f.id, f]));
    expect(c.frames.every((f) => f.kind === 'reply')).toBe(true);
    expect(byId.size).toBe(1000);
    for (const id of ids) expect(byId.has(id)).toBe(true);
    // Each entity handled its commands in the order they were sent: the replies of one entity
    // (running totals) increase with the request number.
    for (let e = 0; e < 10; e++) {
      const totals = ids.filter((_, i) => i % 10 === e).map((id) => byId.get(id)?.result as number);
      expect(totals).toEqual([...totals].sort((a, b) => a - b));
      let expected = 0;
      for (let i = e; i < 1000; i += 10) expected += i;
      expect(totals.at(-1)).toBe(expected);
      expect(await runtime.refFor('counter', `e${e}`).ask('get')).toBe(expected);
    }
  });

  it('distinguishes the integer id 1 from the string id "1"', async () => {
    const { url } = await serve();
    const c = await rawClient(url);
    c.send({ kind: 'command', id: 1, entity: { type: 'counter', id: 'a' }, command: 'add', input: { n: 1 } });
    c.send({ kind: 'command', id: '1', entity: { type: 'counter', id: 'b' }, command: 'add', input: { n: 5 } });
    await until(() => c.frames.length === 2);
    expect(c.frames.every((f) => f.kind === 'reply')).toBe(true);
    expect(c.frames.find((f) => f.id === 1)?.result).toBe(1);
    expect(c.frames.find((f) => f.id === '1')?.result).toBe(5);
  });

  it('lets the client keep 1000 asks in flight and resolves each with its own reply', async () => {
    const { url } = await serve();
    const client = await connect(url);
    onCleanup(() => client.close());
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.ask('greeter', 'g', 'greet', { name: `n${i}` })));
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => `hello, n${i}`));
  });
});
