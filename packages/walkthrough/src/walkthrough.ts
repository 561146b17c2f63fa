/**
 * The canonical walkthrough: a free plan grants 100 credits a month, `ai-generation` costs 10,
 * `cus_123` subscribes and uses it once. Prints the ledger and the balance.
 */
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { memoryStore } from '@tally/store-memory';

export const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
});

export async function walkthrough(
  store: EventStore,
  log: (line: string) => void = console.log,
): Promise<void> {
  const ledger = createLedger({ catalog, store });
  await ledger.createCustomer({ customerId: 'cus_123' });
  await ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
  await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });

  const entries = await ledger.entries({ customerId: 'cus_123', currency: 'credits' });
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
