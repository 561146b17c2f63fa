import { createLedger, defineCatalog } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { catalogInput } from './stream.ts';

// CPU time per trackUsage (process.cpuUsage: time on a core, not wall time, so a loaded machine's waits
// do not count), memory store, one caller; printed as µs.
const ledger = createLedger({ catalog: defineCatalog(catalogInput), store: memoryStore() });
const customerId = 'cus_prof';
await ledger.createCustomer({ customerId });
await ledger.grant({ customerId, currency: 'credits', amount: '1000000000.00', source: 'top_up' });
const N = Number(process.env.N ?? 20000);
for (let i = 0; i < 3000; i++) await ledger.trackUsage({ customerId, feature: 'api-call', quantity: 1 });
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) await ledger.trackUsage({ customerId, feature: 'api-call', quantity: 1 });
const c = process.cpuUsage(c0);
console.log(((c.user + c.system) / N).toFixed(2));
