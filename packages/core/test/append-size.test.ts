import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { createLedger, defineCatalog, type EventStore, MAX_EVENTS_PER_APPEND } from '../src/index.js';
import { DAY, memoryStore, TestClock } from './support.js';

const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'call', cost: { currency: 'credits', perUnit: '1' } }],
  plans: [
    { id: 'daily', interval: 'day', grants: [{ currency: 'credits', amount: '10' }] },
    // Sixty plans of the most grant rules a plan may have: a customer runs each plan at most once.
    ...Array.from({ length: 60 }, (_, n) => ({
      id: `wide_${n}`,
      interval: 'month' as const,
      grants: Array.from({ length: 100 }, (_, i) => ({ currency: 'credits', amount: '1', priority: i })),
    })),
  ],
});

/** A memory store that remembers how many events each append carried. */
function measuredStore(): { store: EventStore; sizes: number[] } {
  const inner = memoryStore();
  const sizes: number[] = [];
  return {
    sizes,
    store: {
      ...inner,
      append: (streamId, events, options) => {
        sizes.push(events.length);
        return inner.append(streamId, events, options);
      },
    },
  };
}

describe('appends stay within what every store takes', () => {
  test('a write after ten idle years stores the due renewals in bounded appends, as the read showed them', async () => {
    const clock = new TestClock();
    const { store, sizes } = measuredStore();
    const ledger = createLedger({ catalog, store, clock: clock.now });
    await ledger.createCustomer({ customerId: 'cus_1' });
    await ledger.subscribe({ customerId: 'cus_1', planId: 'daily' });
    clock.advance(3650 * DAY);
    const before = await allEntries(ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(before.length).toBeGreaterThan(2 * 3650);

    const usage = await ledger.trackUsage({ customerId: 'cus_1', feature: 'call', quantity: 1 });
    expect(usage.balance).toBe('9');
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_EVENTS_PER_APPEND);
    expect(sizes.length).toBeGreaterThan(3);

    const after = await allEntries(ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(after.slice(0, before.length)).toEqual(before);
    const cold = createLedger({ catalog, store, clock: clock.now });
    expect(await allEntries(cold, { customerId: 'cus_1', currency: 'credits' })).toEqual(after);
    expect(await cold.verify({ customerId: 'cus_1' })).toMatchObject({ ok: true });
  });

  test('a burst larger than one append goes out in several, each command answered once', async () => {
    const clock = new TestClock();
    const { store, sizes } = measuredStore();
    const ledger = createLedger({ catalog, store, clock: clock.now });
    await ledger.createCustomer({ customerId: 'cus_1' });
    await ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '100000' });
    const results = await Promise.all(
      Array.from({ length: 600 }, () =>
        ledger.trackUsage({ customerId: 'cus_1', feature: 'call', quantity: 1 }),
      ),
    );
    expect(new Set(results.map((r) => r.usageId)).size).toBe(600);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_EVENTS_PER_APPEND);
    const [account] = await ledger.creditAccounts({ customerId: 'cus_1' });
    expect(account?.balance).toBe('99400');
  });

  test('commands whose events overflow one append wait for the next, in order, none lost', async () => {
    const clock = new TestClock();
    const { store, sizes } = measuredStore();
    const ledger = createLedger({ catalog, store, clock: clock.now });
    await ledger.createCustomer({ customerId: 'cus_1' });
    const subscribed = await Promise.all(
      Array.from({ length: 60 }, (_, n) => ledger.subscribe({ customerId: 'cus_1', planId: `wide_${n}` })),
    );
    expect(new Set(subscribed.map((s) => s.subscriptionId)).size).toBe(60);
    expect(subscribed.every((s) => s.grantIds.length === 100)).toBe(true);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_EVENTS_PER_APPEND);
    expect(sizes.filter((n) => n > 1000).length).toBeGreaterThan(1);
    const [account] = await ledger.creditAccounts({ customerId: 'cus_1' });
    expect(account?.balance).toBe('6000');
  });
});
