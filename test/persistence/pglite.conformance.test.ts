import { afterAll, beforeAll, describe } from 'vitest';
import type { Store } from '../../src/persistence/index.js';
import { journalContract } from './conformance/journal.js';
import { snapshotContract } from './conformance/snapshots.js';
import { durableStateContract } from './conformance/durable-state.js';
import { recoveryContract } from './conformance/recovery.js';
import { valuesContract } from './conformance/values.js';
import { openTestDatabase } from './support.js';
import type { TestDatabase } from './support.js';

describe('PGlite backend', () => {
  let db: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    db = await openTestDatabase('pglite');
    // A small replay chunk, so the contract's replays cross chunk boundaries.
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
