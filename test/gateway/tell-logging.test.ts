import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client.js';
import type { Logger } from '../../src/index.js';
import { onCleanup, rawClient, serve, until } from './support.js';

interface Entry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger collecting every record (child bindings merged in). */
function capturing(): { logger: Logger; entries: Entry[] } {
  const entries: Entry[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at = (level: Entry['level']) => (obj: object, msg?: string) => void entries.push({ level, obj: { ...bindings, ...obj }, msg });
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => make({ ...bindings, ...more }) };
  };
  return { logger: make({}), entries };
}

const toldFailures = (entries: Entry[]): Entry[] => entries.filter((e) => e.level === 'warn' && e.msg === 'told command failed');

describe('a command told over the gateway', () => {
  it('that fails is logged at warn with the entity, the command and the error, as an in-process tell is', async () => {
    const { logger, entries } = capturing();
    const { url } = await serve({ logger });
    const client = await connect(url, { heartbeatMs: false });
    onCleanup(() => client.close());
    client.ref('counter', 'c1').tell('fail');
    await until(() => toldFailures(entries).length === 1, 'the told failure to be logged');
    const [entry] = toldFailures(entries);
    expect(entry?.obj).toMatchObject({ component: 'gateway', entity: 'counter/c1', command: 'fail', err: expect.objectContaining({ code: 'COMMAND_FAILED', message: 'refused' }) });
  });

  it('is logged when its input is invalid or it is not allowed, and not when it succeeds', async () => {
    const { logger, entries } = capturing();
    const { url } = await serve({ logger, authorize: (_p, req) => req.entityId !== 'secret' });
    const client = await connect(url, { heartbeatMs: false });
    onCleanup(() => client.close());
    client.tell('counter', 'ok', 'add', { n: 1 });
    client.tell('counter', 'c2', 'add', { n: 'one' });
    client.tell('counter', 'secret', 'add', { n: 1 });
    await until(() => toldFailures(entries).length === 2, 'two told failures to be logged');
    // Asked after the tells on the same connection and entity: once answered, the successful tell is done too.
    expect(await client.ask('counter', 'ok', 'get')).toBe(1);
    expect(toldFailures(entries).map((e) => [e.obj.entity, (e.obj.err as { code?: string }).code])).toEqual([
      ['counter/c2', 'INVALID_COMMAND'],
      ['counter/secret', 'FORBIDDEN'],
    ]);
  });

  it('an asked command that fails is answered, not logged', async () => {
    const { logger, entries } = capturing();
    const { url } = await serve({ logger });
    const client = await connect(url, { heartbeatMs: false });
    onCleanup(() => client.close());
    await expect(client.ask('counter', 'c3', 'fail')).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
    expect(entries.filter((e) => e.level === 'warn' || e.level === 'error')).toEqual([]);
  });

  it('on the wire: `tell: true` is still answered (so its id is freed), and `tell` must be a boolean', async () => {
    const { logger, entries } = capturing();
    const { url } = await serve({ logger });
    const c = await rawClient(url);
    const answer = await c.request({ kind: 'command', id: 1, entity: { type: 'counter', id: 'c4' }, command: 'fail', tell: true });
    expect(answer).toMatchObject({ kind: 'error', id: 1, error: { code: 'COMMAND_FAILED' } });
    expect(toldFailures(entries)).toHaveLength(1);
    expect(await c.request({ kind: 'command', id: 2, entity: { type: 'counter', id: 'c4' }, command: 'get', tell: true })).toEqual({ kind: 'reply', id: 2, result: 0 });
    expect(await c.request({ kind: 'command', id: 3, entity: { type: 'counter', id: 'c4' }, command: 'get', tell: 'yes' })).toMatchObject({
      kind: 'error',
      id: 3,
      error: { code: 'INVALID_FRAME', issues: [{ path: ['tell'] }] },
    });
    expect(toldFailures(entries)).toHaveLength(1);
  });
});
