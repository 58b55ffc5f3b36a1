#!/usr/bin/env node
/**
 * `beamstate serve <module>`: serves the entity definitions a module exports over the gateway,
 * on the embedded PGlite store by default or on PostgreSQL with `--database`. Prints one line
 * saying where it listens; stops cleanly on SIGINT and SIGTERM (the gateway drains, the runtime
 * stops, the store closes, exit code 0).
 *
 * From this repository without a build: `node --import tsx src/gateway/cli.ts serve examples/shopping-cart.ts`.
 */
import { parseArgs } from 'node:util';
import { createActorSystem } from '../actors/system.js';
import { EntityRuntime } from '../entities/runtime.js';
import { createLogger } from '../logger.js';
import { createStore } from '../persistence/store.js';
import { requestToken } from './auth.js';
import { CliError, loadServedModule } from './load-module.js';
import { createGateway } from './server.js';

const USAGE = `usage: beamstate serve <module> [options]

Serves the entity definitions <module> exports (each exported definition, or its \`entities\`
array) over WebSockets (protocol beamstate.v1). TypeScript modules load through tsx.

options:
  --port <n>          port to listen on (0: any free port)        default 8080
  --host <address>    interface to listen on                      default 127.0.0.1
  --path <path>       serve only this URL path                    default every path
  --database <url>    PostgreSQL (postgres://user@host:5432/db)   default embedded PGlite
  --data-dir <dir>    PGlite data folder                          default .beamstate/pglite
  --token <secret>    require this bearer token (also BEAMSTATE_TOKEN); a module's own
                      \`authenticate\` export takes precedence
  --verbose           log at debug level, not only warnings and errors (stderr,
                      one JSON line per record)
  --help              this text
`;

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
      verbose: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const file = positionals[0];
  if (file === undefined || positionals.length > 1) throw new CliError(USAGE);
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be an integer from 0 to 65535, got ${values.port}`);
  const host = values.host ?? '127.0.0.1';
  const database = values.database;
  if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) throw new CliError('--database must be a postgres:// or postgresql:// URL');
  const dataDir = values['data-dir'] ?? '.beamstate/pglite';
  const token = values.token ?? process.env.BEAMSTATE_TOKEN;
  // The library's default format (pino's JSON lines on stderr), with --verbose down to debug.
  const logger = createLogger({ level: values.verbose === true ? 'debug' : 'warn' });

  const served = await loadServedModule(file);
  const store = database !== undefined ? await createStore({ kind: 'postgres', connectionString: database, logger }) : await createStore({ kind: 'pglite', dataDir, logger });
  const system = createActorSystem({ logger });
  const runtime = new EntityRuntime(system, { store });
  const stopAll = async (): Promise<void> => {
    await system.stop();
    await store.close();
  };
  try {
    for (const type of served.types) {
      try {
        runtime.register(type);
      } catch (err) {
        throw new CliError(`cannot serve ${type.name}: ${(err as Error).message} (does ${file} import the same beamstate as this CLI?)`);
      }
    }
    const authenticate = served.authenticate ?? (token === undefined || token === '' ? undefined : (req: Parameters<typeof requestToken>[0]) => requestToken(req) === token);
    const gateway = await createGateway({
      runtime,
      port,
      host,
      ...(values.path !== undefined ? { path: values.path } : {}),
      ...(authenticate !== undefined ? { authenticate } : {}),
      ...(served.authorize !== undefined ? { authorize: served.authorize } : {}),
    });
    const where = database !== undefined ? `postgres ${new URL(database).host}` : `pglite ${dataDir}`;
    process.stdout.write(`beamstate listening on ${gateway.url} (entities: ${served.types.map((t) => t.name).join(', ')}; store: ${where})\n`);

    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`beamstate: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      process.stderr.write(`beamstate: ${signal}, shutting down\n`);
      gateway
        .close()
        .then(stopAll)
        .then(
          () => {
            process.stderr.write('beamstate: stopped\n');
            process.exit(0);
          },
          (err: unknown) => {
            process.stderr.write(`beamstate: error while stopping: ${(err as Error)?.stack ?? String(err)}\n`);
            process.exit(1);
          },
        );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'serve') return serve(rest);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const usage = err instanceof CliError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS') === true;
  process.stderr.write(`beamstate: ${usage ? (err as Error).message : ((err as Error)?.stack ?? String(err))}\n`);
  process.exit(1);
});
