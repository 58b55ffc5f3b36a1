// Test support for the proxy: the Kalix SDK user function as a child process (real kills), and
// a proxy + runtime + gateway on a store (PostgreSQL when DATABASE_URL is set, else in memory).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { type ActorSystem, createActorSystem, createGateway, EntityRuntime, type Gateway, silentLogger } from '../../src/index.js';
import { createStore, type Store } from '../../src/persistence/index.js';
import { type KalixProxy, type ProxyOptions, startProxy } from '../../src/proxy/index.js';
import { compileDescriptor, FIXTURES, linkProtoc } from './sdk-setup.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export function onCleanup(fn: () => Promise<unknown> | unknown): void {
  cleanups.push(fn);
}

/** Why the SDK tests cannot run here (no protoc), or null. Computed once per file. */
export const sdkUnavailable: string | null = linkProtoc();

/** A running user function: the unmodified Kalix SDK serving a fixture, in a child process. */
export interface UserFunction {
  readonly port: number;
  readonly address: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr. */
  readonly output: () => string;
  /** kill -9; resolves once it has exited. */
  kill(): Promise<void>;
}

const descriptors = new Map<string, string>();

/** A port free now (the SDK cannot listen on port 0: it takes 0 for "unset" and binds 8080). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts fixture `name` (test/proxy/fixtures/<name>/index.js) on `port` (default: a free one). */
export async function startUserFunction(name: string, port?: number, env: Record<string, string> = {}): Promise<UserFunction> {
  port ??= await freePort();
  let desc = descriptors.get(name);
  if (desc === undefined) descriptors.set(name, (desc = compileDescriptor(name)));
  const child = spawn(process.execPath, [join(FIXTURES, name, 'index.js'), String(port)], {
    env: { ...process.env, KALIX_DESCRIPTOR: desc, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const bound = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`user function ${name} exited (${code}) before listening: ${out}`)));
  });
  const uf: UserFunction = {
    port: bound,
    address: `127.0.0.1:${bound}`,
    child,
    output: () => out,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  onCleanup(() => uf.kill());
  return uf;
}

export interface ProxyHarness {
  readonly system: ActorSystem;
  readonly runtime: EntityRuntime;
  readonly proxy: KalixProxy;
  readonly gateway: Gateway<unknown>;
  readonly url: string;
  /** Stops gateway, runtime, proxy and system (not the store). */
  stop(): Promise<void>;
}

/** A store for the test: PostgreSQL with DATABASE_URL (its tables shared: use unique ids), else in memory. */
export async function testStore(): Promise<Store> {
  const url = process.env.DATABASE_URL;
  const store = await createStore(url ? { kind: 'postgres', connectionString: url, logger: silentLogger } : { kind: 'memory', logger: silentLogger });
  onCleanup(() => store.close());
  return store;
}

/** Proxy, runtime and gateway (on a free port) for the user function at `address`. */
export async function startHarness(address: string, store: Store, options: Partial<ProxyOptions> = {}): Promise<ProxyHarness> {
  const system = createActorSystem({ logger: silentLogger });
  const runtime = new EntityRuntime(system, { store });
  let proxy: KalixProxy;
  try {
    proxy = await startProxy({ userFunction: address, runtime, ...options });
  } catch (err) {
    await system.stop();
    throw err;
  }
  const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1' });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await gateway.close();
    await runtime.stop();
    await proxy.close();
    await system.stop();
  };
  onCleanup(stop);
  return { system, runtime, proxy, gateway, url: gateway.url as string, stop };
}

let unique = 0;
/** An entity id no other run of the tests uses (the PostgreSQL tables are shared). */
export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now()}-${unique++}`;
}
