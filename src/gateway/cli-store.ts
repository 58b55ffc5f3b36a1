/**
 * The store of a CLI command (`beamstate serve`, `beamstate proxy`): which one was chosen, and
 * opening it with a failure told in one line.
 * @internal
 */
import { isBeamstateError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WriteFence } from '../persistence/sql/write-fence.js';
import { createStore, type Store } from '../persistence/store.js';
import { CliError } from './load-module.js';

/** `--database` or `DATABASE_URL` (PostgreSQL), else a PGlite folder. */
export type StoreChoice = { readonly kind: 'postgres'; readonly url: string; readonly from: '--database' | 'DATABASE_URL' } | { readonly kind: 'pglite'; readonly dataDir: string };

export async function openStore(choice: StoreChoice, logger: Logger, writeFence?: WriteFence): Promise<Store> {
  try {
    return choice.kind === 'postgres'
      ? await createStore({ kind: 'postgres', connectionString: choice.url, logger, ...(writeFence === undefined ? {} : { writeFence }) })
      : await createStore({ kind: 'pglite', dataDir: choice.dataDir, logger });
  } catch (err) {
    // A store that cannot open (server unreachable, folder locked or unreadable) has a code and a
    // message that say why: one line, no stack.
    if (isBeamstateError(err)) throw new CliError(`cannot open the store: ${err.code}: ${err.message}`);
    throw err;
  }
}
