import { afterAll, beforeAll, describe } from 'vitest';
import type { Store } from '../../src/persistence/index.js';
import { journalContract } from './conformance/journal.js';
import { snapshotContract } from './conformance/snapshots.js';
import { durableStateContract } from './conformance/durable-state.js';
import { recoveryContract } from './conformance/recovery.js';
import { valuesContract } from './conformance/values.js';
import { DATABASE_URL, openTestDatabase } from './support.js';
import type { TestDatabase } from './support.js';

// The PostgreSQL backend on the server in DATABASE_URL. Without DATABASE_URL this runs on PGlite
// instead (same SQL, same code path apart from the driver), so `npm test` passes anywhere.
describe(`PostgreSQL backend (${DATABASE_URL === undefined ? 'PGlite fallback: DATABASE_URL unset' : 'server'})`, () => {
  let db: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    db = await openTestDatabase();
    store = await db.openStore({ replayChunkSize: 7 });
  });
  afterAll(async () => {
    await db.close();
  });
  journalContract(() => store);
  snapshotContract(() => store);
  durableStateContract(() => store);
  recoveryContract(() => store);
  valuesContract(() => store);
});
