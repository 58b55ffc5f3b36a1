// Authentication on the upgrade (refused clients never get a WebSocket) and authorization per request.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type AuthorizeRequest,
  connect,
  type ConnectFailedError,
  createGateway,
  eventSourcedEntity,
  type RemoteError,
  requestToken,
  type StandardSchemaV1,
  SUBPROTOCOL_JSON,
} from '../../src/index.js';
import { onCleanup, rawClient, serve, turn, upgradeOutcome } from './support.js';

const tokens: Record<string, { user: string }> = { 'alice-token': { user: 'alice' }, 'bob-token': { user: 'bob' } };
const authenticate = (req: IncomingMessage): { user: string } | undefined => tokens[requestToken(req) ?? ''];

describe('authentication', () => {
  it('refuses an unauthenticated upgrade with HTTP 401: no WebSocket is ever made', async () => {
    const { url, gateway } = await serve({ authenticate });
    const refused = await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer wrong' });
    expect(refused).toMatchObject({ status: 401, upgraded: false });
    expect(JSON.parse(refused.body)).toEqual({ code: 'UNAUTHENTICATED', message: 'authentication required' });
    expect((await upgradeOutcome(url, [SUBPROTOCOL_JSON])).status).toBe(401);
    expect(gateway.connections).toBe(0);
    // With the right token the same endpoint upgrades.
    expect(await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer alice-token' })).toMatchObject({ status: 101, upgraded: true });
  });

  it('the client reports a refused connection as CONNECT_FAILED with the HTTP status', async () => {
    const { url } = await serve({ authenticate });
    const err = (await connect(url, { token: 'nope' }).catch((e: unknown) => e)) as ConnectFailedError;
    expect(err.code).toBe('CONNECT_FAILED');
    expect(err.status).toBe(401);
  });

  it.each(['header', 'protocol', 'query'] as const)('accepts the token from the client by %s', async (tokenTransport) => {
    const seen: string[] = [];
    const { url } = await serve({
      authenticate,
      authorize: (principal, request) => {
        seen.push(`${(principal as { user: string }).user}:${request.action}`);
        return true;
      },
    });
    const client = await connect(url, { token: () => 'bob-token', tokenTransport });
    onCleanup(() => client.close());
    expect(await client.ask('counter', 'a', 'add', { n: 1 })).toBe(1);
    expect(seen).toEqual(['bob:command']);
  });

  it('an authenticate hook may be async; one that throws refuses with 500 and the server goes on', async () => {
    const { url } = await serve({
      authenticate: async (req) => {
        if (requestToken(req) === 'explode') throw new Error('token service down');
        return authenticate(req);
      },
    });
    const failed = await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer explode' });
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body).code).toBe('AUTHENTICATION_FAILED');
    expect(failed.body).not.toContain('token service down');
    const client = await connect(url, { token: 'alice-token' });
    onCleanup(() => client.close());
    expect(await client.ask('counter', 'x', 'get')).toBe(0);
  });

  it('requestToken looks at the Authorization header, then the auth subprotocol, then the query', () => {
    const req = (headers: Record<string, string>, url = '/'): IncomingMessage => ({ headers, url }) as unknown as IncomingMessage;
    expect(requestToken(req({ authorization: 'Bearer abc' }, '/?token=q'))).toBe('abc');
    const encoded = Buffer.from('tök en', 'utf8').toString('base64url');
    expect(requestToken(req({ 'sec-websocket-protocol': `beamstate.v1.json, beamstate.auth.${encoded}` }, '/?token=q'))).toBe('tök en');
    expect(requestToken(req({}, '/ws?x=1&token=q%20r'))).toBe('q r');
    expect(requestToken(req({ authorization: 'Basic abc' }))).toBeUndefined();
    expect(requestToken(req({}))).toBeUndefined();
  });
});

describe('authorization', () => {
  const onlyReads = (principal: unknown, request: AuthorizeRequest): boolean =>
    (principal as { user: string }).user === 'alice' || (request.action === 'command' && request.command === 'get');

  it('denies a command with FORBIDDEN, and the command never runs', async () => {
    const { url, runtime } = await serve({ authenticate, authorize: onlyReads });
    const bob = await connect(url, { token: 'bob-token' });
    const alice = await connect(url, { token: 'alice-token' });
    onCleanup(() => bob.close());
    onCleanup(() => alice.close());
    const denied = (await bob.ask('counter', 'k', 'add', { n: 5 }).catch((e: unknown) => e)) as RemoteError;
    expect(denied.code).toBe('FORBIDDEN');
    expect(await bob.ask('counter', 'k', 'get')).toBe(0);
    expect(await alice.ask('counter', 'k', 'add', { n: 2 })).toBe(2);
    expect(await runtime.refFor('counter', 'k').ask('get')).toBe(2);
  });

  it('sees what is asked: the type, the id, the command and its input', async () => {
    const requests: AuthorizeRequest[] = [];
    const { url } = await serve({
      authorize: async (_principal, request) => {
        requests.push(request);
        return true;
      },
    });
    const c = await rawClient(url);
    await c.request({ kind: 'command', id: 1, entity: { type: 'counter', id: 'q' }, command: 'add', input: { n: 3 } });
    await c.request({ kind: 'subscribe', id: 2, entity: { type: 'counter', id: 'q' }, events: true });
    expect(requests).toEqual([
      { action: 'command', entityType: 'counter', entityId: 'q', command: 'add', input: { n: 3 } },
      { action: 'subscribe', entityType: 'counter', entityId: 'q', events: true, state: false },
    ]);
  });

  it('denies a subscription with FORBIDDEN', async () => {
    const { url } = await serve({ authorize: (_p, request) => request.action !== 'subscribe' });
    const c = await rawClient(url);
    expect(await c.request({ kind: 'subscribe', id: 's', entity: { type: 'counter', id: 'a' }, state: true })).toMatchObject({ kind: 'error', id: 's', error: { code: 'FORBIDDEN' } });
    expect(await c.request({ kind: 'command', id: 'c', entity: { type: 'counter', id: 'a' }, command: 'get' })).toMatchObject({ kind: 'reply', result: 0 });
  });

  it('authorizes before looking anything up: a client allowed nothing cannot tell a known type from an unknown one', async () => {
    const requests: AuthorizeRequest[] = [];
    const { url } = await serve({
      authorize: (_p, request) => {
        requests.push(request);
        return false;
      },
    });
    const c = await rawClient(url);
    const known = await c.request({ kind: 'command', id: 1, entity: { type: 'counter', id: 'a' }, command: 'get' });
    const unknown = await c.request({ kind: 'command', id: 2, entity: { type: 'no-such-type', id: 'a' }, command: 'get' });
    const unknownCommand = await c.request({ kind: 'command', id: 3, entity: { type: 'counter', id: 'a' }, command: 'no-such-command' });
    const subKnown = await c.request({ kind: 'subscribe', id: 4, entity: { type: 'counter', id: 'a' }, state: true });
    const subUnknown = await c.request({ kind: 'subscribe', id: 5, entity: { type: 'no-such-type', id: 'a' }, state: true });
    const subStateless = await c.request({ kind: 'subscribe', id: 6, entity: { type: 'greeter', id: 'a' }, events: true });
    for (const answer of [known, unknown, unknownCommand, subKnown, subUnknown, subStateless]) {
      expect(answer).toMatchObject({ kind: 'error', error: { code: 'FORBIDDEN' } });
    }
    // Same answer, and the same message shape, whether the type exists or not.
    expect((unknown['error'] as { message: string }).message).toBe('not allowed: get on no-such-type');
    // The hook saw the names as sent, the unknown ones too.
    expect(requests).toEqual([
      { action: 'command', entityType: 'counter', entityId: 'a', command: 'get', input: undefined },
      { action: 'command', entityType: 'no-such-type', entityId: 'a', command: 'get', input: undefined },
      { action: 'command', entityType: 'counter', entityId: 'a', command: 'no-such-command', input: undefined },
      { action: 'subscribe', entityType: 'counter', entityId: 'a', events: false, state: true },
      { action: 'subscribe', entityType: 'no-such-type', entityId: 'a', events: false, state: true },
      { action: 'subscribe', entityType: 'greeter', entityId: 'a', events: true, state: false },
    ]);
  });

  it('once authorized, an unknown type, a bad id or a stateless subscription get their own errors, and the requests are let go', async () => {
    const pending: ((ok: boolean) => void)[] = [];
    const { url, gateway } = await serve({ authorize: () => new Promise<boolean>((answer) => pending.push(answer)) });
    const c = await rawClient(url);
    const answers = [
      c.request({ kind: 'command', id: 1, entity: { type: 'no-such-type', id: 'a' }, command: 'get' }),
      c.request({ kind: 'command', id: 2, entity: { type: 'counter', id: '' }, command: 'get' }),
      c.request({ kind: 'subscribe', id: 3, entity: { type: 'no-such-type', id: 'a' }, events: true }),
      c.request({ kind: 'subscribe', id: 4, entity: { type: 'greeter', id: 'a' }, events: true }),
    ];
    for (let i = 0; i < 1000 && pending.length < 4; i++) await turn();
    // All four reached the hook, the unknown type too.
    expect(pending).toHaveLength(4);
    for (const answer of pending) answer(true);
    const [a, b, d, e] = await Promise.all(answers);
    expect(a).toMatchObject({ kind: 'error', id: 1, error: { code: 'UNKNOWN_ENTITY_TYPE' } });
    expect(b).toMatchObject({ kind: 'error', id: 2, error: { code: 'INVALID_ENTITY_ID' } });
    expect(d).toMatchObject({ kind: 'error', id: 3, error: { code: 'UNKNOWN_ENTITY_TYPE' } });
    expect(e).toMatchObject({ kind: 'error', id: 4, error: { code: 'NOT_SUBSCRIBABLE' } });
    // Nothing stays in flight or counted as a subscription: the same ids serve again, and close() does not wait.
    expect(c.frames.filter((f) => f.kind !== 'error')).toEqual([]);
    const again = c.request({ kind: 'command', id: 1, entity: { type: 'counter', id: 'a' }, command: 'get' });
    for (let i = 0; i < 1000 && pending.length < 5; i++) await turn();
    expect(pending).toHaveLength(5);
    pending[4]?.(true);
    expect(await again).toMatchObject({ kind: 'reply', id: 1, result: 0 });
    await gateway.close();
  });

  it('a throwing or non-boolean authorize hook refuses (INTERNAL_ERROR, FORBIDDEN) without leaking details', async () => {
    const { url } = await serve({
      authorize: (_p, request) => {
        if (request.action === 'command' && request.command === 'add') throw new Error('policy store exploded');
        return 'yes' as unknown as boolean;
      },
    });
    const c = await rawClient(url);
    const thrown = await c.request({ kind: 'command', id: 1, entity: { type: 'counter', id: 'a' }, command: 'add', input: { n: 1 } });
    expect(thrown).toEqual({ kind: 'error', id: 1, error: { code: 'INTERNAL_ERROR', message: 'internal error' } });
    // Only `true` allows: a truthy string is a refusal.
    expect(await c.request({ kind: 'command', id: 2, entity: { type: 'counter', id: 'a' }, command: 'get' })).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });
});

describe('authentication that does not decide', () => {
  /** A hook that hangs for the token 'hang' (until the test settles it) and decides at once otherwise. */
  function hangingAuthenticate(): { hook: (req: IncomingMessage) => Promise<{ user: string } | undefined>; hung: ((p: { user: string }) => void)[] } {
    const hung: ((p: { user: string }) => void)[] = [];
    const hook = (req: IncomingMessage): Promise<{ user: string } | undefined> =>
      requestToken(req) === 'hang' ? new Promise((resolve) => hung.push(resolve)) : Promise.resolve(authenticate(req));
    return { hook, hung };
  }

  /** A raw TCP client that sends a WebSocket upgrade request with `token` and nothing more. */
  function rawUpgrade(url: string, token: string): Socket {
    const { hostname, port, pathname } = new URL(url);
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.on('error', () => {});
    socket.write(
      `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Protocol: ${SUBPROTOCOL_JSON}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    return socket;
  }

  /** A client's (masked) text frame, for payloads under 126 bytes. */
  function maskedTextFrame(text: string): Buffer {
    const payload = Buffer.from(text);
    const mask = randomBytes(4);
    const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
    return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
  }

  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 1000 && !condition(); i++) await turn();
    expect(condition()).toBe(true);
  }

  it('refuses with HTTP 503 AUTHENTICATION_TIMEOUT after authenticateTimeoutMs, and the place under maxConnections comes back', async () => {
    const { hook, hung } = hangingAuthenticate();
    const { url, clock, gateway } = await serve({ authenticate: hook, authenticateTimeoutMs: 2000, limits: { maxConnections: 1 } });
    const waiting = upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer hang' });
    await until(() => hung.length === 1);
    // The undecided upgrade holds the only place.
    expect(await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer alice-token' })).toMatchObject({ status: 503 });
    clock.advance(1999);
    await turn();
    clock.advance(1);
    const timedOut = await waiting;
    expect(timedOut).toMatchObject({ status: 503, upgraded: false });
    expect(JSON.parse(timedOut.body)).toEqual({ code: 'AUTHENTICATION_TIMEOUT', message: 'authentication was not decided within 2000 ms' });
    // A late answer changes nothing: no connection appears, and the place is counted once.
    (hung[0] as (p: { user: string }) => void)({ user: 'late' });
    await turn();
    expect(gateway.connections).toBe(0);
    expect(await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer alice-token' })).toMatchObject({ status: 101, upgraded: true });
  });

  it.each(['closes its end (FIN)', 'resets the connection'] as const)(
    'a client that %s while being authenticated gives its place back at once; the late answer is ignored',
    async (how) => {
      const { hook, hung } = hangingAuthenticate();
      const { url, gateway } = await serve({ authenticate: hook, authenticateTimeoutMs: 60_000, limits: { maxConnections: 1 } });
      const socket = rawUpgrade(url, 'hang');
      await until(() => hung.length === 1);
      expect(await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer alice-token' })).toMatchObject({ status: 503 });
      if (how === 'closes its end (FIN)') socket.end();
      else socket.resetAndDestroy();
      // No clock is advanced: the hang-up itself frees the place.
      let outcome = { status: 0, body: '', upgraded: false };
      for (let i = 0; i < 50 && !outcome.upgraded; i++) outcome = await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer alice-token' });
      expect(outcome).toMatchObject({ status: 101, upgraded: true });
      (hung[0] as (p: { user: string }) => void)({ user: 'gone' });
      await turn();
      await until(() => gateway.connections === 0);
    },
  );

  it('frames a client sends before its upgrade is answered are not lost; more than 64 KiB of them refuse it (HTTP 413)', async () => {
    const { hook, hung } = hangingAuthenticate();
    const { url, gateway } = await serve({ authenticate: hook, limits: { maxConnections: 1 } });
    // A client that does not wait for the 101 (RFC 6455 says it should): its ping arrives early.
    const eager = rawUpgrade(url, 'hang');
    let received = Buffer.alloc(0);
    eager.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    await until(() => hung.length === 1);
    eager.write(maskedTextFrame(JSON.stringify({ kind: 'ping', id: 'early' })));
    await turn();
    (hung[0] as (p: { user: string }) => void)({ user: 'eager' });
    await until(() => received.includes('"pong"'));
    const text = received.toString('latin1');
    expect(text.startsWith('HTTP/1.1 101')).toBe(true);
    expect(text).toContain('{"kind":"pong","id":"early"}');
    eager.destroy();
    await until(() => gateway.connections === 0);
    // One that floods before the answer is refused, and its place comes back.
    const flood = rawUpgrade(url, 'hang');
    let closed = false;
    let answer = '';
    flood.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    flood.on('close', () => (closed = true));
    await until(() => hung.length === 2);
    flood.write(Buffer.alloc(65 * 1024));
    await until(() => closed);
    expect(answer.startsWith('HTTP/1.1 413')).toBe(true);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      code: 'EARLY_DATA_TOO_LARGE',
      message: 'more than 65536 bytes were sent before the upgrade was answered',
    });
    let outcome = { status: 0, body: '', upgraded: false };
    for (let i = 0; i < 50 && !outcome.upgraded; i++) outcome = await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer alice-token' });
    expect(outcome).toMatchObject({ status: 101, upgraded: true });
  });

  it('the bytes that arrive with the upgrade request itself count towards the 64 KiB', async () => {
    const { hook, hung } = hangingAuthenticate();
    const { url, server, gateway } = await serve({ authenticate: hook, limits: { maxConnections: 1 } });
    const heads: number[] = [];
    server.on('upgrade', (_req: IncomingMessage, _socket: unknown, head: Buffer) => heads.push(head.length));
    const { hostname, port, pathname } = new URL(url);
    const pipelined = 66 * 1024;
    // The upgrade request and, in the same write, more than 64 KiB of frames that did not wait for the 101.
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.on('error', () => {});
    let answer = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.write(
      Buffer.concat([
        Buffer.from(
          `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
            `Sec-WebSocket-Protocol: ${SUBPROTOCOL_JSON}\r\nAuthorization: Bearer hang\r\n\r\n`,
        ),
        Buffer.alloc(pipelined),
      ]),
    );
    await until(() => hung.length === 1 && heads.length === 1);
    // What makes this case: what came after the head is under the bound on its own.
    expect(pipelined - (heads[0] as number)).toBeLessThan(64 * 1024);
    await until(() => closed);
    expect(answer.startsWith('HTTP/1.1 413')).toBe(true);
    expect(answer).toContain('"code":"EARLY_DATA_TOO_LARGE"');
    // Its place under maxConnections came back; the hook's late answer makes no connection.
    (hung[0] as (p: { user: string }) => void)({ user: 'late' });
    expect(await upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer alice-token' })).toMatchObject({ status: 101, upgraded: true });
    await until(() => gateway.connections === 0);
  });

  it('close() refuses upgrades still being authenticated (HTTP 503 SHUTTING_DOWN) instead of waiting for the hook', async () => {
    const { hook, hung } = hangingAuthenticate();
    const { url, gateway } = await serve({ authenticate: hook });
    const waiting = upgradeOutcome(url, [SUBPROTOCOL_JSON], { authorization: 'Bearer hang' });
    await until(() => hung.length === 1);
    await gateway.close();
    const refused = await waiting;
    expect(refused).toMatchObject({ status: 503, upgraded: false });
    expect(JSON.parse(refused.body).code).toBe('SHUTTING_DOWN');
    (hung[0] as (p: { user: string }) => void)({ user: 'late' });
    await turn();
    expect(gateway.connections).toBe(0);
  });

  it('authenticateTimeoutMs must be a finite number > 0', async () => {
    const { runtime } = await serve();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10' as unknown as number]) {
      await expect(createGateway({ runtime, port: 0, authenticateTimeoutMs: bad })).rejects.toMatchObject({ code: 'INVALID_OPTION', field: 'authenticateTimeoutMs' });
    }
  });
});

describe('authorization that answers later', () => {
  it('commands to one entity run in the order they were sent, whatever order an async authorize answers in', async () => {
    const pending: { request: AuthorizeRequest; answer: (ok: boolean) => void }[] = [];
    const { url } = await serve({ authorize: (_p, request) => new Promise<boolean>((answer) => pending.push({ request, answer })) });
    const c = await rawClient(url);
    const first = c.request({ kind: 'command', id: 1, entity: { type: 'counter', id: 'o' }, command: 'add', input: { n: 1 } });
    const second = c.request({ kind: 'command', id: 2, entity: { type: 'counter', id: 'o' }, command: 'add', input: { n: 10 } });
    const other = c.request({ kind: 'command', id: 3, entity: { type: 'counter', id: 'p' }, command: 'add', input: { n: 100 } });
    for (let i = 0; i < 1000 && pending.length < 3; i++) await turn();
    expect(pending).toHaveLength(3);
    // Answered last first: the second command's check and the other entity's finish first.
    pending[2]?.answer(true);
    pending[1]?.answer(true);
    // Another entity does not wait for this one's checks.
    expect(await other).toMatchObject({ kind: 'reply', id: 3, result: 100 });
    pending[0]?.answer(true);
    // In order: 1, then 1 + 10. Reversed it would have been 10, then 11.
    expect(await first).toMatchObject({ kind: 'reply', id: 1, result: 1 });
    expect(await second).toMatchObject({ kind: 'reply', id: 2, result: 11 });
  });

  it('a denial or a failed check waits its turn too, and later requests still run in order', async () => {
    const pending: ((ok: boolean | Error) => void)[] = [];
    const { url } = await serve({
      authorize: () => new Promise<boolean>((resolve, reject) => pending.push((ok) => (ok instanceof Error ? reject(ok) : resolve(ok)))),
    });
    const c = await rawClient(url);
    const answers = [1, 2, 3, 4].map((id) => c.request({ kind: 'command', id, entity: { type: 'counter', id: 'd' }, command: 'add', input: { n: id } }));
    for (let i = 0; i < 1000 && pending.length < 4; i++) await turn();
    pending[3]?.(true);
    pending[2]?.(new Error('policy store down'));
    pending[1]?.(false);
    await turn();
    pending[0]?.(true);
    const [a, b, d, e] = await Promise.all(answers);
    expect(a).toMatchObject({ kind: 'reply', result: 1 });
    expect(b).toMatchObject({ kind: 'error', error: { code: 'FORBIDDEN' } });
    expect(d).toMatchObject({ kind: 'error', error: { code: 'INTERNAL_ERROR' } });
    expect(e).toMatchObject({ kind: 'reply', result: 5 });
  });

  it('with an input schema that validates asynchronously too, commands to one entity still run in the order they were sent', async () => {
    const authorizations: ((ok: boolean) => void)[] = [];
    const validations = new Map<number, () => void>();
    const { url, runtime } = await serve({ authorize: () => new Promise<boolean>((answer) => authorizations.push(answer)) });
    const slowNumber: StandardSchemaV1<number, number> = {
      '~standard': { version: 1, vendor: 'test', validate: (v) => new Promise((resolve) => validations.set(Number(v), () => resolve({ value: Number(v) }))) },
    };
    runtime.register(
      eventSourcedEntity('digits')
        .initialState(() => '')
        .events<{ type: 'Appended'; d: number }>({ Appended: (s, e) => s + String(e.d) })
        .command('append', slowNumber, (_s, d, ctx) => ctx.emit({ type: 'Appended', d }).thenReply((s) => s)),
    );
    const c = await rawClient(url);
    const answers = [1, 2, 3, 4, 5].map((d) => c.request({ kind: 'command', id: d, entity: { type: 'digits', id: 'x' }, command: 'append', input: d }));
    for (let i = 0; i < 1000 && authorizations.length < 5; i++) await turn();
    // Authorizations answer in one order, validations in another; neither is the order sent.
    for (const i of [4, 2, 0, 3, 1]) authorizations[i]?.(true);
    for (let i = 0; i < 1000 && validations.size < 5; i++) await turn();
    for (const d of [3, 5, 1, 4, 2]) validations.get(d)?.();
    expect((await Promise.all(answers)).map((a) => a['result'])).toEqual(['1', '12', '123', '1234', '12345']);
  });
});
