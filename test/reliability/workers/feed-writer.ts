/**
 * A writer of the feed crash test: writes through the ledger to customers of its own (usages and
 * grants, one caller per customer, all at once) until it is killed.
 *
 * Usage: node --import tsx feed-writer.ts '<FeedWriterTask as JSON>'
 */
import { createLedger, isTallyError } from '@tally/core';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { workerTask } from '../../support/worker-io.js';
import { catalog } from '../support/catalog.js';

export interface FeedWriterTask {
  readonly spec: StoreSpec;
  readonly writer: number;
  readonly customers: number;
}

const task = workerTask<FeedWriterTask>();
const store = openStoreSpec(task.spec);
const ledger = createLedger({ catalog, store });
const customers = Array.from({ length: task.customers }, (_, i) => `feed-w${task.writer}-${i}`);
for (const customerId of customers) {
  await ledger.createCustomer({ customerId });
  await ledger.grant({ customerId, currency: 'credits', amount: '1000000', source: 'top_up' });
}
process.stdout.write('ready\n');
await Promise.all(
  customers.map(async (customerId, c) => {
    for (let i = 0; ; i++) {
      try {
        if ((i + c) % 5 === 0)
          await ledger.grant({ customerId, currency: 'credits', amount: '3', source: 'top_up' });
        else await ledger.trackUsage({ customerId, feature: 'unit', quantity: 1 + (i % 3) });
      } catch (error) {
        // Only the feed is checked here: a write that waited too long for a busy store (a loaded
        // machine, eight processes on one SQLite file) is simply not part of the log.
        if (!isTallyError(error) || (error.code !== 'store_error' && error.code !== 'concurrency_conflict'))
          throw error;
      }
    }
  }),
);
