/**
 * `beamstate proxy --user-function <host:port>`: the Kalix proxy as a process. Loaded by the
 * beamstate CLI (src/gateway/cli.ts) only for this command, so `beamstate serve` never loads gRPC.
 *
 * Reserves both ports, waits for the user function to accept a connection, opens the store
 * (embedded PGlite by default, PostgreSQL with `--database` or `DATABASE_URL`, as `beamstate
 * serve`), discovers the user function, then
 * serves its components over the gateway and the gRPC front. Prints one line saying where;
 * stops cleanly on SIGINT and SIGTERM (the gRPC front and the gateway drain, the runtime stops,
 * the user function is told ProxyTerminated, the store closes; exit code 0). Usage errors, a
 * port in use, a store that cannot open and a user function that cannot be reached or
 * discovered are one line on stderr and exit code 1 (the CLI's own catch prints them).
 */
import { Client, credentials, type Metadata } from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createActorSystem } from '../actors/system.js';
import { EntityRuntime } from '../entities/runtime.js';
import { isBeamstateError } from '../errors.js';
import { requestToken } from '../gateway/auth.js';
import { listenError, onStopRequest, reservePort, type ReservedPort, stopAndExit, type StopReason } from '../gateway/cli-process.js';
import { openStore } from '../gateway/cli-store.js';
import { CliError } from '../gateway/load-module.js';
import { createGateway, type Gateway } from '../gateway/server.js';
import { createLogger } from '../logger.js';
import type { Store } from '../persistence/store.js';
import { parseProxyArgs, PROXY_USAGE, type ProxyCliOptions, type StoreChoice } from './cli-options.js';
import { bearerTokenOf, type GrpcFront, startGrpcFront } from './grpc-front.js';
import { type KalixProxy, startProxy } from './proxy.js';

/** Runs `beamstate proxy` with the arguments after `proxy`. */
export async function proxyMain(argv: readonly string[]): Promise<void> {
  const parsed = parseProxyArgs(argv);
  if (parsed.kind === 'help') return void process.stdout.write(PROXY_USAGE);
  await run(parsed.options);
}

async function run(o: ProxyCliOptions): Promise<void> {
  const logger = createLogger({ level: o.verbose ? 'debug' : 'warn' });

  // Signals are taken from here on: one that arrives while the store opens or the user function
  // is discovered stops the CLI once that step is done, cleanly, instead of killing it halfway.
  let ready = false;
  let requested: StopReason | null = null;
  onStopRequest((reason) => {
    if (requested !== null) {
      process.stderr.write(`beamstate: ${reason} again, exiting now\n`);
      process.exit(1);
    }
    requested = reason;
    if (ready) shutdown(reason);
  });

  // Both ports first: one in use is told before a store (a PGlite folder) is opened.
  const reserved: ReservedPort[] = [];
  const release = async (): Promise<void> => {
    for (const r of reserved.splice(0)) await r.release();
  };
  let store: Store | undefined;
  let proxy: KalixProxy | undefined;
  let gateway: Gateway<unknown> | undefined;
  let front: GrpcFront | undefined;
  const system = createActorSystem({ logger });
  const stopAll = async (): Promise<void> => {
    // Clients first (both fronts drain what is in flight), then the entities, then the user
    // function's connection (ProxyTerminated), then the store.
    await front?.close();
    await gateway?.close();
    await release();
    await system.stop(); // stops the runtime: queued commands finish
    await proxy?.close();
    await store?.close();
  };
  const shutdown = (reason: StopReason): void => stopAndExit(reason, stopAll);

  try {
    const gatewayPort = await reservePort(o.port, o.host);
    reserved.push(gatewayPort);
    const grpcPort = await reservePort(o.grpcPort, o.host).catch((err: unknown) => {
      throw err instanceof CliError ? new CliError(err.message.replace('--port', '--grpc-port')) : err;
    });
    reserved.push(grpcPort);

    // The user function first: one that is not there (yet) is told without opening a store.
    await reachable(o.userFunction, o.connectTimeoutMs);
    if (requested !== null) return shutdown(requested);
    store = await openStore(o.store, logger);
    if (requested !== null) return shutdown(requested);
    const runtime = new EntityRuntime(system, { store });
    // Its start-up log (discovery, each unsupported component) only with --verbose: without it, what
    // matters is the one line this command prints, not a JSON record of the same before it.
    proxy = await startProxy({ userFunction: o.userFunction, runtime, connectTimeoutMs: o.connectTimeoutMs, allowUnsupported: o.allowUnsupported, ...(o.verbose ? { logger } : {}) }).catch((err: unknown) => {
      // Unreachable, another protocol version, components it cannot serve: the code says which.
      if (isBeamstateError(err)) throw new CliError(`cannot proxy the user function at ${o.userFunction}: ${err.code}: ${err.message}`);
      throw err;
    });
    for (const u of proxy.unsupported) process.stderr.write(`beamstate: not served (--allow-unsupported): ${u.message}\n`);
    if (requested !== null) return shutdown(requested);

    await release();
    const token = o.token;
    gateway = await createGateway({ runtime, port: gatewayPort.port, host: o.host, logger, ...(token !== undefined ? { authenticate: (req: IncomingMessage): unknown => sameSecret(requestToken(req), token) } : {}) }).catch((err: NodeJS.ErrnoException) => {
      throw listenError(err, gatewayPort.port, o.host); // taken between the release and this listen: rare
    });
    front = await startGrpcFront({ proxy, runtime, port: grpcPort.port, host: o.host, logger, ...(token !== undefined ? { authenticate: (md: Metadata) => sameSecret(bearerTokenOf(md), token) } : {}) }).catch((err: Error) => {
      throw /EADDRINUSE|address already in use/i.test(err.message) ? new CliError(`port ${grpcPort.port} on ${o.host} is in use (choose another with --grpc-port, or 0 for any free port)`) : err;
    });

    const info = proxy.discovered.serviceInfo;
    const fn = [info.serviceName, info.serviceVersion].filter((s) => s !== '').join(' ') || 'user function';
    const lib = info.supportLibraryName === '' ? '' : ` on ${info.supportLibraryName} ${info.supportLibraryVersion}`.trimEnd();
    const types = proxy.entityTypes.map((t) => t.name).join(', ');
    process.stdout.write(
      `beamstate proxy for ${fn}${lib} at ${o.userFunction}: gRPC on ${front.address}, gateway on ${String(gateway.url)} (components: ${types === '' ? 'none' : types}; store: ${describeStore(o.store)})\n`,
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  ready = true;
  if (requested !== null) shutdown(requested);
}

/** Resolves once a gRPC connection to the user function is up; a one-line CliError after `timeoutMs`. */
async function reachable(address: string, timeoutMs: number): Promise<void> {
  const client = new Client(address, credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + timeoutMs, (err) =>
        err ? reject(new CliError(`cannot proxy the user function at ${address}: USER_FUNCTION_UNAVAILABLE: it did not accept a connection within ${timeoutMs} ms`)) : resolve(),
      ),
    );
  } finally {
    client.close();
  }
}

/** Compares a presented token with the secret in time that does not depend on where they differ. */
function sameSecret(presented: string | undefined, secret: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

function describeStore(choice: StoreChoice): string {
  if (choice.kind === 'pglite') return `pglite ${choice.dataDir}`;
  let host = '(unparsed URL)';
  try {
    host = new URL(choice.url).host; // never the credentials
  } catch {
    // keep the placeholder
  }
  return `postgres ${host}${choice.from === 'DATABASE_URL' ? ' (DATABASE_URL)' : ''}`;
}

