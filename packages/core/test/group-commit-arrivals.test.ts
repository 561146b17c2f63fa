import { describe, expect, test } from 'vitest';
import { createLedger, defineCatalog, type EventStore, type StreamAppend } from '../src/index.js';
import { memoryStore } from './support.js';

const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'unit', cost: { currency: 'credits', perUnit: '1' } }],
  plans: [],
});

/**
 * A memory store whose appends hold the event loop as better-sqlite3 does (the commit and its fsync
 * run inside the call), recording each store call's streams.
 */
function blockingStore(holdMs: number): { store: EventStore; calls: string[][]; blocking: { on: boolean } } {
  const inner = memoryStore();
  const calls: string[][] = [];
  const blocking = { on: false };
  const hold = () => {
    const until = performance.now() + (blocking.on ? holdMs : 0);
    while (performance.now() < until) {}
  };
  return {
    calls,
    blocking,
    store: {
      ...inner,
      append: (streamId, events, options) => {
        calls.push([streamId]);
        const result = inner.append(streamId, events, options);
        hold();
        return result;
      },
      appendMany: (batch: readonly StreamAppend[]) => {
        calls.push(batch.map((part) => part.streamId));
        const result = inner.appendMany!(batch);
        hold();
        return result;
      },
    },
  };
}

describe('group commit under arrivals from separate callbacks (an HTTP server on a synchronous store)', () => {
  test('commands that arrive while a blocking append held the loop go together in the next batch', async () => {
    const { store, calls, blocking } = blockingStore(5);
    const ledger = createLedger({ catalog, store });
    const customers = Array.from({ length: 8 }, (_, i) => `cus_${i}`);
    for (const customerId of customers) {
      await ledger.createCustomer({ customerId });
      await ledger.grant({ customerId, currency: 'credits', amount: '100' });
    }
    calls.length = 0;
    blocking.on = true;
    // Each command starts in a callback of its own, as each request of a connection does: the first
    // reaches an idle writer and goes alone; the rest were queued behind its blocking append.
    const results = await Promise.all(
      customers.map(
        (customerId) =>
          new Promise((resolve, reject) => {
            setImmediate(() => {
              ledger.trackUsage({ customerId, feature: 'unit', quantity: 1 }).then(resolve, reject);
            });
          }),
      ),
    );
    expect(results.map((r) => (r as { balance: string }).balance)).toEqual(customers.map(() => '99'));
    expect(calls.flat().sort()).toEqual(customers.map((c) => `customer-${c}`).sort());
    // Not one fsync per command: after the first, the others share a batch.
    expect(calls[0]).toEqual(['customer-cus_0']);
    expect(calls.slice(1)).toEqual([customers.slice(1).map((c) => `customer-${c}`)]);
  });

  test('a lone caller on a store that does not block still appends at once, alone, each time', async () => {
    const { store, calls } = blockingStore(0);
    const ledger = createLedger({ catalog, store });
    await ledger.createCustomer({ customerId: 'cus_1' });
    await ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '100' });
    calls.length = 0;
    for (let i = 0; i < 5; i++)
      await ledger.trackUsage({ customerId: 'cus_1', feature: 'unit', quantity: 1 });
    expect(calls).toEqual(Array.from({ length: 5 }, () => ['customer-cus_1']));
  });
});
