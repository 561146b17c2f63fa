import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryStore } from '@tally/store-memory';
import { sqliteStore } from '@tally/store-sqlite';
import { describeLedgerContract } from './ledger-contract.js';
import { postgresTarget } from './postgres-target.js';

describeLedgerContract('memory', async () => ({ store: memoryStore(), cleanup: async () => {} }));

describeLedgerContract('sqlite (file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tally-ledger-'));
  const store = sqliteStore({ filename: join(dir, 'ledger.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const postgres = postgresTarget();
describeLedgerContract(postgres.label, () => postgres.fresh());
