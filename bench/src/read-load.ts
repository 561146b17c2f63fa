/**
 * Group 8: reads under write load. One reader calls `creditAccounts` on the customers 64 writers are
 * using (round robin over them, each read in a turn of the event loop of its own, as a request is), on the same ledger in the same process: first with no write load (the
 * baseline), then while the 64 callers each send `trackUsage` on a customer of their own in a closed
 * loop. The writers start before the timed span and stop after it (`before`/`after`), so only the
 * reader's calls are samples. SQLite (WAL, synchronous FULL) and Postgres.
 */
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import { formatMs, type GroupResult, measureAll, progress } from './harness.ts';
import {
  PG_URL,
  postgresDurability,
  postgresReachable,
  resetSchemas,
  schemaName,
  sqlitePath,
} from './stores.ts';
import { catalogInput } from './stream.ts';
import { fund, skipped, WIDE } from './writes.ts';

const SCHEMA = schemaName('tally_bench_read_load');
const IDLE = 'creditAccounts, no write load';
const LOADED = `creditAccounts while ${WIDE} callers write (trackUsage, each on its own customer)`;

export async function readLoadGroups(): Promise<GroupResult[]> {
  const results: GroupResult[] = [];
  results.push(
    await storeGroup(
      'SQLite',
      () => sqliteStore({ filename: sqlitePath('read-load'), synchronous: 'FULL' }),
      'file in WAL mode, synchronous FULL',
    ),
  );
  const unreachable = await postgresReachable();
  if (unreachable !== null) {
    results.push(skipped('read-load-postgres', '8. Reads under write load: Postgres store', unreachable));
  } else {
    await resetSchemas(SCHEMA);
    results.push(
      await storeGroup(
        'Postgres',
        () => postgresStore({ connectionString: PG_URL }, { schema: SCHEMA }),
        `${PG_URL}, schema ${SCHEMA} (dropped at the end); server: ${await postgresDurability()}`,
      ),
    );
    await resetSchemas(SCHEMA);
  }
  return results;
}

async function storeGroup(name: string, open: () => EventStore, setting: string): Promise<GroupResult> {
  const ledger = createLedger({ catalog: defineCatalog(catalogInput), store: open() });
  const customers = Array.from({ length: WIDE }, (_, i) => `cus_read_load_${i}`);
  progress.line(`read-load · ${name} · creating customers`);
  for (const customerId of customers) await fund(ledger, customerId);

  let next = 0;
  // Each read starts in a turn of its own, as a request does: a reader looping on promises alone
  // would hold the event loop (SQLite's calls are synchronous) and starve the writers it is measured
  // beside (119 writes/s beside it in a first run, against about 2,800/s alone).
  const read = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    await ledger.creditAccounts({ customerId: customers[next++ % customers.length]! });
  };
  // The write load: one closed loop per customer, started before each phase and stopped after it.
  let stopping = false;
  let loops: Promise<void>[] = [];
  let writes = 0;
  let loadStarted = 0;
  let writesPerSec = Number.NaN;
  const startLoad = () => {
    stopping = false;
    writes = 0;
    loadStarted = performance.now();
    loops = customers.map(async (customerId) => {
      while (!stopping) {
        await ledger.trackUsage({ customerId, feature: 'api-call', quantity: 1 });
        writes++;
      }
    });
  };
  const stopLoad = async (phase: 'warmup' | 'run') => {
    stopping = true;
    await Promise.all(loops);
    if (phase === 'run') writesPerSec = (writes * 1000) / (performance.now() - loadStarted);
  };

  const rows = await measureAll(`read-load · ${name}`, [
    { name: IDLE, baseline: true, fn: read },
    { name: LOADED, fn: read, before: startLoad, after: stopLoad },
  ]);
  await ledger.close();
  const idle = rows.find((row) => row.name === IDLE);
  const loaded = rows.find((row) => row.name === LOADED);
  const times = (a: number | null | undefined, b: number | null | undefined) =>
    a == null || b == null || b === 0 ? 'n/a' : `${(a / b).toFixed(1)}×`;
  return {
    id: `read-load-${name.toLowerCase()}`,
    title: `8. Reads under write load: ${name} store`,
    unit: `one creditAccounts call (one reader, round robin over the ${WIDE} writers' customers, all cached)`,
    rows,
    goals: [],
    extra: {
      'p50 / p99, no write load': `${formatMs(idle?.p50Ms ?? null)} / ${formatMs(idle?.p99Ms ?? null)}`,
      [`p50 / p99, ${WIDE} callers writing`]: `${formatMs(loaded?.p50Ms ?? null)} / ${formatMs(loaded?.p99Ms ?? null)}`,
      'p50 under load ÷ p50 idle': times(loaded?.p50Ms, idle?.p50Ms),
      'p99 under load ÷ p99 idle': times(loaded?.p99Ms, idle?.p99Ms),
      'writes/s beside the reader (last round)': Number.isFinite(writesPerSec)
        ? Math.round(writesPerSec)
        : 'n/a',
    },
    notes: [
      `${setting}; reads and writes share one ledger, one store and one event loop, as in a service`,
      'no goal in issue 16: the figures are reported',
    ],
  };
}
