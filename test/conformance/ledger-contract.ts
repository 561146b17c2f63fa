import { createLedger, type EventStore, type StoredEvent } from '@tally/core';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { catalog as walkthroughCatalog } from '../../packages/walkthrough/src/walkthrough.js';
import {
  commandSequence,
  runSequence,
  sequenceCatalog,
  sequenceClock,
} from '../support/command-sequences.js';
import { fcOptions, fcRuns } from '../support/fast-check.js';
import { allEntries } from '../support/statement.js';
import type { StoreTarget } from '../support/stores.js';

/** Random command sequences per store: durable stores pay a round trip per step, so fewer than in core. */
const RUNS = 200;

/**
 * The ledger on top of a store: the walkthrough, and the command-sequence property of the core tests
 * (every invariant after every step, cold ledgers and snapshots included), run on this store.
 */
export function describeLedgerContract(target: StoreTarget): void {
  describe(`${target.name}: the ledger on this store`, () => {
    it('runs the walkthrough: +100, -10, balance 90, and a cold ledger reads the same', async () => {
      const { store, close } = await target.open();
      try {
        const ledger = createLedger({ catalog: walkthroughCatalog, store });
        await ledger.createCustomer({ customerId: 'cus_123' });
        await ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
        await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
        const entries = await allEntries(ledger, { customerId: 'cus_123', currency: 'credits' });
        expect(entries.map((e) => [e.kind, e.amount, e.balance])).toEqual([
          ['grant', '100', '100'],
          ['usage', '-10', '90'],
        ]);
        const cold = createLedger({ catalog: walkthroughCatalog, store });
        expect(await cold.creditAccounts({ customerId: 'cus_123' })).toEqual(
          await ledger.creditAccounts({ customerId: 'cus_123' }),
        );
        expect((await cold.creditAccounts({ customerId: 'cus_123' }))[0]?.balance).toBe('90');
        expect(await cold.verify({ customerId: 'cus_123' })).toMatchObject({ ok: true, events: 4 });
      } finally {
        await close();
      }
    });

    it(`keeps every ledger invariant over random command sequences (property, ${fcRuns(RUNS)} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(
          commandSequence({ maxLength: 12 }),
          fc.constantFrom(2, 500),
          async (steps, snapshotEvery) => {
            const { store, close } = await target.open();
            try {
              const clock = sequenceClock();
              const ledger = createLedger({
                catalog: sequenceCatalog,
                store,
                clock: clock.now,
                snapshotEvery,
              });
              await runSequence(ledger, streamsOnly(store), clock, steps, { coldOptions: { snapshotEvery } });
            } finally {
              await close();
            }
          },
        ),
        fcOptions({ runs: RUNS }),
      );
    }, 600_000);
  });
}

/**
 * The sequence checks compare the whole log before and after each step. A Postgres `readAll` waits
 * for older transactions anywhere on the server (other test files included) and may lag, so the
 * log is read per customer stream, which is always current.
 */
function streamsOnly(store: EventStore): EventStore {
  return {
    ...store,
    async readAll() {
      const streams = await Promise.all(['cus_0', 'cus_1'].map((c) => store.readStream(`customer-${c}`)));
      return streams.flat().sort((a: StoredEvent, b: StoredEvent) => (a.position < b.position ? -1 : 1));
    },
  };
}
