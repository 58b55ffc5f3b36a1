// The `beamstate/client` entry in a real browser: src/client.ts bundled by esbuild for the browser,
// loaded by a page in headless Chromium, talking to a gateway over the browser's own WebSocket.
// Chromium is driven over the DevTools protocol (fixtures/chromium.ts); the page's side of the
// scenario is fixtures/browser-scenario.ts. The page tests are skipped where Chromium is not
// installed; the bundle's composition is checked everywhere.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type FrameFormat, requestToken } from '../../src/index.js';
import { AUTH_SUBPROTOCOL_PREFIX } from '../../src/gateway/protocol.js';
import { CHROMIUM, Chromium, type Page } from './fixtures/chromium.js';
import type * as Scenario from './fixtures/browser-scenario.js';
import { onCleanup, serve, type Served } from '../gateway/support.js';

const clientEntry = fileURLToPath(new URL('../../src/client.ts', import.meta.url));
const scenarioFile = fileURLToPath(new URL('./fixtures/browser-scenario.ts', import.meta.url));

const TOKEN = 'ada-token';
const users: Record<string, { user: string }> = { [TOKEN]: { user: 'ada' } };

/** What the page may fetch. `ws` is mapped to a trap: a request for it means the bundle tried to load it. */
const ALLOWED = new Set(['/', '/client.js', '/scenario.js', '/favicon.ico']);
const WS_TRAP = '/must-not-load/ws.js';
const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>beamstate client</title>
<script type="importmap">${JSON.stringify({ imports: { ws: WS_TRAP } })}</script>
</head><body></body></html>`;

/** Every module of src/ that the browser bundle may hold. */
const CLIENT_MODULES = [
  'src/actors/clock.ts',
  'src/actors/errors.ts',
  'src/actors/exit-reason.ts',
  'src/client.ts',
  'src/client/backoff.ts',
  'src/client/client.ts',
  'src/client/codec.ts',
  'src/client/errors.ts',
  'src/client/subscription.ts',
  'src/errors.ts',
  'src/gateway/protocol.ts',
];

interface Bundle {
  code: string;
  metafile: Metafile;
}

/** src/client.ts for the browser, in memory. `ws` stays out: the browser has a WebSocket, and the client imports `ws` only where none exists. */
async function bundleClient(): Promise<Bundle> {
  const result = await build({
    entryPoints: [clientEntry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: ['ws'],
  });
  return { code: (result.outputFiles[0] as { text: string }).text, metafile: result.metafile };
}

/** The page's scenario, from TypeScript to a module of its own (it imports only types, and /client.js at run time). */
async function scenarioModule(): Promise<string> {
  const { code } = await transform(await readFile(scenarioFile, 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022' });
  return code;
}

/** Calls one step of the scenario in the page, typed by the scenario module. */
function step<K extends keyof typeof Scenario>(
  page: Page,
  name: K,
  ...args: Parameters<(typeof Scenario)[K]>
): Promise<Awaited<ReturnType<(typeof Scenario)[K]>>> {
  return page.evaluate(`import('/scenario.js').then((m) => m[${JSON.stringify(name)}](...${JSON.stringify(args)}))`);
}

// Needs no browser: esbuild alone says what a browser bundle of the client holds.
describe('the client bundled for a browser', () => {
  it('bundles with nothing of Node: no ws, pg or node: modules, and ws only as an import never taken in a browser', async () => {
    const client = await bundleClient();
    const inputs = Object.keys(client.metafile.inputs);
    expect(inputs.filter((f) => /node_modules\/(ws|pg[^/]*|@electric-sql)\//.test(f) || f.startsWith('node:'))).toEqual([]);
    expect(inputs.some((f) => f.startsWith('node_modules/msgpackr/'))).toBe(true); // bundled: msgpack works in the page
    // The client's own modules and nothing else of src/ (a new one belongs here only if the client needs it).
    expect(inputs.filter((f) => f.startsWith('src/')).sort()).toEqual(CLIENT_MODULES);
    const output = Object.values(client.metafile.outputs)[0];
    expect(output?.imports).toEqual([{ path: 'ws', kind: 'dynamic-import', external: true }]);
    expect(client.code).not.toMatch(/["']node:/);
  });
});

describe.runIf(existsSync(CHROMIUM))('the client in a real browser (headless Chromium)', () => {
  let chromium: Chromium | undefined;
  let client: Bundle;
  let scenario: string;

  beforeAll(async () => {
    [client, scenario] = await Promise.all([bundleClient(), scenarioModule()]);
    chromium = await Chromium.launch();
  });

  afterAll(async () => {
    await chromium?.close();
  });

  interface Session extends Served {
    page: Page;
    /** Paths the page requested over HTTP (WebSocket upgrades not included). */
    requests: string[];
    /** How each upgrade presented its token, as the authenticate hook saw it. */
    upgrades: { token: string | undefined; protocols: string; url: string | undefined }[];
    /** `user:action:entity` for every request authorized. */
    authorized: string[];
  }

  /** A gateway with authentication on an HTTP server that also serves the page, and a tab showing that page. */
  async function open(): Promise<Session> {
    const requests: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0] as string;
      requests.push(path);
      const body = path === '/' ? html : path === '/client.js' ? client.code : path === '/scenario.js' ? scenario : undefined;
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': path === '/' ? 'text/html' : 'text/javascript', 'cache-control': 'no-store' }).end(body);
    });
    const upgrades: Session['upgrades'] = [];
    const authorized: string[] = [];
    const served = await serve({
      server,
      authenticate: (req) => {
        upgrades.push({ token: requestToken(req), protocols: String(req.headers['sec-websocket-protocol'] ?? ''), url: req.url });
        return users[requestToken(req) ?? ''];
      },
      authorize: (principal, request) => {
        authorized.push(`${(principal as { user: string }).user}:${request.action}:${request.entityId}`);
        return true;
      },
    });
    if (chromium === undefined) throw new Error('Chromium did not start');
    const page = await chromium.newPage(served.url.replace(/^ws:/, 'http:'));
    onCleanup(() => page.close());
    return { ...served, page, requests, upgrades, authorized };
  }

  /** Nothing but the page, the bundle and the scenario was fetched: in particular not `ws`. */
  function expectOnlyTheBundleFetched(s: Session): void {
    expect(s.requests.filter((p) => !ALLOWED.has(p))).toEqual([]);
    expect(s.requests).toContain('/client.js');
  }

  it('runs in a page, not in Node: no process, no Buffer, a platform WebSocket', async () => {
    const s = await open();
    expect(await step(s.page, 'environment')).toMatchObject({ process: 'undefined', Buffer: 'undefined', WebSocket: 'function', userAgent: expect.stringContaining('HeadlessChrome') });
    expectOnlyTheBundleFetched(s);
  });

  it('sends the token as a subprotocol; the principal reaches authorize; a wrong token is CONNECT_FAILED', async () => {
    const s = await open();
    expect(await step(s.page, 'connectWith', s.url, TOKEN)).toEqual({ status: 'open', format: 'json' });
    expect(s.upgrades).toHaveLength(1);
    expect(s.upgrades[0]).toMatchObject({ token: TOKEN, url: '/' }); // not in the query
    expect(s.upgrades[0]?.protocols.split(/,\s*/)).toEqual(['beamstate.v1.json', `${AUTH_SUBPROTOCOL_PREFIX}${Buffer.from(TOKEN).toString('base64url')}`]);
    expect(await step(s.page, 'commands', s.url, TOKEN, 'json', 'auth')).toMatchObject({ got: 15 });
    expect(s.authorized.every((a) => a.startsWith('ada:command:auth'))).toBe(true);
    expect(s.authorized.length).toBeGreaterThan(0);

    // Refused with HTTP 401: a browser never tells the status, so none is reported.
    const refused = await step(s.page, 'connectWith', s.url, 'wrong-token');
    expect(refused).toMatchObject({ code: 'CONNECT_FAILED', beamstate: true, connectFailed: true, remote: false });
    expect(s.upgrades.at(-1)?.token).toBe('wrong-token');

    // A browser cannot set headers: asking for it fails at once, before any upgrade; the query works.
    const upgrades = s.upgrades.length;
    expect(await step(s.page, 'connectWith', s.url, TOKEN, 'header')).toMatchObject({ code: 'INVALID_OPTION', beamstate: true });
    expect(s.upgrades).toHaveLength(upgrades);
    expect(await step(s.page, 'connectWith', s.url, TOKEN, 'query')).toEqual({ status: 'open', format: 'json' });
    expect(s.upgrades.at(-1)).toMatchObject({ token: TOKEN, url: `/?token=${TOKEN}`, protocols: 'beamstate.v1.json' });
    expectOnlyTheBundleFetched(s);
  });

  it.each(['json', 'msgpack'] as const)('asks commands in %s: replies in order, COMMAND_FAILED, INVALID_COMMAND with issues, CLIENT_CLOSED', async (format: FrameFormat) => {
    const s = await open();
    const r = await step(s.page, 'commands', s.url, TOKEN, format, `cmd-${format}`);
    expect(r).toMatchObject({ wireFormat: format, added: [2, 5], pipelined: [6, 8, 11, 15], got: 15, after: 15, pingIsNumber: true, status: 'closed' });
    expect(r.failed).toMatchObject({ code: 'COMMAND_FAILED', message: 'refused', remote: true, beamstate: true, details: { reason: 'because' } });
    expect(r.invalid).toMatchObject({ code: 'INVALID_COMMAND', remote: true });
    expect((r.invalid as Scenario.Failure).issues).toEqual([expect.objectContaining({ path: ['n'] })]);
    expect(r.unknownCommand).toMatchObject({ code: 'UNKNOWN_COMMAND', remote: true });
    expect(r.closed).toMatchObject({ code: 'CLIENT_CLOSED', remote: false });
    // The browser's commands reached the entity, and only the valid ones changed it.
    expect(await s.runtime.refFor('counter', `cmd-${format}`).ask('get')).toBe(15);
    expectOnlyTheBundleFetched(s);
  });

  it.each([
    ['json', 'iterator'],
    ['msgpack', 'listener'],
  ] as const)('subscribes in %s (%s): the current state first, then the changes of other clients, in order', async (format, style) => {
    const s = await open();
    const id = `sub-${format}`;
    const other = await connect(s.url, { token: TOKEN });
    onCleanup(() => other.close());
    await s.runtime.refFor('counter', id).ask('add', { n: 2 }); // before the subscription: version 1

    await step(s.page, 'watch', s.url, TOKEN, format, id, style);
    expect(await other.ask('counter', id, 'add', { n: 3 })).toBe(5); // a Node client over the gateway
    expect(await s.runtime.refFor('counter', id).ask('add', { n: 4 })).toBe(9); // the runtime itself
    const updates = await step(s.page, 'seen', id, 5, 5000);
    const strip = updates.map((u) => (u.kind === 'state' ? { state: u.state, version: u.version } : { event: u.event, sequenceNr: u.sequenceNr }));
    expect(strip).toEqual([
      { state: { value: 2 }, version: 1 },
      { event: { type: 'Added', n: 3 }, sequenceNr: 2 },
      { state: { value: 5 }, version: 2 },
      { event: { type: 'Added', n: 4 }, sequenceNr: 3 },
      { state: { value: 9 }, version: 3 },
    ]);
    expect(updates.every((u) => u.entityType === 'counter' && u.entityId === id)).toBe(true);
    expect(await step(s.page, 'unwatch', id)).toEqual({ active: false, status: 'closed' });
    expect(s.authorized).toContain(`ada:subscribe:${id}`);
    expectOnlyTheBundleFetched(s);
  });

  it('the ws trap works: a page that did import ws would have fetched it', async () => {
    // Proof that expectOnlyTheBundleFetched can fail: the import map sends `ws` to a URL of ours.
    const s = await open();
    await s.page.evaluate(`import('ws').catch(() => {})`);
    expect(s.requests).toContain(WS_TRAP);
  });
});
