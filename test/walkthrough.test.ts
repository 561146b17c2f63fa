import { createLedger, defineCatalog } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { expect, test } from 'vitest';
import { allEntries } from './support/statement.js';

test('the canonical walkthrough: +100 on subscribing, -10 for one ai-generation, balance 90', async () => {
  const catalog = defineCatalog({
    currencies: [{ code: 'credits', decimals: 0 }],
    features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
    plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
  });
  let now = new Date('2025-03-01T09:00:00.000Z');
  const ledger = createLedger({ catalog, store: memoryStore(), clock: () => now });

  await ledger.createCustomer({ customerId: 'cus_123' });
  const subscription = await ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
  expect(subscription.planId).toBe('free');
  expect(subscription.grantIds).toHaveLength(1);

  now = new Date('2025-03-01T09:05:00.000Z');
  const usage = await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
  expect(usage).toMatchObject({ cost: '10', balance: '90', currency: 'credits' });

  const entries = await allEntries(ledger, { customerId: 'cus_123', currency: 'credits' });
  expect(entries.map((e) => [e.kind, e.amount, e.balance, e.at])).toEqual([
    ['grant', '100', '100', '2025-03-01T09:00:00.000Z'],
    ['usage', '-10', '90', '2025-03-01T09:05:00.000Z'],
  ]);

  expect(await ledger.creditAccounts({ customerId: 'cus_123' })).toEqual([
    {
      currency: 'credits',
      balance: '90',
      held: '0',
      available: '90',
      creditLimit: '0',
      debt: '0',
      scoped: [],
    },
  ]);
  expect(await ledger.grants({ customerId: 'cus_123', currency: 'credits' })).toEqual([
    expect.objectContaining({
      source: 'plan',
      amount: '100',
      remaining: '90',
      priority: 50,
      effectiveAt: '2025-03-01T09:00:00.000Z',
      expiresAt: '2025-04-01T09:00:00.000Z',
      status: 'active',
    }),
  ]);
  await ledger.close();
});
