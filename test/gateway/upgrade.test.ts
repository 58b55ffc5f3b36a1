// The HTTP upgrade: subprotocol negotiation, paths, connection limits, a server of its own or yours.
import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createGateway, SUBPROTOCOL_BARE, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from '../../src/index.js';
import { EarlyReader } from '../../src/gateway/upgrade.js';
import { onCleanup, rawClient, serve, stillServes, upgradeOutcome, until } from './support.js';

describe('subprotocol negotiation', () => {
  it('refuses an upgrade that offers no beamstate subprotocol with HTTP 400', async () => {
    const { url, gateway } = await serve();
    for (const protocols of [[], ['chat'], ['beamstate.v2.json'], ['beamstate.auth.abc']]) {
      const outcome = await upgradeOutcome(url, protocols);
      expect(outcome).toMatchObject({ status: 400, upgraded: false });
      expect(JSON.parse(outcome.body).code).toBe('UNSUPPORTED_SUBPROTOCOL');
    }
    expect(gateway.connections).toBe(0);
  });

  it('takes the first protocol it speaks in the client’s order; plain beamstate.v1 means JSON', async () => {
    const { url } = await serve();
    const msgpackFirst = await rawClient(url, 'msgpack', { protocols: ['chat', SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON] });
    expect(msgpackFirst.ws.protocol).toBe(SUBPROTOCOL_MSGPACK);
    expect(await msgpackFirst.request({ kind: 'ping', id: 1 })).toEqual({ kind: 'pong', id: 1 });
    const bare = await rawClient(url, 'json', { protocols: [SUBPROTOCOL_BARE] });
    expect(bare.ws.protocol).toBe(SUBPROTOCOL_BARE);
    expect(await bare.request({ kind: 'ping', id: 2 })).toEqual({ kind: 'pong', id: 2 });
  });
});

describe('connection limits', () => {
  it('refuses connections beyond maxConnections with HTTP 503, and accepts again once one closes', async () => {
    const { url, gateway } = await serve({ limits: { maxConnections: 2 } });
    const a = await rawClient(url);
    await rawClient(url);
    const refused = await upgradeOutcome(url, [SUBPROTOCOL_JSON]);
    expect(refused).toMatchObject({ status: 503, upgraded: false });
    expect(JSON.parse(refused.body).code).toBe('TOO_MANY_CONNECTIONS');
    a.close();
    await until(() => gateway.connections === 1);
    await stillServes(url);
  });
});

describe('a server of its own', () => {
  it('listens on its port, serves only its path, answers plain HTTP with 426', async () => {
    const { runtime } = await serve();
    const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1', path: '/ws' });
    onCleanup(() => gateway.close());
    expect(gateway.url).toBe(`ws://127.0.0.1:${gateway.port}/ws`);
    const base = `ws://127.0.0.1:${gateway.port}`;
    const notFound = await upgradeOutcome(`${base}/other`, [SUBPROTOCOL_JSON]);
    expect(notFound.status).toBe(404);
    expect(JSON.parse(notFound.body).code).toBe('NOT_FOUND');
    const c = await rawClient(`${base}/ws?client=1`);
    expect(await c.request({ kind: 'ping', id: 1 })).toEqual({ kind: 'pong', id: 1 });
    const res = await fetch(`http://127.0.0.1:${gateway.port}/ws`);
    expect(res.status).toBe(426);
    await res.text();
  });

  it('fails to start on a port in use, and says so', async () => {
    const { runtime } = await serve();
    const first = await createGateway({ runtime, port: 0, host: '127.0.0.1' });
    onCleanup(() => first.close());
    await expect(createGateway({ runtime, port: first.port as number, host: '127.0.0.1' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('attached to your server', () => {
  it('leaves upgrades to other paths to your other listeners', async () => {
    const server = createServer();
    server.on('upgrade', (req, socket) => {
      if (req.url === '/ws') return;
      socket.end('HTTP/1.1 418 I\'m a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    const { url } = await serve({ server, path: '/ws' });
    expect(url.endsWith('/ws')).toBe(true);
    expect((await upgradeOutcome(url.replace('/ws', '/tea'), [SUBPROTOCOL_JSON])).status).toBe(418);
    const c = await rawClient(url);
    expect(await c.request({ kind: 'ping', id: 1 })).toEqual({ kind: 'pong', id: 1 });
  });
});

describe('options', () => {
  it('refuses bad options at once with INVALID_OPTION naming the field', async () => {
    const { runtime } = await serve();
    const bad: [object, string][] = [
      [{ runtime: undefined }, 'runtime'],
      [{ runtime, port: 70000 }, 'port'],
      [{ runtime, path: 'ws' }, 'path'],
      [{ runtime, limits: { maxInFlight: 0 } }, 'limits.maxInFlight'],
      [{ runtime, limits: { maxDepth: 1 } }, 'limits.maxDepth'],
      [{ runtime, limits: { maxPayload: 1.5 } }, 'limits.maxPayload'],
      [{ runtime, limits: { maxInflight: 3 } }, 'limits.maxInflight'],
      [{ runtime, heartbeat: { intervalMs: -1 } }, 'heartbeat.intervalMs'],
      [{ runtime, authorize: 'yes' }, 'authorize'],
      [{ runtime, server: createServer(), port: 1 }, 'port'],
    ];
    for (const [options, field] of bad) {
      const err = await createGateway(options as never).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INVALID_OPTION' });
      expect((err as { field: string }).field).toBe(field);
    }
  });
});

describe('bytes sent before the upgrade is answered (EarlyReader)', () => {
  const KiB = 1024;

  it('counts the head and what the socket had buffered before it listened, against one bound', async () => {
    const socket = new PassThrough();
    socket.write(Buffer.alloc(40 * KiB)); // in the socket's buffer already, read by nobody yet
    let overflowed: number | undefined;
    new EarlyReader(socket, Buffer.alloc(30 * KiB), 64 * KiB, () => {}, (bytes) => (overflowed = bytes));
    await until(() => overflowed !== undefined, 'the overflow');
    expect(overflowed).toBe(70 * KiB);
    // It stopped reading, and keeps nothing.
    expect(socket.listenerCount('data')).toBe(0);
    expect(socket.listenerCount('end')).toBe(0);
  });

  it('a head over the bound alone overflows at once, from the constructor', () => {
    let overflowed: number | undefined;
    new EarlyReader(new PassThrough(), Buffer.alloc(64 * KiB + 1), 64 * KiB, () => {}, (bytes) => (overflowed = bytes));
    expect(overflowed).toBe(64 * KiB + 1);
  });

  it('under the bound, keeps every byte in order, the head first', async () => {
    const socket = new PassThrough();
    socket.write(Buffer.from('b'));
    const reader = new EarlyReader(socket, Buffer.from('a'), 64 * KiB, () => {}, () => {
      throw new Error('no overflow expected');
    });
    await until(() => socket.readableLength === 0, 'the buffered byte to be read');
    socket.write(Buffer.from('c'));
    await until(() => socket.readableLength === 0, 'the next byte to be read');
    expect(reader.stop().toString()).toBe('abc');
    expect(socket.isPaused()).toBe(true);
  });
});
