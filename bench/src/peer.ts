/**
 * Group 4: the same append-and-read workload through Emmett (`@event-driven-io/emmett` with its SQLite
 * and PostgreSQL event stores), on the same databases as Tally, measured in the same rounds.
 *
 * Emmett's side is written the way its docs write a command: `CommandHandler({ evolve, initialState })`
 * reads the stream, folds it, runs the decision (refuse if the balance is short, else one
 * `CreditsDeducted` event) and appends with the expected version. Its reads are `aggregateStream`.
 * Emmett keeps no state between commands and writes no snapshots, so every command replays the whole
 * stream; its streams start with one grant and grow with the run, as Tally's do.
 */
import type { EventStore as EmmettStore, Event } from '@event-driven-io/emmett';
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import pg from 'pg';
import {
  type GroupResult,
  goal,
  type Measurement,
  measureAll,
  onOwnId,
  progress,
  ratioOf,
} from './harness.ts';
import { loadStream, prepareStream, TYPICAL_TAIL } from './reads.ts';
import {
  PG_URL,
  postgresDurability,
  postgresReachable,
  resetSchemas,
  schemaName,
  sqlitePath,
} from './stores.ts';
import { catalogInput, generateStream } from './stream.ts';
import { CALLERS, fund, skipped } from './writes.ts';

const TALLY_SCHEMA = schemaName('tally_peer');
const EMMETT_SCHEMA = schemaName('emmett_bench');
const READ_LENGTH = 1_000;
const COST = 25;

type CreditsGranted = Event<'CreditsGranted', { amount: number }>;
type CreditsDeducted = Event<
  'CreditsDeducted',
  { usageId: string; feature: string; quantity: number; cost: number; at: string }
>;
type CreditEvent = CreditsGranted | CreditsDeducted;
interface Balance {
  balance: number;
}

const evolve = (state: Balance, event: CreditEvent): Balance => ({
  balance:
    event.type === 'CreditsGranted' ? state.balance + event.data.amount : state.balance - event.data.cost,
});
const initialState = (): Balance => ({ balance: 0 });

/** Emmett's command handler, loaded when the group runs so that a failed install fails only this group. */
async function commandHandler() {
  const { CommandHandler } = await import('@event-driven-io/emmett');
  return CommandHandler<Balance, CreditEvent>({ evolve, initialState });
}
type Handle = Awaited<ReturnType<typeof commandHandler>>;

let usageCounter = 0;
/** Emmett's trackUsage: refuse if short, else one deduction. */
const trackUsage = (handle: Handle, store: EmmettStore, streamId: string) =>
  handle(store, streamId, (state): CreditsDeducted => {
    if (state.balance < COST) throw new Error('insufficient credits');
    return {
      type: 'CreditsDeducted',
      data: {
        usageId: `usage_${++usageCounter}`,
        feature: 'api-call',
        quantity: 1,
        cost: COST,
        at: new Date().toISOString(),
      },
    };
  });

const EMMETT_ONE = 'Emmett: command handler, 1 caller';
const TALLY_ONE = 'Tally: trackUsage, 1 caller';
const EMMETT_MANY = `Emmett: command handler, ${CALLERS} callers on ${CALLERS} customers`;
const TALLY_MANY = `Tally: trackUsage, ${CALLERS} callers on ${CALLERS} customers`;
const EMMETT_READ = `Emmett: aggregateStream, ${READ_LENGTH / 1000}k events`;
const TALLY_READ = `Tally: creditAccounts cold, ${READ_LENGTH / 1000}k events`;

export async function peerGroups(): Promise<GroupResult[]> {
  const results: GroupResult[] = [];
  let handle: Handle;
  try {
    handle = await commandHandler();
  } catch (error) {
    return [
      skipped('peer', '4. Peer: Emmett vs Tally', `@event-driven-io/emmett does not load: ${message(error)}`),
    ];
  }
  const file = sqlitePath('peer');
  results.push(
    await peerGroup(
      'SQLite',
      handle,
      () => sqliteStore({ filename: file, synchronous: 'FULL' }),
      async () => {
        const { getSQLiteEventStore, sqliteConnection } = await import('@event-driven-io/emmett-sqlite');
        return {
          // One connection for the whole run. Emmett's default (`getSQLiteEventStore({ fileName })`, a
          // connection per operation) fails here; see bench/README.md.
          store: getSQLiteEventStore({
            fileName: file,
            connectionOptions: { singleton: true, connection: sqliteConnection({ fileName: file }) },
          }),
          close: async () => undefined,
        };
      },
      "one file for both, WAL, synchronous FULL (Emmett's sqlite3 connection defaults to FULL and sets WAL itself); Emmett on one shared connection, so no concurrent rows: its transactions would nest on that connection, and its default connection-per-operation setup fails here (bench/README.md)",
    ),
  );
  const unreachable = await postgresReachable();
  if (unreachable !== null) {
    results.push(skipped('peer-postgres', '4. Peer: Emmett vs Tally, Postgres', unreachable));
    return results;
  }
  await resetSchemas(TALLY_SCHEMA, EMMETT_SCHEMA);
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${EMMETT_SCHEMA}`);
  await admin.end();
  const emmettUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=-c%20search_path%3D${EMMETT_SCHEMA}`;
  results.push(
    await peerGroup(
      'Postgres',
      handle,
      () => postgresStore({ connectionString: PG_URL }, { schema: TALLY_SCHEMA }),
      async () => {
        const { getPostgreSQLEventStore } = await import('@event-driven-io/emmett-postgresql');
        const store = getPostgreSQLEventStore(emmettUrl);
        return { store, close: () => store.close() };
      },
      `same server and database; Tally in schema ${TALLY_SCHEMA}, Emmett in ${EMMETT_SCHEMA} (search_path); ${await postgresDurability()}`,
    ),
  );
  return results;
}

interface EmmettSide {
  readonly store: EmmettStore;
  readonly close: () => Promise<void>;
}

async function peerGroup(
  name: string,
  handle: Handle,
  openTally: () => EventStore,
  openEmmett: () => Promise<EmmettSide>,
  setting: string,
): Promise<GroupResult> {
  progress.line(`peer · ${name} · setting up`);
  let emmett: EmmettSide;
  try {
    emmett = await openEmmett();
  } catch (error) {
    const title = `4. Peer: Emmett vs Tally on ${name}, same workload`;
    return skipped(
      `peer-${name.toLowerCase()}`,
      title,
      `Emmett's ${name} store does not load: ${message(error)}`,
    );
  }
  const catalog = defineCatalog(catalogInput);
  const tallyStore = openTally();
  const ledger = createLedger({ catalog, store: tallyStore });
  const tag = Date.now().toString(36);
  const concurrent = name === 'Postgres';

  // Writers: one customer per caller, each funded with one grant.
  const emmettIds = Array.from({ length: CALLERS + 1 }, (_, i) => `emmett-${tag}-${i}`);
  for (const streamId of emmettIds) {
    await retryBusy(() =>
      emmett.store.appendToStream(streamId, [{ type: 'CreditsGranted', data: { amount: 1e12 } }]),
    );
  }
  const tallyIds = Array.from({ length: CALLERS + 1 }, (_, i) => `cus_peer_${tag}_${i}`);
  for (const customerId of tallyIds) await fund(ledger, customerId);

  // Readers: a 1k-event stream each. Tally's is the realistic generated stream with its snapshot where
  // a reader meets it on average (see reads.ts); Emmett's is one grant and 999 deductions, no snapshot.
  const readId = `emmett-${tag}-read`;
  const deductions: CreditEvent[] = Array.from({ length: READ_LENGTH - 1 }, (_, i) => ({
    type: 'CreditsDeducted',
    data: { usageId: `u${i}`, feature: 'api-call', quantity: 1, cost: COST, at: new Date().toISOString() },
  }));
  await retryBusy(() =>
    emmett.store.appendToStream(readId, [{ type: 'CreditsGranted', data: { amount: 1e12 } }, ...deductions]),
  );
  const prepared = prepareStream(generateStream(READ_LENGTH).events, TYPICAL_TAIL, `_peer_${tag}`);
  await loadStream(tallyStore, prepared);
  const expected = 1e12 - (READ_LENGTH - 1) * COST;

  const measurements: Measurement[] = [
    { name: EMMETT_ONE, baseline: true, fn: () => trackUsage(handle, emmett.store, emmettIds[0]!) },
  ];
  measurements.push({
    name: TALLY_ONE,
    fn: () => ledger.trackUsage({ customerId: tallyIds[0]!, feature: 'api-call', quantity: 1 }),
  });
  if (concurrent) {
    measurements.push(
      {
        name: EMMETT_MANY,
        callers: CALLERS,
        fn: onOwnId(emmettIds.slice(1), (streamId) => trackUsage(handle, emmett.store, streamId)),
      },
      {
        name: TALLY_MANY,
        callers: CALLERS,
        vs: EMMETT_MANY,
        fn: onOwnId(tallyIds.slice(1), (customerId) =>
          ledger.trackUsage({ customerId, feature: 'api-call', quantity: 1 }),
        ),
      },
    );
  }
  measurements.push(
    {
      name: EMMETT_READ,
      vs: EMMETT_READ,
      fn: async () => {
        const { state } = await emmett.store.aggregateStream(readId, { evolve, initialState });
        if (state.balance !== expected) throw new Error(`Emmett read ${state.balance}, expected ${expected}`);
      },
    },
    {
      name: TALLY_READ,
      vs: EMMETT_READ,
      fn: async () => {
        const cold = createLedger({ catalog, store: tallyStore, clock: () => prepared.clock });
        const [account] = await cold.creditAccounts({ customerId: prepared.customerId });
        if (account?.balance !== prepared.balance) throw new Error(`Tally read ${account?.balance}`);
      },
    },
  );
  const rows = await measureAll(`peer · ${name}`, measurements);
  await emmett.close();
  await ledger.close();
  return {
    id: `peer-${name.toLowerCase()}`,
    title: `4. Peer: Emmett vs Tally on ${name}, same workload`,
    unit: 'one command answered, or one balance read; reads compare with Emmett’s read (#ref)',
    rows,
    goals: [goal(`Tally ÷ Emmett write rate, 1 caller, ${name}`, ratioOf(rows, TALLY_ONE, EMMETT_ONE), 2)],
    extra: concurrent
      ? {
          [`Tally ÷ Emmett, ${CALLERS} callers on ${CALLERS} customers`]: fmt(
            ratioOf(rows, TALLY_MANY, EMMETT_MANY),
          ),
        }
      : {},
    notes: [
      setting,
      'Emmett streams replay in full on every command (no snapshots, no cache); Tally folds only the new tail into a cached state',
    ],
  };
}

/** Emmett's first write creates its schema; a second connection racing it can see SQLITE_BUSY once. */
async function retryBusy<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= 5 || !String(error).includes('SQLITE_BUSY')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

const fmt = (ratio: number | null) => (ratio === null ? 'n/a' : `${ratio.toFixed(2)}×`);
