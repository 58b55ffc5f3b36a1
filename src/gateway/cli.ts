#!/usr/bin/env node
/**
 * `beamstate serve <module>`: serves the entity definitions a module exports over the gateway,
 * on the embedded PGlite store by default or on PostgreSQL with `--database` (or `DATABASE_URL`).
 * Prints one line saying where it listens; stops cleanly on SIGINT and SIGTERM (the gateway
 * drains, the runtime stops, the store closes, exit code 0), also when started through `npx`.
 * Usage errors, a port in use and a store that cannot open are one line on stderr and exit 1.
 *
 * From this repository without a build: `node --import tsx src/gateway/cli.ts serve examples/shopping-cart.ts`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createActorSystem } from '../actors/system.js';
import { EntityRuntime } from '../entities/runtime.js';
import { createLogger } from '../logger.js';
import type { Store } from '../persistence/store.js';
import { requestToken } from './auth.js';
import { listenError, onStopRequest, reservePort, stopAndExit, type StopReason } from './cli-process.js';
import { openStore, type StoreChoice } from './cli-store.js';
import { CliError, loadServedModule } from './load-module.js';
import { gatewayDefaults } from './options.js';
import { createGateway, type Gateway } from './server.js';

const USAGE = `usage: beamstate serve <module> [options]

Serves the entity definitions <module> exports (each exported definition, or its \`entities\`
array) over WebSockets (protocol beamstate.v1). TypeScript modules load through tsx.

options:
  --port <n>          port to listen on (0: any free port)        default 8080
  --host <address>    interface to listen on                      default 127.0.0.1
  --path <path>       serve only this URL path                    default every path
  --database <url>    PostgreSQL (postgres://user@host:5432/db)   default DATABASE_URL,
                      else embedded PGlite
  --data-dir <dir>    PGlite data folder (PGlite even if DATABASE_URL is set)
                                                                  default .beamstate/pglite
  --token <secret>    require this bearer token (also BEAMSTATE_TOKEN); a module's own
                      \`authenticate\` export takes precedence
  --cluster           join a cluster of nodes sharing the PostgreSQL store (docs/cluster.md);
                      needs --database or DATABASE_URL (PGlite is single-node)
  --node-address <host:port>  the node-to-node endpoint (with --cluster)  default 127.0.0.1:0
  --node-id <id>      this node's id in the cluster (with --cluster)  default a random id
  --observer          serve the observer's page at /observer/, /metrics, /alive and /ready
                      (docs/observer.md); read-only, behind --token when given
  --tracing           OpenTelemetry spans of each command, to the globally registered
                      tracer provider (set one up with node --import; needs
                      @opentelemetry/api; docs/observer.md, Traces)
  --verbose           log at debug level, not only warnings and errors (stderr,
                      one JSON line per record)
  -h, --help          this text
  --version           beamstate's version

environment:
  DATABASE_URL        PostgreSQL to use when neither --database nor --data-dir is given
  BEAMSTATE_TOKEN     the bearer token, when --token is not given
`;

/** Where `see --help` points, at the end of every usage error. */
const HELP = '(beamstate --help lists the options)';

/** The version in the package.json beside dist/ (or src/, run from the repository). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Which store: `--database`, else `--data-dir` (PGlite), else `DATABASE_URL`, else PGlite in the default folder. */
function chooseStore(database: string | undefined, dataDir: string | undefined): StoreChoice {
  if (database !== undefined && dataDir !== undefined) throw new CliError(`give --database or --data-dir, not both ${HELP}`);
  const env = process.env.DATABASE_URL;
  const url = database ?? (dataDir === undefined && env !== undefined && env !== '' ? env : undefined);
  if (url === undefined) return { kind: 'pglite', dataDir: dataDir ?? '.beamstate/pglite' };
  const from = database !== undefined ? '--database' : 'DATABASE_URL';
  if (!/^postgres(ql)?:\/\//.test(url)) throw new CliError(`${from} must be a postgres:// or postgresql:// URL`);
  return { kind: 'postgres', url, from };
}

async function serve(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      path: { type: 'string' },
      database: { type: 'string' },
      'data-dir': { type: 'string' },
      token: { type: 'string' },
      cluster: { type: 'boolean' },
      'node-address': { type: 'string' },
      'node-id': { type: 'string' },
      observer: { type: 'boolean' },
      tracing: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  if (values.help === true) return void process.stdout.write(USAGE);
  if (values.version === true) return void process.stdout.write(`${version()}\n`);
  const file = positionals[0];
  if (file === undefined) throw new CliError(`serve needs a module: beamstate serve <module> [options] ${HELP}`);
  if (positionals.length > 1) throw new CliError(`serve takes one module, got ${positionals.length}: ${positionals.join(' ')} ${HELP}`);
  const port = values.port === undefined ? gatewayDefaults.port : Number(values.port);
  if (values.port === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be an integer from 0 to 65535, got ${values.port}`);
  const host = values.host ?? gatewayDefaults.host;
  const storeChoice = chooseStore(values.database, values['data-dir']);
  const token = values.token ?? process.env.BEAMSTATE_TOKEN;
  const cluster = values.cluster === true ? clusterChoice(storeChoice, values['node-address'], values['node-id']) : undefined;
  // The library's default format (pino's JSON lines on stderr), with --verbose down to debug.
  const logger = createLogger({ level: values.verbose === true ? 'debug' : 'warn' });

  // Signals are taken from here on: one that arrives while the store opens stops the CLI once it
  // is open, cleanly, instead of killing it halfway.
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

  // Before the module loads and the store opens: a port in use is told at once, and no store
  // (no PGlite folder) is opened for a server that cannot listen.
  const reserved = await reservePort(port, host);
  let store: Store | undefined;
  let gateway: Gateway | undefined;
  let observer: { close(): Promise<void> } | undefined;
  let node: import('../cluster/node.js').ClusterNode | undefined;
  const system = createActorSystem({ logger });
  const stopAll = async (): Promise<void> => {
    await observer?.close();
    await gateway?.close();
    await reserved.release();
    await node?.leave(); // hands its shards off before the entities stop
    await system.stop();
    await store?.close();
  };
  const shutdown = (reason: StopReason): void => stopAndExit(reason, stopAll);
  try {
    const served = await loadServedModule(file);
    if (cluster !== undefined) {
      // Loaded only with --cluster: a single node pays nothing for the cluster code.
      const { startClusterNode } = await import('../cluster/node.js');
      node = await startClusterNode({ connectionString: cluster.url, host: cluster.host, port: cluster.port, ...(cluster.nodeId === undefined ? {} : { nodeId: cluster.nodeId }), logger });
    }
    store = await openStore(storeChoice, logger, node?.writeFence);
    if (requested !== null) return shutdown(requested); // stopped while the store opened: never listen
    const runtime = new EntityRuntime(system, { store });
    for (const type of served.types) {
      try {
        runtime.register(type);
      } catch (err) {
        throw new CliError(`cannot serve ${type.name}: ${(err as Error).message} (does ${file} import the same beamstate as this CLI?)`);
      }
    }
    node?.attach(runtime);
    const authenticate = served.authenticate ?? (token === undefined || token === '' ? undefined : (req: Parameters<typeof requestToken>[0]) => requestToken(req) === token);
    await reserved.release();
    gateway = await createGateway({
      runtime,
      port: reserved.port,
      host,
      ...(values.path !== undefined ? { path: values.path } : {}),
      ...(authenticate !== undefined ? { authenticate } : {}),
      ...(served.authorize !== undefined ? { authorize: served.authorize } : {}),
      ...(values.tracing === true ? { tracing: true } : {}),
    }).catch((err: NodeJS.ErrnoException) => {
      // Taken by another process between the release and this listen: rare, told the same way.
      throw listenError(err, port, host);
    });
    if (values.observer === true) {
      // Loaded only with --observer. Without a token the gateway is open to whoever reaches it, and so is the page.
      const { createObserver } = await import('../observer/index.js');
      observer = createObserver({ runtime, gateway, allowAnonymous: authenticate === undefined, logger });
    }
    const where = storeChoice.kind === 'postgres' ? `postgres ${hostOf(storeChoice.url)}${storeChoice.from === 'DATABASE_URL' ? ' (DATABASE_URL)' : ''}` : `pglite ${storeChoice.dataDir}`;
    const clustered = node === undefined ? '' : `; cluster node ${node.nodeId} at ${node.address}`;
    process.stdout.write(`beamstate listening on ${gateway.url} (entities: ${served.types.map((t) => t.name).join(', ')}; store: ${where}${clustered})\n`);
  } catch (err) {
    await stopAll();
    throw err;
  }
  ready = true;
  if (requested !== null) shutdown(requested);
}

/** The server part of a URL, never its credentials. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsed URL)';
  }
}

/** `--cluster`'s settings; PostgreSQL only. */
function clusterChoice(store: StoreChoice, address: string | undefined, nodeId: string | undefined): { url: string; host: string; port: number; nodeId: string | undefined } {
  if (store.kind !== 'postgres') throw new CliError(`--cluster needs PostgreSQL (--database or DATABASE_URL): PGlite is single-node ${HELP}`);
  const m = /^(.+):(\d+)$/.exec(address ?? '127.0.0.1:0');
  const port = m === null ? Number.NaN : Number(m[2]);
  if (m === null || port > 65535) throw new CliError(`--node-address must be host:port, got ${String(address)} ${HELP}`);
  return { url: store.url, host: m[1] as string, port, nodeId };
}


async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'serve') return serve(rest);
  // The Kalix proxy (docs/proxy.md): loaded only for this command, so `serve` never loads gRPC.
  if (command === 'proxy') return (await import('../proxy/cli.js')).proxyMain(rest);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') return void process.stdout.write(USAGE);
  if (command === '--version') return void process.stdout.write(`${version()}\n`);
  if (command.startsWith('-')) throw new CliError(`unknown option ${command} ${HELP}`);
  throw new CliError(`unknown command ${JSON.stringify(command)}: the command is serve ${HELP}`);
}

/** parseArgs' own messages, as one line in this CLI's words. */
function parseArgsMessage(err: { code: string; message: string }): string {
  const option = /'(-[^' ]*)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) return `unknown option ${option} ${HELP}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) return `${option} needs a value ${HELP}`;
  return err.message.split('\n')[0] as string;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const code = (err as { code?: unknown })?.code;
  const message =
    err instanceof CliError
      ? err.message
      : typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
        ? parseArgsMessage(err as { code: string; message: string })
        : ((err as Error)?.stack ?? String(err));
  process.stderr.write(`beamstate: ${message}\n`);
  process.exit(1);
});
