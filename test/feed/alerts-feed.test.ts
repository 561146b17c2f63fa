import { setTimeout as sleep } from 'node:timers/promises';
import {
  autoTopUpHandler,
  createLedger,
  createProcessor,
  type EventStore,
  ledgerDue,
  type Processor,
  type Purchased,
  type PurchaseRequest,
  type StoredEvent,
} from '@tally/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalog } from '../reliability/support/catalog.js';
import { type OpenedStore, storeTargets } from '../support/stores.js';

/**
 * Balance alerts and auto top-up driven by the feed: a notice before an expiry reaches a consumer at
 * its instant with nothing else happening to the customer (the time index settles it), and a top-up
 * requested by a usage is bought by a feed handler.
 */

async function drain(processors: readonly Processor[], done: () => boolean, rounds = 400): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    let handled = 0;
    for (const p of processors) handled += await p.runOnce().catch(() => 0);
    if (handled === 0 && !done()) await sleep(25);
  }
  expect(done(), 'the processors caught up').toBe(true);
}

for (const target of await storeTargets()) {
  describe(`${target.name}: alerts and top-ups through the feed`, () => {
    let opened: OpenedStore;
    let store: EventStore;
    const running: Processor[] = [];

    beforeEach(async () => {
      opened = await target.open();
      store = opened.store;
    });
    afterEach(async () => {
      for (const p of running.splice(0)) await p.stop();
      await opened.close();
    });

    it('credits_expiring reaches the feed at its instant with no activity on the customer', async () => {
      let nowMs = Date.parse('2025-01-01T00:00:00.000Z');
      const clock = () => new Date(nowMs);
      const ledger = createLedger({ catalog, store, clock });
      await ledger.createCustomer({ customerId: 'cus_notice' });
      const { grantId } = await ledger.grant({
        customerId: 'cus_notice',
        currency: 'credits',
        amount: '50',
        expiresAt: '2025-01-01T06:00:00.000Z',
      });
      await ledger.setBalanceAlert({
        customerId: 'cus_notice',
        currency: 'credits',
        thresholds: [],
        expiringWithin: '3h',
      });
      const seen: StoredEvent[] = [];
      const p = createProcessor({
        store,
        name: 'alerts',
        clock,
        due: ledgerDue({ ledger, store }),
        handle: async (b) => void seen.push(...b.events),
      });
      running.push(p);
      const written = (await store.readAll()).length;
      await drain([p], () => seen.length >= written);
      nowMs = Date.parse('2025-01-01T02:59:59.999Z');
      await p.runOnce();
      expect(seen.filter((e) => e.type === 'credits_expiring')).toEqual([]);

      nowMs = Date.parse('2025-01-01T04:00:00.000Z'); // nobody touches the customer
      await drain([p], () => seen.some((e) => e.type === 'credits_expiring'));
      const notice = seen.find((e) => e.type === 'credits_expiring')!;
      expect(notice.at).toBe('2025-01-01T03:00:00.000Z');
      expect(notice.data).toMatchObject({ grantId, amount: '50', expiresAt: '2025-01-01T06:00:00.000Z' });

      nowMs = Date.parse('2025-01-01T07:00:00.000Z');
      await drain([p], () => seen.some((e) => e.type === 'grant_expired'));
      expect(seen.filter((e) => e.type === 'credits_expiring')).toHaveLength(1);
    });

    it('a feed handler buys the top-up a usage asked for, once', async () => {
      const ledger = createLedger({ catalog, store });
      await ledger.createCustomer({ customerId: 'cus_auto' });
      await ledger.grant({ customerId: 'cus_auto', currency: 'credits', amount: '100' });
      await ledger.setAutoTopUp({
        customerId: 'cus_auto',
        currency: 'credits',
        threshold: '50',
        amount: '200',
      });
      const charged = new Map<string, Purchased>();
      const purchase = async (request: PurchaseRequest): Promise<Purchased> => {
        const charge = charged.get(request.idempotencyKey) ?? {
          paymentId: `pay_${charged.size + 1}`,
          price: { amount: '2.00', currency: 'USD' },
        };
        charged.set(request.idempotencyKey, charge);
        return charge;
      };
      const seen: StoredEvent[] = [];
      const handle = autoTopUpHandler({ ledger, purchase });
      // Two instances of the consumer, as two processes would run it: one holds the lease at a time.
      const processors = [0, 1].map(() =>
        createProcessor({
          store,
          name: 'auto-top-up',
          handle: async (batch) => {
            await handle(batch);
            seen.push(...batch.events);
          },
        }),
      );
      running.push(...processors);
      await ledger.trackUsage({ customerId: 'cus_auto', feature: 'ai-generation', quantity: 6 });
      await drain(processors, () => seen.some((e) => e.type === 'auto_top_up_completed'));
      expect(charged.size).toBe(1);
      const [account] = await ledger.creditAccounts({ customerId: 'cus_auto' });
      expect(account!.balance).toBe('240');
    });
  });
}
