import { memoryStore } from '@tally/store-memory';
import { describeEventStoreContract } from './event-store-contract.js';

describeEventStoreContract('memory', async () => {
  const store = memoryStore();
  return { store, cleanup: () => store.close() };
});
