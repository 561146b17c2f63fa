/**
 * Group 7: the heap a ledger holds per customer in its cache of folded states (`cacheSize`), and that
 * the cache bounds it. N customers, each created, subscribed to a monthly plan and sent 3 usages, are
 * written to a memory store by a ledger that caches one customer; then, `global.gc()` before and after,
 * a fresh ledger reads every customer once (`creditAccounts`): with `cacheSize` N it holds all of them
 * (heap per customer = the difference ÷ N), with `cacheSize` N/10 a tenth. The store's own heap is on
 * both sides of each difference, so it is not counted.
 */
import { type CatalogInput, createLedger, defineCatalog, type Ledger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { type GroupResult, goalAtMost, progress, QUICK } from './harness.ts';
import { catalogInput } from './stream.ts';

const CUSTOMERS = QUICK ? 1_000 : 10_000;
const USAGES = 3;
/** `createLedger`'s default `cacheSize` (packages/core/src/ledger/create-ledger.ts). */
const DEFAULT_CACHE_SIZE = 10_000;
const FLEET = 100_000;
/** Commands in flight while the customers are written: enough for group commit to batch them. */
const IN_FLIGHT = 64;

const catalog: CatalogInput = {
  ...catalogInput,
  plans: [{ id: 'monthly', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
};

export async function cacheGroup(): Promise<GroupResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc (pnpm bench does)');
  const defined = defineCatalog(catalog);
  const store = memoryStore();
  const ids = Array.from({ length: CUSTOMERS }, (_, i) => `cus_heap_${String(i).padStart(6, '0')}`);

  progress.line(`cache · writing ${CUSTOMERS.toLocaleString('en')} customers`);
  const writer = createLedger({ catalog: defined, store, cacheSize: 1 });
  for (let i = 0; i < ids.length; i += IN_FLIGHT) {
    await Promise.all(ids.slice(i, i + IN_FLIGHT).map((customerId) => writeCustomer(writer, customerId)));
  }

  /** Heap a fresh ledger with this cacheSize holds once it has read every customer. */
  const heldBy = async (cacheSize: number): Promise<number> => {
    // A turn of the timers first: what the last ledger scheduled (group commit's turns) lets go of it.
    await settle();
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const reader = createLedger({ catalog: defined, store, cacheSize });
    for (const customerId of ids) await reader.creditAccounts({ customerId });
    await settle();
    gc();
    gc();
    const after = process.memoryUsage().heapUsed;
    // Read once more so the reader (and its cache) is certainly alive at the second measurement.
    await reader.creditAccounts({ customerId: ids[0]! });
    return after - before;
  };
  progress.line(`cache · reading them with cacheSize ${CUSTOMERS.toLocaleString('en')}`);
  const all = await heldBy(CUSTOMERS);
  const perCustomer = all / CUSTOMERS;
  const tenth = CUSTOMERS / 10;
  progress.line(`cache · reading them with cacheSize ${tenth.toLocaleString('en')}`);
  const bounded = await heldBy(tenth);
  progress.done += 1;
  const fleetBound = DEFAULT_CACHE_SIZE * perCustomer;
  return {
    id: 'cache',
    title: "7. Heap per customer in the ledger's cache (memory store)",
    unit: `heap after global.gc(), a fresh ledger before and after reading ${CUSTOMERS.toLocaleString('en')} customers (each: created, subscribed to a monthly plan of 100 credits, ${USAGES} usages)`,
    rows: [],
    goals: [
      // A tenth of the customers cached should hold about a tenth of the heap, plus what a ledger
      // holds whatever its cache (the catalog's and amounts' caches): 0.2× leaves room for that.
      goalAtMost(
        `heap with cacheSize ${tenth.toLocaleString('en')} ÷ heap with cacheSize ${CUSTOMERS.toLocaleString('en')}, both after reading all ${CUSTOMERS.toLocaleString('en')} customers (the cache bounds the heap)`,
        all > 0 ? bounded / all : null,
        0.2,
      ),
    ],
    extra: {
      'heap per cached customer (bytes)': Math.round(perCustomer),
      [`heap with cacheSize ${CUSTOMERS.toLocaleString('en')} (all cached, MB)`]: mb(all),
      [`heap with cacheSize ${tenth.toLocaleString('en')} (MB)`]: mb(bounded),
      [`bound for a ${FLEET.toLocaleString('en')}-customer ledger at the default cacheSize ${DEFAULT_CACHE_SIZE.toLocaleString('en')} (MB)`]:
        mb(fleetBound),
      [`the same ${FLEET.toLocaleString('en')} customers all cached (cacheSize ${FLEET.toLocaleString('en')}, MB)`]:
        mb(FLEET * perCustomer),
    },
    notes: [
      'the cache evicts the least recently used customer past cacheSize, so what it holds is cacheSize × heap per customer, however many customers the ledger serves; a customer with a longer history holds more only as far as its live grants and holds grow (finished ones are archived out of the cached state)',
    ],
  };
}

async function writeCustomer(ledger: Ledger, customerId: string): Promise<void> {
  await ledger.createCustomer({ customerId });
  await ledger.subscribe({ customerId, planId: 'monthly' });
  for (let i = 0; i < USAGES; i++) await ledger.trackUsage({ customerId, feature: 'api-call', quantity: 1 });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
