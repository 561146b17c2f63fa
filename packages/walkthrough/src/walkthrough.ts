/**
 * The canonical walkthrough: a free plan grants 100 credits a month, `ai-generation` costs 10,
 * `cus_123` subscribes and uses it once. Prints the ledger and the balance. The catalog is defined
 * in code (`defineCatalog`), or built through the ledger's catalog methods and kept in the store, as
 * a service that changes its prices without a deploy does.
 */
import { createLedger, defineCatalog, type EventStore, type Ledger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';

export const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
});

/** The same catalog, built through the API into the store. */
async function buildCatalog(ledger: Ledger): Promise<void> {
  await ledger.defineCurrency({ code: 'credits', decimals: 0 });
  await ledger.defineFeature({ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } });
  await ledger.definePlan({
    id: 'free',
    interval: 'month',
    grants: [{ currency: 'credits', amount: '100' }],
  });
}

export async function walkthrough(
  store: EventStore,
  log: (line: string) => void = console.log,
  catalogIn: 'code' | 'store' = 'code',
): Promise<void> {
  const ledger = catalogIn === 'code' ? createLedger({ catalog, store }) : createLedger({ store });
  if (catalogIn === 'store') await buildCatalog(ledger);
  await ledger.createCustomer({ customerId: 'cus_123' });
  await ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
  await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });

  // One page, oldest first: a new customer's statement fits in it.
  const { data: entries } = await ledger.entries({ customerId: 'cus_123', currency: 'credits' });
  log(['at'.padEnd(24), 'kind'.padEnd(6), 'amount'.padStart(7), 'balance'.padStart(8)].join('  '));
  for (const entry of entries) {
    const amount = entry.amount.startsWith('-') ? entry.amount : `+${entry.amount}`;
    log(
      [entry.at.padEnd(24), entry.kind.padEnd(6), amount.padStart(7), entry.balance.padStart(8)].join('  '),
    );
  }
  const [account] = await ledger.creditAccounts({ customerId: 'cus_123' });
  log(`balance of cus_123: ${account?.balance} ${account?.currency}`);
  await ledger.close();
}

if (import.meta.url === `file://${process.argv[1]}`) await walkthrough(memoryStore());
