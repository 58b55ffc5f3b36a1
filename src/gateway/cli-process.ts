/**
 * The CLI as a process: its port taken before anything else opens, and what makes it stop.
 * @internal
 */
import { createServer, type Server } from 'node:net';
import { CliError } from './load-module.js';

/** A port held by a bare listening socket until the gateway takes it over. */
export interface ReservedPort {
  readonly port: number;
  /** Stops listening; the gateway listens on `port` right after. */
  release(): Promise<void>;
}

/**
 * Listens on `port` (0: a free one) at `host`, so that a port in use or a host that is not this
 * machine's is reported before the store opens (and before a PGlite folder is created or locked).
 */
export async function reservePort(port: number, host: string): Promise<ReservedPort> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, port, host)));
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return { port: bound, release: () => close(server) };
}

/** The one line a failed listen is worth, for the errors a user can act on; others as they are. */
export function listenError(err: NodeJS.ErrnoException, port: number, host: string): Error {
  switch (err.code) {
    case 'EADDRINUSE':
      return new CliError(`port ${port} on ${host} is in use (choose another with --port, or 0 for any free port)`);
    case 'EACCES':
      return new CliError(`not allowed to listen on port ${port} on ${host} (ports below 1024 need privileges; choose another with --port)`);
    case 'EADDRNOTAVAIL':
      return new CliError(`${host} is not an address of this machine (--host)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new CliError(`cannot resolve --host ${host}`);
    default:
      return err;
  }
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Why the CLI stops. */
export type StopReason = NodeJS.Signals | 'parent-exited';

/** How often a CLI started by npm checks that the shell npm started it through is still there. */
const PARENT_CHECK_MS = 500;

/**
 * Calls `onStop` on SIGINT and SIGTERM, and, when npm started the CLI (`npx beamstate`, `npm
 * start`), also when the process that started it goes away. npm runs a bin through `sh -c` and
 * forwards SIGINT and SIGTERM to that shell only: on SIGTERM the shell dies and leaves the CLI
 * running as an orphan, still holding its port and its store. So under npm a new parent (the
 * orphan's reaper) is taken as SIGTERM. Outside npm a lost parent means nothing: `nohup … &` in
 * a shell that exits is a way to keep a server running.
 */
export function onStopRequest(onStop: (reason: StopReason) => void): void {
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  if (process.env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onStop('parent-exited');
  }, PARENT_CHECK_MS);
  timer.unref(); // the gateway's socket keeps the process alive, not this check
}

/** Says why the CLI stops, runs `stopAll`, and exits: 0 once it has stopped, 1 if stopping failed. */
export function stopAndExit(reason: StopReason, stopAll: () => Promise<void>): void {
  process.stderr.write(`beamstate: ${reason === 'parent-exited' ? 'the npm process that started it is gone' : reason}, shutting down\n`);
  stopAll().then(
    () => {
      process.stderr.write('beamstate: stopped\n');
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`beamstate: error while stopping: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
