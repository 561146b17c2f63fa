/**
 * Group 2: `creditAccounts` for a customer with 100, 10k and 1M events, read cold: a fresh ledger on a
 * store that already holds the stream, so the read is snapshot + tail, as after a restart or a cache
 * eviction.
 *
 * How the streams are built: the generator's events, hash-chained as the ledger writes them
 * (`toNewEvents`), appended straight to the store in batches. A ledger with the default `snapshotEvery`
 * (`DEFAULT_SNAPSHOT_EVERY`, n) snapshots at the head whenever its version crosses a multiple of n, so a
 * reader finds the snapshot 0 to n − 1 events behind the head; the streams put it (n − 1)/2 behind (one 10k
 * stream n − 1, the worst case). It is written the way the writer writes it
 * (`StreamCache.writeSnapshot` of the head the writer would hold then). The 100-event stream has no
 * snapshot and is read in full (a replay of 100 events); it is the baseline.
 */
import { createLedger, defineCatalog, type EventStore, type NewEvent, type RecordedEvent } from '@tally/core';
import { fold } from '@tally/core/pure';
import { memoryStore } from '@tally/store-memory';
import { sqliteStore } from '@tally/store-sqlite';
import { spendableGrants } from '../../packages/core/src/consumption-order.ts';
import { DEFAULT_SNAPSHOT_EVERY } from '../../packages/core/src/ledger/create-ledger.ts';
import { StreamCache, type StreamHead } from '../../packages/core/src/ledger/streams.ts';
import { formatAmount } from '../../packages/core/src/money.ts';
import {
  type GroupResult,
  goal,
  goalAtMost,
  type Measurement,
  measureAll,
  progress,
  QUICK,
  ratioOf,
} from './harness.ts';
import { removeScratch, sqlitePath } from './stores.ts';
import { CURRENCY, catalogInput, generateStream, STEP_MS, toNewEvents } from './stream.ts';

// Quick (the CI smoke) keeps the long stream short: generating and chaining it is most of the group's time.
const LENGTHS = QUICK ? [100, 10_000, 20_000] : [100, 10_000, 1_000_000];
const SNAPSHOT_EVERY = DEFAULT_SNAPSHOT_EVERY;
/** Events past the snapshot: a ledger snapshots every n events, so a reader meets 0 to n − 1, (n − 1)/2 on average. */
export const TYPICAL_TAIL = Math.round((SNAPSHOT_EVERY - 1) / 2);
const WORST_TAIL = SNAPSHOT_EVERY - 1;
const BATCH = 2_000;
/**
 * A realistic short history: a customer with a few snapshots behind it (the default `snapshotEvery`),
 * read cold and warm. Cold ÷ warm is what a cache miss costs over a hit, the common
 * read in a fleet of processes each holding a slice of the customers.
 */
const SHORT_HISTORY = 150;

const label = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n));

export interface Prepared {
  readonly customerId: string;
  readonly events: RecordedEvent[];
  readonly chained: NewEvent[];
  /** Stream version of the snapshot, or null for a stream read in full (the baseline). */
  readonly snapshotAt: number | null;
  readonly clock: Date;
  readonly balance: string;
}

export async function readsGroups(): Promise<GroupResult[]> {
  const catalog = defineCatalog(catalogInput);
  progress.line('reads · generating and hash-chaining the streams');
  const longest = generateStream(Math.max(...LENGTHS)).events;
  const streams = [
    ...LENGTHS.map((length, i) => prepareStream(longest.slice(0, length), i === 0 ? null : TYPICAL_TAIL)),
    prepareStream(longest.slice(0, LENGTHS[1]!), WORST_TAIL, 'worst'),
    prepareStream(longest.slice(0, SHORT_HISTORY), TYPICAL_TAIL, 'short'),
  ];
  const short = streams.at(-1)!;
  const coldShortName = `cold, ${SHORT_HISTORY} events (snapshot + ${TYPICAL_TAIL}-event tail)`;
  const warmShortName = `warm, ${SHORT_HISTORY} events (same ledger, state cached)`;
  const missShortName = `miss, ${SHORT_HISTORY} events (running ledger, customer not in its cache)`;
  const results: GroupResult[] = [];
  for (const [storeName, open] of [
    ['memory', () => memoryStore()],
    ['SQLite', () => sqliteStore({ filename: sqlitePath('reads'), synchronous: 'FULL' })],
  ] as const) {
    const store: EventStore = open();
    for (const stream of streams) {
      progress.line(`reads · ${storeName} · loading ${stream.customerId}`);
      await loadStream(store, stream);
    }
    const cold = (p: Prepared) => async () => {
      const ledger = createLedger({ catalog, store, clock: () => p.clock, snapshotEvery: SNAPSHOT_EVERY });
      const [account] = await ledger.creditAccounts({ customerId: p.customerId });
      if (account?.balance !== p.balance)
        throw new Error(`${p.customerId}: read ${account?.balance}, expected ${p.balance}`);
    };
    const biggest = streams[LENGTHS.length - 1]!;
    const warmLedger = createLedger({
      catalog,
      store,
      clock: () => biggest.clock,
      snapshotEvery: SNAPSHOT_EVERY,
    });
    const warmShort = createLedger({
      catalog,
      store,
      clock: () => short.clock,
      snapshotEvery: SNAPSHOT_EVERY,
    });
    // A cache miss in a running process: the ledger exists and reads the customer from the store
    // (snapshot + tail) because its cache does not hold it; cacheSize 0 makes every read one. A cold
    // row adds opening a ledger, as after a restart.
    const missShort = createLedger({
      catalog,
      store,
      clock: () => short.clock,
      snapshotEvery: SNAPSHOT_EVERY,
      cacheSize: 0,
    });
    const describe = (p: Prepared) =>
      p.snapshotAt === null
        ? 'no snapshot: full replay'
        : `snapshot + ${p.events.length - p.snapshotAt}-event tail`;
    const measurements: Measurement[] = streams.map((p, i) => ({
      name: `cold, ${label(p.events.length)} events (${describe(p)})`,
      baseline: i === 0,
      fn: cold(p),
    }));
    measurements.push(
      {
        name: `warm, ${label(biggest.events.length)} events (same ledger, state cached)`,
        fn: async () => {
          await warmLedger.creditAccounts({ customerId: biggest.customerId });
        },
      },
      {
        name: warmShortName,
        fn: async () => {
          await warmShort.creditAccounts({ customerId: short.customerId });
        },
      },
      {
        name: missShortName,
        fn: async () => {
          await missShort.creditAccounts({ customerId: short.customerId });
        },
      },
    );
    const rows = await measureAll(`reads · ${storeName}`, measurements);
    results.push({
      id: `reads-${storeName.toLowerCase()}`,
      title: `2. Balance read on a long stream: creditAccounts, ${storeName} store`,
      unit: 'one creditAccounts call on a fresh ledger (cold), a ledger that read it before (warm), or one that keeps no state (miss)',
      rows,
      goals: [
        goal(
          `cold ${label(biggest.events.length)} ÷ cold 100 (1M within 2× of 100)`,
          ratioOf(rows, rows[LENGTHS.length - 1]!.name, rows[0]!.name),
          0.5,
        ),
        goalAtMost(
          `miss ÷ warm, ${SHORT_HISTORY} events (a cache miss over a hit; time per read)`,
          ratioOf(rows, warmShortName, missShortName),
          10,
        ),
        goalAtMost(
          `cold ÷ warm, ${SHORT_HISTORY} events (a miss plus opening a ledger, as after a restart; time per read)`,
          ratioOf(rows, warmShortName, coldShortName),
          10,
        ),
      ],
      extra: {
        [`snapshot of the ${label(biggest.events.length)} stream (JSON bytes)`]: await snapshotBytes(
          store,
          biggest.customerId,
        ),
        'grants in that snapshot (live / all)': await snapshotGrants(store, biggest.customerId),
      },
      notes: [
        `streams appended straight to the store in ${BATCH}-event batches; snapshots written with StreamCache.writeSnapshot from the head a writer would hold (live grants pruned as its last deduction left them), ${TYPICAL_TAIL} events behind the head (the average a reader meets with snapshotEvery ${SNAPSHOT_EVERY}); one 10k stream has the worst case, ${WORST_TAIL}`,
      ],
    });
    await store.close();
  }
  removeScratch();
  return results;
}

/** One customer's stream, hash-chained as the ledger writes it, with the answer a read must give. */
export function prepareStream(generated: RecordedEvent[], tail: number | null, suffix = ''): Prepared {
  const customerId = `cus_${label(generated.length)}${suffix}`;
  // The generator names one customer; each stream gets its own.
  const events = generated.map((event) =>
    event.type === 'customer_created'
      ? ({ ...event, data: { ...event.data, customerId } } as RecordedEvent)
      : event,
  );
  const account = fold(events).accounts.get(CURRENCY)!;
  let credit = 0n;
  for (const grant of account.live) if (grant.status === 'active') credit += grant.remaining;
  const lastAtMs = Date.parse(events.at(-1)!.at);
  return {
    customerId,
    events,
    chained: toNewEvents(events).events,
    snapshotAt: tail === null ? null : events.length - tail,
    clock: new Date(lastAtMs + STEP_MS),
    balance: formatAmount(credit - account.debt, account.decimals),
  };
}

export async function loadStream(store: EventStore, p: Prepared): Promise<void> {
  const streamId = `customer-${p.customerId}`;
  const append = async (from: number, to: number) => {
    for (let i = from; i < to; i += BATCH) {
      await store.append(streamId, p.chained.slice(i, Math.min(to, i + BATCH)), { expectedVersion: i });
    }
  };
  if (p.snapshotAt === null) {
    await append(0, p.events.length);
    return;
  }
  await append(0, p.snapshotAt);
  await new StreamCache(store, 1).writeSnapshot(p.customerId, writerHead(p, p.snapshotAt));
  await append(p.snapshotAt, p.events.length);
}

/**
 * The head a writer holds once it has appended the first `version` events: their fold, with the live
 * grant lists pruned the way its last deduction pruned them (`spendableGrants` at that instant).
 */
function writerHead(p: Prepared, version: number): StreamHead {
  const state = fold(p.events.slice(0, version));
  const atMs = Date.parse(state.lastAt);
  for (const account of state.accounts.values()) spendableGrants(account, atMs, null);
  return { state, hash: p.chained[version - 1]!.metadata.hash as string };
}

async function snapshotBytes(store: EventStore, customerId: string): Promise<number> {
  const snapshot = await store.readSnapshot(`customer-${customerId}`);
  return snapshot === null ? 0 : JSON.stringify(snapshot.state).length;
}

async function snapshotGrants(store: EventStore, customerId: string): Promise<string> {
  const snapshot = await store.readSnapshot(`customer-${customerId}`);
  const state = (snapshot?.state as { state?: { grants?: unknown[]; accounts?: { live: unknown[] }[] } })
    ?.state;
  const live = (state?.accounts ?? []).reduce((sum, a) => sum + a.live.length, 0);
  return `${live} / ${state?.grants?.length ?? 0}`;
}
