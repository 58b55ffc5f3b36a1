// `beamstate proxy`'s options, parsed in-process: every bad one is a one-line CliError naming it;
// the defaults are the documented ones. (cli.test.ts runs the command as a process.)
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/gateway/load-module.js';
import { parseProxyArgs, proxyCliDefaults } from '../../src/proxy/cli-options.js';

const UF = ['--user-function', '127.0.0.1:8080'];

function refusal(args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseProxyArgs(args, env);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`expected ${JSON.stringify(args)} to be refused`);
}

describe('beamstate proxy options', () => {
  it('defaults: gRPC on 9000 (the Kalix proxy port), the gateway on 9001, 127.0.0.1, PGlite in .beamstate/pglite', () => {
    expect(parseProxyArgs(UF, {})).toEqual({
      kind: 'run',
      options: {
        userFunction: '127.0.0.1:8080',
        grpcPort: 9000,
        port: 9001,
        host: '127.0.0.1',
        store: { kind: 'pglite', dataDir: '.beamstate/pglite' },
        connectTimeoutMs: 10_000,
        token: undefined,
        allowUnsupported: false,
        verbose: false,
      },
    });
    expect(proxyCliDefaults).toMatchObject({ grpcPort: 9000, port: 9001 });
  });

  it('the store as beamstate serve chooses it: --database, else --data-dir, else DATABASE_URL, else PGlite', () => {
    const pg = 'postgres://u:secret@db:5432/app';
    const store = (args: string[], env: NodeJS.ProcessEnv) => (parseProxyArgs([...UF, ...args], env) as { options: { store: unknown } }).options.store;
    expect(store(['--database', pg], {})).toEqual({ kind: 'postgres', url: pg, from: '--database' });
    expect(store([], { DATABASE_URL: pg })).toEqual({ kind: 'postgres', url: pg, from: 'DATABASE_URL' });
    expect(store(['--data-dir', '/tmp/x'], { DATABASE_URL: pg })).toEqual({ kind: 'pglite', dataDir: '/tmp/x' });
    expect(store([], { DATABASE_URL: '' })).toEqual({ kind: 'pglite', dataDir: '.beamstate/pglite' });
  });

  it('the user function from USER_FUNCTION_HOST and USER_FUNCTION_PORT when --user-function is not given (as the Kalix proxy reads them)', () => {
    expect(parseProxyArgs([], { USER_FUNCTION_HOST: 'shop', USER_FUNCTION_PORT: '8081' })).toMatchObject({ options: { userFunction: 'shop:8081' } });
    expect(parseProxyArgs(['--user-function', '[::1]:8080'], { USER_FUNCTION_HOST: 'shop', USER_FUNCTION_PORT: '8081' })).toMatchObject({ options: { userFunction: '[::1]:8080' } });
    expect(refusal([], { USER_FUNCTION_HOST: 'shop', USER_FUNCTION_PORT: 'http' })).toBe('USER_FUNCTION_HOST:USER_FUNCTION_PORT must be host:port (e.g. 127.0.0.1:8080), got "shop:http"');
  });

  it('the token from --token, else BEAMSTATE_TOKEN (an empty one is none)', () => {
    const token = (args: string[], env: NodeJS.ProcessEnv) => (parseProxyArgs([...UF, ...args], env) as { options: { token: unknown } }).options.token;
    expect(token(['--token', 's1'], { BEAMSTATE_TOKEN: 's2' })).toBe('s1');
    expect(token([], { BEAMSTATE_TOKEN: 's2' })).toBe('s2');
    expect(token([], { BEAMSTATE_TOKEN: '' })).toBeUndefined();
  });

  it('each bad option is refused in one line that names it', () => {
    const cases: [string[], string][] = [
      [[], 'proxy needs the user function: beamstate proxy --user-function <host:port> (beamstate proxy --help lists the options)'],
      [['--user-function', 'localhost'], '--user-function must be host:port (e.g. 127.0.0.1:8080), got "localhost"'],
      [['--user-function', '127.0.0.1:0'], '--user-function must be host:port (e.g. 127.0.0.1:8080), got "127.0.0.1:0"'],
      [['--user-function', 'http://h:80'], '--user-function must be host:port (e.g. 127.0.0.1:8080), got "http://h:80"'],
      [[...UF, '--grpc-port', 'x'], '--grpc-port must be an integer from 0 to 65535, got "x"'],
      [[...UF, '--grpc-port', ''], '--grpc-port must be an integer from 0 to 65535, got ""'],
      [[...UF, '--port', '70000'], '--port must be an integer from 0 to 65535, got "70000"'],
      [[...UF, '--port', '1.5'], '--port must be an integer from 0 to 65535, got "1.5"'],
      [[...UF, '--port', '9100', '--grpc-port', '9100'], '--port and --grpc-port are both 9100: the gateway and the gRPC front need a port each'],
      [[...UF, '--database', 'postgres://x@h/d', '--data-dir', '/d'], 'give --database or --data-dir, not both (beamstate proxy --help lists the options)'],
      [[...UF, '--database', 'mysql://x'], '--database must be a postgres:// or postgresql:// URL'],
      [[...UF, '--data-dir', ''], '--data-dir needs a folder (beamstate proxy --help lists the options)'],
      [[...UF, '--host', ''], '--host needs an address (beamstate proxy --help lists the options)'],
      [[...UF, '--connect-timeout', '0'], '--connect-timeout must be a whole number of milliseconds of at least 1, got "0"'],
      [[...UF, '--connect-timeout', 'soon'], '--connect-timeout must be a whole number of milliseconds of at least 1, got "soon"'],
      [[...UF, '--token', ''], '--token needs a secret (beamstate proxy --help lists the options)'],
      [[...UF, '--colour'], 'unknown option --colour (beamstate proxy --help lists the options)'],
      [['--user-function'], '--user-function needs a value (beamstate proxy --help lists the options)'],
      [[...UF, 'extra'], 'proxy takes no arguments, only options (beamstate proxy --help lists the options)'],
    ];
    for (const [args, message] of cases) expect({ args, message: refusal(args, {}) }).toEqual({ args, message });
    // Port 0 twice is fine: each takes its own free port.
    expect(parseProxyArgs([...UF, '--port', '0', '--grpc-port', '0'], {})).toMatchObject({ options: { port: 0, grpcPort: 0 } });
    expect(parseProxyArgs(['-h'], {})).toEqual({ kind: 'help' });
  });
});
