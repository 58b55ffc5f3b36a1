// `beamstate proxy` as a child process, in front of the unmodified Kalix SDK shopping cart: it says
// where it listens, serves the cart over gRPC and the gateway on the embedded store, keeps what it
// acknowledged across a restart, stops cleanly on SIGTERM and SIGINT, and tells a usage or
// startup error in one line.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { counterRoot, fileDescriptorSet, startFake, withEntityKey } from './fake-user-function.js';
import { fixtureRoot, serviceClient } from './grpc-client.js';
import { freePort, onCleanup, sdkUnavailable, startUserFunction, uniqueId } from './support.js';

if (sdkUnavailable !== null) console.warn(`skipping the proxy CLI tests: ${sdkUnavailable}`);

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'src', 'gateway', 'cli.ts');
const CART = 'com.example.shoppingcart.ShoppingCartService';
/** The proxy process's first commands (activation, PGlite, the SDK) can exceed the 5 s default waits on a loaded machine. */
const PATIENT = { deadlineMs: 30_000 };
const LINE = /^beamstate proxy for .* at (\S+): gRPC on (\S+), gateway on (ws:\/\/\S+) \(components: ([^;]*); store: (.*)\)$/m;

interface Started {
  readonly child: ChildProcess;
  readonly line: string;
  readonly grpc: string;
  readonly url: string;
  readonly store: string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Env for the CLI: DATABASE_URL only when a test asks for it (the default must be PGlite). */
function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('DATABASE_URL' in extra)) delete env.DATABASE_URL;
  return env;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'proxy', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = LINE.exec(stdout);
      if (m !== null) resolve({ child, line: m[0], grpc: m[2] as string, url: m[3] as string, store: m[5] as string, stderr: () => stderr, exited });
    });
    void exited.then(({ code }) => reject(new Error(`exited with ${code} before listening; stdout: ${stdout}; stderr: ${stderr}`)));
  });
}

/** Runs the CLI to its end: exit code, stdout, stderr. */
async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', cli, 'proxy', ...args], { cwd: root, env: cliEnv(env) });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Where a test that is not about the store keeps it: PostgreSQL when DATABASE_URL is set (cheaper to open than PGlite), else a fresh PGlite folder. */
async function storeArgs(): Promise<string[]> {
  const url = process.env.DATABASE_URL;
  return url ? ['--database', url] : ['--data-dir', join(await tempDir(), 'pglite')];
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'beamstate-proxy-cli-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe.skipIf(sdkUnavailable !== null)('beamstate proxy', () => {
  it('serves the SDK cart over gRPC and the gateway on PGlite, keeps acknowledged commands across a restart, stops on SIGTERM with 0', async () => {
    const uf = await startUserFunction('shopping-cart');
    const data = await tempDir();
    const args = ['--user-function', uf.address, '--grpc-port', '0', '--port', '0', '--data-dir', data];
    const first = await start(args);
    expect(first.line).toMatch(/^beamstate proxy for .* on @kalix-io\/kalix-javascript-sdk \S+ at 127\.0\.0\.1:\d+: gRPC on 127\.0\.0\.1:\d+, gateway on ws:\/\/127\.0\.0\.1:\d+\/ \(components: shopping-cart; store: pglite .+\)$/);
    const id = uniqueId('cli');
    const grpc = serviceClient(fixtureRoot('shopping-cart'), CART, first.grpc, PATIENT);
    onCleanup(() => grpc.close());
    expect(await grpc.call('AddItem', { cartId: id, productId: 'tea', name: 'Tea', quantity: 2 })).toEqual({});
    const client = await connect(first.url, { reconnect: false, timeout: PATIENT.deadlineMs });
    onCleanup(() => client.close());
    expect(await client.ref('shopping-cart', id).ask('AddItem', { productId: 'cake', name: 'Cake', quantity: 1 })).toEqual({});
    expect(await grpc.call('GetCart', { cartId: id })).toEqual({
      items: [
        { productId: 'tea', name: 'Tea', quantity: 2 },
        { productId: 'cake', name: 'Cake', quantity: 1 },
      ],
    });

    first.child.kill('SIGTERM');
    expect({ exit: await first.exited, stderr: first.stderr() }).toMatchObject({ exit: { code: 0, signal: null } }); // stderr shown if not
    expect(first.stderr()).toContain('beamstate: SIGTERM, shutting down');
    expect(first.stderr()).toContain('beamstate: stopped');

    // A new user function too: the state comes from the proxy's journal in the PGlite folder.
    await uf.kill();
    const uf2 = await startUserFunction('shopping-cart');
    const second = await start(['--user-function', uf2.address, '--grpc-port', '0', '--port', '0', '--data-dir', data]);
    const grpc2 = serviceClient(fixtureRoot('shopping-cart'), CART, second.grpc, PATIENT);
    onCleanup(() => grpc2.close());
    expect(await grpc2.call('GetCart', { cartId: id })).toEqual({
      items: [
        { productId: 'tea', name: 'Tea', quantity: 2 },
        { productId: 'cake', name: 'Cake', quantity: 1 },
      ],
    });
    second.child.kill('SIGINT');
    expect({ exit: await second.exited, stderr: second.stderr() }).toMatchObject({ exit: { code: 0, signal: null } }); // stderr shown if not
    expect(second.stderr()).toContain('beamstate: stopped');
  });

  it.skipIf(!process.env.DATABASE_URL)('honours DATABASE_URL (PostgreSQL) and USER_FUNCTION_HOST/PORT', async () => {
    const uf = await startUserFunction('shopping-cart');
    const started = await start(['--grpc-port', '0', '--port', '0'], { DATABASE_URL: process.env.DATABASE_URL, USER_FUNCTION_HOST: '127.0.0.1', USER_FUNCTION_PORT: String(uf.port) });
    expect(started.store).toMatch(/^postgres \S+ \(DATABASE_URL\)$/);
    expect(started.line).not.toContain('@127.0.0.1'); // no credentials in the line
    const grpc = serviceClient(fixtureRoot('shopping-cart'), CART, started.grpc, PATIENT);
    onCleanup(() => grpc.close());
    const id = uniqueId('cli-pg');
    await grpc.call('AddItem', { cartId: id, productId: 'a', name: 'A', quantity: 1 });
    expect(await grpc.call('GetCart', { cartId: id })).toEqual({ items: [{ productId: 'a', name: 'A', quantity: 1 }] });
    started.child.kill('SIGTERM');
    expect({ exit: await started.exited, stderr: started.stderr() }).toMatchObject({ exit: { code: 0, signal: null } }); // stderr shown if not
  });

  it('only beamstate proxy loads gRPC: beamstate serve and the CLI itself never do', async () => {
    const counter = join(root, 'test', 'proxy', 'fixtures', 'count-grpc.cjs');
    const loaded = async (args: string[]): Promise<number> => {
      const out = await run(process.execPath, ['--require', counter, '--import', 'tsx', cli, ...args], { cwd: root, env: cliEnv() }).catch((e: { stderr: string }) => e);
      const m = /grpc modules loaded: (\d+)/.exec(out.stderr);
      if (m === null) throw new Error(`no count in ${out.stderr}`);
      return Number(m[1]);
    };
    const [version, serveHelp, proxyHelp] = await Promise.all([loaded(['--version']), loaded(['serve', '--help']), loaded(['proxy', '--help'])]);
    expect({ version, serveHelp }).toEqual({ version: 0, serveHelp: 0 });
    expect(proxyHelp).toBeGreaterThan(0);
  });

  it('a usage error is one line on stderr and exit 1; --help is the usage on stdout (every option: cli-options.test.ts)', async () => {
    const [missing, unknown, help] = await Promise.all([runCli([]), runCli(['--user-function', '127.0.0.1:8080', '--colour']), runCli(['--help'])]);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'beamstate: proxy needs the user function: beamstate proxy --user-function <host:port> (beamstate proxy --help lists the options)\n' });
    expect(unknown).toEqual({ code: 1, stdout: '', stderr: 'beamstate: unknown option --colour (beamstate proxy --help lists the options)\n' });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: beamstate proxy --user-function <host:port> [options]');
  });

  it('a user function that cannot be reached, a port in use: one line each, exit 1, told before any store is opened', async () => {
    const data = join(await tempDir(), 'pglite');
    const nobody = await freePort();
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise((resolve) => held.close(resolve)));
    const heldPort = (held.address() as AddressInfo).port;
    const [unreachable, taken] = await Promise.all([
      runCli(['--user-function', `127.0.0.1:${nobody}`, '--connect-timeout', '300', '--grpc-port', '0', '--port', '0', '--data-dir', data]),
      runCli(['--user-function', `127.0.0.1:${nobody}`, '--grpc-port', String(heldPort), '--port', '0', '--data-dir', join(data, 'never')]),
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(new RegExp(`^beamstate: cannot proxy the user function at 127\\.0\\.0\\.1:${nobody}: USER_FUNCTION_UNAVAILABLE: [^\\n]*within 300 ms\\n$`));
    // It waited for the user function before opening any store.
    expect(existsSync(data)).toBe(false);
    expect(taken).toEqual({ code: 1, stdout: '', stderr: `beamstate: port ${heldPort} on 127.0.0.1 is in use (choose another with --grpc-port, or 0 for any free port)\n` });
    // The port was refused before any store was opened.
    expect(existsSync(join(data, 'never'))).toBe(false);
  });
});

describe('beamstate proxy and what discovery finds (the scripted fake user function)', () => {
  const components = [
    { componentType: 'kalix.component.eventsourcedentity.EventSourcedEntities', serviceName: 'test.counter.CounterService', entity: { entityType: 'counter' } },
    { componentType: 'kalix.component.view.Views', serviceName: 'test.counter.CounterService' },
  ];
  const descriptorSet = (): Uint8Array => withEntityKey(withEntityKey(fileDescriptorSet(counterRoot), 'Add', 'id'), 'Get', 'id');

  it('another protocol major version, an unsupported component: one line, exit 1', async () => {
    const [v2, withView] = await Promise.all([startFake({ protocolMajorVersion: 2 }), startFake({ components, descriptorSet: descriptorSet() })]);
    const [mismatch, unsupported] = await Promise.all([
      runCli(['--user-function', v2.address, '--grpc-port', '0', '--port', '0', ...(await storeArgs())]),
      runCli(['--user-function', withView.address, '--grpc-port', '0', '--port', '0', ...(await storeArgs())]),
    ]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(new RegExp(`^beamstate: cannot proxy the user function at ${v2.address}: PROTOCOL_VERSION_MISMATCH: the user function speaks Kalix protocol 2\\.1; [^\\n]*\\n$`));
    expect(unsupported.code).toBe(1);
    expect(unsupported.stderr).toMatch(new RegExp(`^beamstate: cannot proxy the user function at ${withView.address}: UNSUPPORTED_COMPONENT: test\\.counter\\.CounterService: component type kalix\\.component\\.view\\.Views is not supported[^\\n]*\\n$`));
  });

  it('--allow-unsupported serves the rest and names what it does not; BEAMSTATE_TOKEN guards both ports', async () => {
    const withView = await startFake({ components, descriptorSet: descriptorSet() });
    const allowed = await start(['--user-function', withView.address, '--allow-unsupported', '--grpc-port', '0', '--port', '0', ...(await storeArgs())], { BEAMSTATE_TOKEN: 's3cret' });
    expect(allowed.stderr()).toContain('beamstate: not served (--allow-unsupported): test.counter.CounterService: component type kalix.component.view.Views is not supported');
    const grpc = serviceClient(counterRoot, 'test.counter.CounterService', allowed.grpc, { ...PATIENT, token: 's3cret' });
    const anonymous = serviceClient(counterRoot, 'test.counter.CounterService', allowed.grpc);
    onCleanup(() => grpc.close());
    onCleanup(() => anonymous.close());
    const id = uniqueId('c'); // unique: the PostgreSQL tables are shared between runs
    expect(await anonymous.call('Add', { id, n: 3 }).catch((e: unknown) => e)).toMatchObject({ code: status.UNAUTHENTICATED });
    expect(await grpc.call('Add', { id, n: 3 })).toEqual({ value: 3 });
    await expect(connect(allowed.url, { reconnect: false })).rejects.toMatchObject({ code: 'CONNECT_FAILED', status: 401 });
    const client = await connect(allowed.url, { reconnect: false, token: 's3cret', timeout: PATIENT.deadlineMs });
    onCleanup(() => client.close());
    expect(await client.ref('counter', id).ask('Get', { id })).toEqual({ value: 3 });
    allowed.child.kill('SIGTERM');
    expect({ exit: await allowed.exited, stderr: allowed.stderr() }).toMatchObject({ exit: { code: 0, signal: null } }); // stderr shown if not
    expect(withView.terminated).toBe(1); // told ProxyTerminated on the way out
  });
});
