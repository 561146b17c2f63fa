/**
 * Group 10: paging the statement and exporting it. `entries` pages of 100 lines, read cold (a fresh
 * ledger on a store that already holds the stream, its snapshot as far behind the head as in group 2),
 * for a customer with 100 events (the baseline) and one with 1,000,000: the latest page (newest first,
 * no cursor), and a page in the middle (oldest first, from a cursor half way through the history).
 * Then the memory an export of the long customer takes: `process.memoryUsage()` after `global.gc()`
 * before it, sampled after every chunk while it runs, against the size of what it wrote.
 */
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { sqliteStore } from '@tally/store-sqlite';
import { type GroupResult, goal, type Measurement, measureAll, progress, QUICK, ratioOf } from './harness.ts';
import { loadStream, type Prepared, prepareStream, TYPICAL_TAIL } from './reads.ts';
import { removeScratch, sqlitePath } from './stores.ts';
import { CURRENCY, catalogInput, generateStream } from './stream.ts';

const SHORT = 100;
const LONG = QUICK ? 100_000 : 1_000_000;
const PAGE = 100;

const label = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n));
const MB = (bytes: number) => Math.round(bytes / 1e5) / 10;

export async function pagesGroups(): Promise<GroupResult[]> {
  const catalog = defineCatalog(catalogInput);
  progress.line('pages · generating and hash-chaining the streams');
  const longest = generateStream(LONG).events;
  const short = prepareStream(longest.slice(0, SHORT), null, 'p');
  const long = prepareStream(longest, TYPICAL_TAIL, 'p');
  const results: GroupResult[] = [];
  for (const [storeName, open] of [
    ['memory', () => memoryStore()],
    ['SQLite', () => sqliteStore({ filename: sqlitePath('pages'), synchronous: 'FULL' })],
  ] as const) {
    const store: EventStore = open();
    for (const p of [short, long]) {
      progress.line(`pages · ${storeName} · loading ${p.customerId}`);
      await loadStream(store, p);
    }
    const fresh = (p: Prepared) => createLedger({ catalog, store, clock: () => p.clock });
    const latest = (p: Prepared) => async () => {
      const page = await fresh(p).entries({
        customerId: p.customerId,
        currency: CURRENCY,
        order: 'newest_first',
        limit: PAGE,
      });
      if (page.data[0]?.balance !== p.balance)
        throw new Error(
          `${p.customerId}: latest page starts at ${page.data[0]?.balance}, expected ${p.balance}`,
        );
    };
    progress.line(`pages · ${storeName} · paging half way through ${p(long)}`);
    const middle = await cursorHalfWay(fresh(long), long);
    const measurements: Measurement[] = [
      { name: `latest page, ${label(SHORT)} events`, baseline: true, fn: latest(short) },
      { name: `latest page, ${label(LONG)} events`, fn: latest(long) },
      {
        name: `middle page, ${label(LONG)} events (from a cursor half way)`,
        fn: async () => {
          const page = await fresh(long).entries({
            customerId: long.customerId,
            currency: CURRENCY,
            limit: PAGE,
            cursor: middle,
          });
          if (page.data.length !== PAGE) throw new Error(`middle page holds ${page.data.length} lines`);
        },
      },
    ];
    const rows = await measureAll(`pages · ${storeName}`, measurements);
    progress.line(`pages · ${storeName} · exporting ${p(long)}`);
    const exported = await exportMemory(fresh(long), long);
    results.push({
      id: `pages-${storeName.toLowerCase()}`,
      title: `10. Statement pages and export: entries, ${storeName} store`,
      unit: `one entries call of ${PAGE} lines on a fresh ledger (cold: snapshot + tail, then the page's slice)`,
      rows,
      goals: [
        goal(
          `latest page ${label(LONG)} ÷ latest page ${label(SHORT)} (within 2×)`,
          ratioOf(rows, rows[1]!.name, rows[0]!.name),
          0.5,
        ),
        goal(
          `middle page ${label(LONG)} ÷ latest page ${label(SHORT)} (O(page), within 2×)`,
          ratioOf(rows, rows[2]!.name, rows[0]!.name),
          0.5,
        ),
      ],
      extra: exported,
      notes: [
        `streams of group 2's generator appended straight to the store, the long one with a snapshot ${TYPICAL_TAIL} events behind its head; the middle page's cursor comes from paging oldest first, 1,000 lines a page, to half way`,
        'export memory: heap and RSS after global.gc() before the export, highest seen after each chunk while it ran (chunks are consumed and dropped, as a server writing to a socket does); retained: heap right after a global.gc() every 20 chunks (20,000 lines), its time left out of the export time',
      ],
    });
    await store.close();
  }
  removeScratch();
  return results;
}

const p = (prepared: Prepared) => prepared.customerId;

/** A cursor half way through the long statement, reached the way a client would: page after page. */
async function cursorHalfWay(ledger: ReturnType<typeof createLedger>, prepared: Prepared): Promise<string> {
  let cursor: string | null = null;
  let read = 0;
  const half = Math.floor(prepared.events.length / 2);
  while (read < half) {
    const page: Awaited<ReturnType<typeof ledger.entries>> = await ledger.entries({
      customerId: prepared.customerId,
      currency: CURRENCY,
      limit: 1_000,
      cursor,
    });
    read += page.data.length;
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  if (cursor === null) throw new Error('the statement ended before half way');
  return cursor;
}

async function exportMemory(
  ledger: ReturnType<typeof createLedger>,
  prepared: Prepared,
): Promise<Record<string, unknown>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const start = process.memoryUsage();
  let peakHeap = start.heapUsed;
  let peakRss = start.rss;
  let peakRetained = start.heapUsed;
  let bytes = 0;
  let lines = 0;
  let chunks = 0;
  let gcMs = 0;
  const began = performance.now();
  for await (const chunk of ledger.exportEntries({ customerId: prepared.customerId, format: 'csv' })) {
    bytes += Buffer.byteLength(chunk);
    lines += chunk.split('\r\n').length - 1;
    const now = process.memoryUsage();
    if (now.heapUsed > peakHeap) peakHeap = now.heapUsed;
    if (now.rss > peakRss) peakRss = now.rss;
    // Every 20th chunk, what the export still holds once its garbage is collected.
    if (gc !== undefined && ++chunks % 20 === 0) {
      const t = performance.now();
      gc();
      gcMs += performance.now() - t;
      peakRetained = Math.max(peakRetained, process.memoryUsage().heapUsed);
    }
  }
  const seconds = (performance.now() - began - gcMs) / 1000;
  return {
    [`export of ${label(prepared.events.length)} events, CSV`]: `${lines - 1} lines, ${MB(bytes)} MB in ${seconds.toFixed(1)} s`,
    'export: peak heap above the start, garbage included (MB)': MB(peakHeap - start.heapUsed),
    'export: peak retained heap above the start, after gc every 20 chunks (MB)': MB(
      peakRetained - start.heapUsed,
    ),
    'export: peak RSS above the start (MB)': MB(peakRss - start.rss),
    'export: peak heap ÷ bytes written': Math.round(((peakHeap - start.heapUsed) / bytes) * 1000) / 1000,
    gc: gc === undefined ? 'not exposed (run with --expose-gc): figures include garbage' : 'exposed',
  };
}
