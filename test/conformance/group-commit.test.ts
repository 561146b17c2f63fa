import {
  createLedger,
  defineCatalog,
  type EventStore,
  type StreamAppend,
  type StreamAppendOutcome,
  TallyError,
} from '@tally/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  memoryTarget,
  type OpenedStore,
  postgresTarget,
  type StoreTarget,
  sqliteTarget,
} from '../support/stores.js';

const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'unit', cost: { currency: 'credits', perUnit: '1' } }],
  plans: [],
});

/** The store under test, recording every append and batch it is asked for. */
function recording(inner: EventStore): { store: EventStore; batches: string[][]; appends: string[] } {
  const batches: string[][] = [];
  const appends: string[] = [];
  const store: EventStore = {
    ...inner,
    append: (streamId, events, options) => {
      appends.push(streamId);
      return inner.append(streamId, events, options);
    },
    appendMany: (batch: readonly StreamAppend[]): Promise<StreamAppendOutcome[]> => {
      batches.push(batch.map((part) => part.streamId));
      return inner.appendMany!(batch);
    },
  };
  return { store, batches, appends };
}

for (const target of [memoryTarget(), sqliteTarget(), await postgresTarget()]) describeGroupCommit(target);

function describeGroupCommit(target: StoreTarget): void {
  describe(`${target.name}: the ledger commits different customers together`, () => {
    let opened: OpenedStore | undefined;
    const open = async () => {
      opened = await target.open();
      return recording(opened.store);
    };
    afterEach(async () => {
      await opened?.close();
      opened = undefined;
    });

    it('stores commands for different customers that arrive together in one batch, each answered on its own', async () => {
      const { store, batches } = await open();
      const ledger = createLedger({ catalog, store });
      const customers = Array.from({ length: 12 }, (_, i) => `cus_${i}`);
      for (const customerId of customers) {
        await ledger.createCustomer({ customerId });
        await ledger.grant({ customerId, currency: 'credits', amount: '100' });
      }
      batches.length = 0;
      const results = await Promise.all(
        customers.map((customerId, i) => ledger.trackUsage({ customerId, feature: 'unit', quantity: i + 1 })),
      );
      expect(results.map((r) => r.balance)).toEqual(customers.map((_, i) => String(100 - (i + 1))));
      // Every customer's append went out in a batch with others: fewer store calls than customers.
      const batched = batches.flat();
      expect([...batched].sort()).toEqual(customers.map((c) => `customer-${c}`).sort());
      expect(batches.length).toBeLessThan(customers.length);
      for (const customerId of customers) {
        const accounts = await createLedger({ catalog, store }).creditAccounts({ customerId });
        expect(accounts.find((a) => a.currency === 'credits')?.balance).toBe(
          String(100 - (customers.indexOf(customerId) + 1)),
        );
      }
    });

    it('fails only the customer whose stream moved under it, and that customer retries alone', async () => {
      const { store, batches } = await open();
      const ledger = createLedger({ catalog, store });
      // Another process's ledger on the same store: its writes make this ledger's cached head stale.
      const other = createLedger({ catalog, store });
      const customers = ['cus_a', 'cus_b', 'cus_c', 'cus_d'];
      for (const customerId of customers) {
        await ledger.createCustomer({ customerId });
        await ledger.grant({ customerId, currency: 'credits', amount: '100' });
      }
      await other.trackUsage({ customerId: 'cus_b', feature: 'unit', quantity: 7 });
      batches.length = 0;
      const results = await Promise.all(
        customers.map((customerId) => ledger.trackUsage({ customerId, feature: 'unit', quantity: 1 })),
      );
      expect(results.map((r) => r.balance)).toEqual(['99', '92', '99', '99']);
      // The first batch held all four; cus_b's part conflicted and went again on its own.
      expect(batches[0]).toHaveLength(4);
      expect(batches.slice(1).flat()).not.toContain('customer-cus_a');
    });

    it('gives each command of a batch its own refusal', async () => {
      const { store } = await open();
      const ledger = createLedger({ catalog, store });
      for (const customerId of ['cus_rich', 'cus_poor']) await ledger.createCustomer({ customerId });
      await ledger.grant({ customerId: 'cus_rich', currency: 'credits', amount: '10' });
      const [rich, poor] = await Promise.allSettled([
        ledger.trackUsage({ customerId: 'cus_rich', feature: 'unit', quantity: 3 }),
        ledger.trackUsage({ customerId: 'cus_poor', feature: 'unit', quantity: 3 }),
      ]);
      expect(rich.status === 'fulfilled' && rich.value.balance).toBe('7');
      expect(poor.status === 'rejected' && (poor.reason as TallyError).code).toBe('insufficient_credits');
    });

    it('answers every command of a batch with the store failure when the batch append throws', async () => {
      const { store } = await open();
      const ledger = createLedger({ catalog, store });
      for (const customerId of ['cus_x', 'cus_y']) {
        await ledger.createCustomer({ customerId });
        await ledger.grant({ customerId, currency: 'credits', amount: '10' });
      }
      store.appendMany = async () => {
        throw new Error('disk full');
      };
      const settled = await Promise.allSettled(
        ['cus_x', 'cus_y'].map((customerId) =>
          ledger.trackUsage({ customerId, feature: 'unit', quantity: 1 }),
        ),
      );
      for (const outcome of settled) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(TallyError);
        expect(((outcome as PromiseRejectedResult).reason as TallyError).code).toBe('store_error');
      }
    });
  });
}
