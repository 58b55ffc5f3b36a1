import { afterAll, beforeAll, describe } from 'vitest';
import { createStore } from '../../src/persistence/index.js';
import type { Store } from '../../src/persistence/index.js';
import { journalContract } from './conformance/journal.js';
import { snapshotContract } from './conformance/snapshots.js';
import { durableStateContract } from './conformance/durable-state.js';
import { recoveryContract } from './conformance/recovery.js';
import { valuesContract } from './conformance/values.js';

describe('memory backend', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createStore({ kind: 'memory' });
  });
  afterAll(async () => {
    await store.close();
  });
  journalContract(() => store);
  snapshotContract(() => store);
  durableStateContract(() => store);
  recoveryContract(() => store);
  valuesContract(() => store);
});
