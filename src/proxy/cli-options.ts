/**
 * The options of `beamstate proxy`, parsed and checked before anything opens: each bad one is a
 * `CliError` of one line that names it.
 * @internal
 */
import { parseArgs } from 'node:util';
import { CliError } from '../gateway/load-module.js';
import { grpcFrontDefaults } from './grpc-front.js';
import { proxyDefaults } from './proxy.js';

export const PROXY_USAGE = `usage: beamstate proxy --user-function <host:port> [options]

Runs a Kalix (Akka Serverless) service unmodified against beamstate: connects to its user
function, discovers its components and serves them over gRPC (the service's own API, as the
Kalix proxy does) and over the beamstate gateway (WebSockets, protocol beamstate.v1), with
their state journaled in PostgreSQL or the embedded PGlite.

options:
  --user-function <host:port>  the user function (a Kalix SDK service)  default
                      USER_FUNCTION_HOST:USER_FUNCTION_PORT when both are set
  --grpc-port <n>     gRPC port for the service's own API (0: any)   default 9000
  --port <n>          gateway (WebSocket) port (0: any)              default 9001
  --host <address>    interface both listen on                       default 127.0.0.1
  --database <url>    PostgreSQL (postgres://user@host:5432/db)      default DATABASE_URL,
                      else embedded PGlite
  --data-dir <dir>    PGlite data folder (PGlite even if DATABASE_URL is set)
                                                                     default .beamstate/pglite
  --token <secret>    require this bearer token on both ports (also BEAMSTATE_TOKEN):
                      gRPC \`authorization: Bearer <secret>\`, the gateway as \`beamstate serve\`
  --connect-timeout <ms>  how long to wait for the user function     default 10000
  --allow-unsupported serve the supported components when the user function declares
                      others (views, workflows…; each is reported to it) instead of exiting
  --verbose           log at debug level, not only warnings and errors (stderr)
  -h, --help          this text
`;

/** Where a usage error points. */
export const PROXY_HELP = '(beamstate proxy --help lists the options)';

/** Defaults of the proxy CLI, in one place. */
export const proxyCliDefaults = {
  grpcPort: 9000, // the Kalix proxy's port: gRPC clients of a Kalix service already point there
  port: 9001, // beside it; 8080 is the Kalix SDKs' default user-function port
  host: grpcFrontDefaults.host,
  dataDir: '.beamstate/pglite',
  connectTimeoutMs: proxyDefaults.connectTimeoutMs,
} as const;

import type { StoreChoice } from '../gateway/cli-store.js';
export type { StoreChoice };

export interface ProxyCliOptions {
  readonly userFunction: string;
  readonly grpcPort: number;
  readonly port: number;
  readonly host: string;
  readonly store: StoreChoice;
  readonly connectTimeoutMs: number;
  /** Required on both ports when set (`--token`, else `BEAMSTATE_TOKEN`). */
  readonly token: string | undefined;
  readonly allowUnsupported: boolean;
  readonly verbose: boolean;
}

export type ParsedProxyArgs = { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: ProxyCliOptions };

function port(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${name} must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return n;
}

/** `host:port` with a port from 1 to 65535 (an IPv6 host in brackets). */
function userFunctionAddress(raw: string, from: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d+)$/.exec(raw);
  const p = m === null ? NaN : Number(m[2]);
  if (m === null || !Number.isInteger(p) || p < 1 || p > 65535) throw new CliError(`${from} must be host:port (e.g. 127.0.0.1:8080), got ${JSON.stringify(raw)}`);
  return raw;
}

/** As `beamstate serve` chooses: `--database`, else `--data-dir` (PGlite), else `DATABASE_URL`, else PGlite in the default folder. */
export function chooseStore(database: string | undefined, dataDir: string | undefined, env: NodeJS.ProcessEnv): StoreChoice {
  if (database !== undefined && dataDir !== undefined) throw new CliError(`give --database or --data-dir, not both ${PROXY_HELP}`);
  const fromEnv = env.DATABASE_URL;
  const url = database ?? (dataDir === undefined && fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  if (url === undefined) {
    if (dataDir === '') throw new CliError(`--data-dir needs a folder ${PROXY_HELP}`);
    return { kind: 'pglite', dataDir: dataDir ?? proxyCliDefaults.dataDir };
  }
  const from = database !== undefined ? '--database' : 'DATABASE_URL';
  if (!/^postgres(ql)?:\/\//.test(url)) throw new CliError(`${from} must be a postgres:// or postgresql:// URL`);
  return { kind: 'postgres', url, from };
}

/** parseArgs' own errors, in this CLI's words. */
function parseArgsError(err: { code?: unknown; message: string }): CliError {
  const option = /'(-[^' ]*)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) return new CliError(`unknown option ${option} ${PROXY_HELP}`);
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) return new CliError(`${option} needs a value ${PROXY_HELP}`);
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return new CliError(`proxy takes no arguments, only options ${PROXY_HELP}`);
  return new CliError(`${err.message.split('\n')[0] ?? 'bad arguments'} ${PROXY_HELP}`);
}

/** Parses `beamstate proxy`'s arguments (after the word `proxy`). */
export function parseProxyArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedProxyArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        'user-function': { type: 'string' },
        'grpc-port': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        database: { type: 'string' },
        'data-dir': { type: 'string' },
        'connect-timeout': { type: 'string' },
        token: { type: 'string' },
        'allow-unsupported': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw parseArgsError(err as { code?: unknown; message: string });
  }
  if (values.help === true) return { kind: 'help' };

  let userFunction = values['user-function'];
  let from = '--user-function';
  if (userFunction === undefined && env.USER_FUNCTION_HOST && env.USER_FUNCTION_PORT) {
    userFunction = `${env.USER_FUNCTION_HOST}:${env.USER_FUNCTION_PORT}`;
    from = 'USER_FUNCTION_HOST:USER_FUNCTION_PORT';
  }
  if (userFunction === undefined) throw new CliError(`proxy needs the user function: beamstate proxy --user-function <host:port> ${PROXY_HELP}`);
  userFunctionAddress(userFunction, from);

  const grpcPort = port('--grpc-port', values['grpc-port'], proxyCliDefaults.grpcPort);
  const gatewayPort = port('--port', values.port, proxyCliDefaults.port);
  if (grpcPort !== 0 && grpcPort === gatewayPort) throw new CliError(`--port and --grpc-port are both ${grpcPort}: the gateway and the gRPC front need a port each`);
  const host = values.host ?? proxyCliDefaults.host;
  if (host === '') throw new CliError(`--host needs an address ${PROXY_HELP}`);

  const rawTimeout = values['connect-timeout'];
  const connectTimeoutMs = rawTimeout === undefined ? proxyCliDefaults.connectTimeoutMs : Number(rawTimeout);
  if (rawTimeout !== undefined && (rawTimeout.trim() === '' || !Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1)) {
    throw new CliError(`--connect-timeout must be a whole number of milliseconds of at least 1, got ${JSON.stringify(rawTimeout)}`);
  }

  const token = values.token ?? (env.BEAMSTATE_TOKEN === '' ? undefined : env.BEAMSTATE_TOKEN);
  if (token === '') throw new CliError(`--token needs a secret ${PROXY_HELP}`);

  return {
    kind: 'run',
    options: {
      userFunction,
      grpcPort,
      port: gatewayPort,
      host,
      store: chooseStore(values.database, values['data-dir'], env),
      connectTimeoutMs,
      token,
      allowUnsupported: values['allow-unsupported'] === true,
      verbose: values.verbose === true,
    },
  };
}
