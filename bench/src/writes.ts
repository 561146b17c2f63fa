/**
 * Group 3: writes through the ledger API (`trackUsage`), per store: one caller; 8 concurrent callers on
 * one customer (where group commit batches what arrives together into one append); 8 callers on 8
 * customers. A caller is a closed loop: it sends its next command when its last one is answered.
 *
 * Baselines, on the same database with the same durability: a hand-written SQL deduct. SQLite (WAL,
 * synchronous FULL, a second connection to the same file): UPDATE the balance and INSERT a ledger row
 * in one BEGIN IMMEDIATE transaction. Postgres (synchronous_commit as the server has it): the same as
 * one statement, a CTE, sent as a plain parameterized query (as the Postgres store sends its own); the
 * same CTE as a named prepared statement is measured beside it. The memory store has no database under it; its group's baseline is Tally's own
 * one-caller rate, so its ratios read as scaling. On both databases a last row writes one event for each
 * of 64 customers in one commit, by hand, on the store's own table: the ceiling of 64 on 64 (see
 * `sqliteWideCommit`).
 */
import { createLedger, defineCatalog, type EventStore, type Ledger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { POSITIONS_PER_TRANSACTION, postgresSchemaSql, postgresStore } from '@tally/store-postgres';
import { sqliteSchemaSql, sqliteStore } from '@tally/store-sqlite';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  formatMs,
  type Goal,
  type GroupResult,
  goal,
  type Measurement,
  measureAll,
  onOwnId,
  progress,
  ratioOf,
} from './harness.ts';
import { limitBaseline } from './limit.ts';
import {
  PG_URL,
  postgresDurability,
  postgresReachable,
  resetSchemas,
  schemaName,
  sqlitePath,
} from './stores.ts';
import { catalogInput } from './stream.ts';

export const CALLERS = 8;
/** Callers in the wide rows, each on a customer of its own: a service with many customers at once. */
export const WIDE = 64;
const TALLY_SCHEMA = schemaName('tally_bench');
const SQL_SCHEMA = schemaName('bench_sql');
/** The store's own tables, made by its DDL, for the 64-customer commit written by hand. */
const SQL_EVENTS_SCHEMA = schemaName('bench_sql_events');
/** Enough credit that no benchmark runs a customer dry. */
const GRANT = '1000000000.00';
const COST_MINOR = 25;

const ONE = 'trackUsage, 1 caller';
const MANY_ON_ONE = `trackUsage, ${CALLERS} callers on 1 customer`;
const MANY_ON_MANY = `trackUsage, ${CALLERS} callers on ${CALLERS} customers`;
const MANY_ON_WIDE = `trackUsage, ${WIDE} callers on ${WIDE} customers`;
const SQL_ONE = 'SQL deduct, 1 caller';
const LIMIT = 'limit baseline: Map lookup, pick grants, build event, JSON, SHA-256';
const WIDE_COMMIT = `SQL: an event for each of ${WIDE} customers in one commit (the store's table)`;

/** A deduct written by hand, and how to close what it opened. */
interface Baseline {
  readonly one: () => Promise<unknown> | unknown;
  readonly onePrepared?: () => Promise<unknown>;
  readonly manyOnOne?: () => Promise<unknown>;
  readonly manyOnMany?: () => Promise<unknown>;
  /** One event row for each of `WIDE` customers in one commit: what a batch of 64 on 64 must write. */
  readonly wideCommit?: { readonly sync: boolean; readonly fn: () => unknown };
  readonly close: () => Promise<void>;
}

export async function writesGroups(): Promise<GroupResult[]> {
  const results: GroupResult[] = [];
  results.push(await storeGroup('memory', () => memoryStore(), null));

  const sqliteFile = sqlitePath('writes');
  results.push(
    await storeGroup(
      'SQLite',
      () => sqliteStore({ filename: sqliteFile, synchronous: 'FULL' }),
      () => sqliteBaseline(sqliteFile),
      'file in WAL mode, synchronous FULL (an fsync per commit), on the project disk; the baseline is a second connection to the same file with the same pragmas (the 64-customer commit has a file of its own). better-sqlite3 is synchronous, so a hand-written deduct cannot overlap callers in one process: its one-caller rate is the baseline for every row',
    ),
  );

  const unreachable = await postgresReachable();
  if (unreachable !== null) {
    results.push(skipped('writes-postgres', '3. Writes through the ledger API: Postgres store', unreachable));
  } else {
    await resetSchemas(TALLY_SCHEMA, SQL_SCHEMA, SQL_EVENTS_SCHEMA);
    results.push(
      await storeGroup(
        'Postgres',
        () => postgresStore({ connectionString: PG_URL }, { schema: TALLY_SCHEMA }),
        () => postgresBaseline(),
        `${PG_URL}, schema ${TALLY_SCHEMA} (baselines: ${SQL_SCHEMA}, ${SQL_EVENTS_SCHEMA}); server: ${await postgresDurability()}`,
      ),
    );
  }
  return results;
}

async function storeGroup(
  name: string,
  open: () => EventStore,
  baseline: (() => Promise<Baseline>) | null,
  setting?: string,
): Promise<GroupResult> {
  const catalog = defineCatalog(catalogInput);
  const store = open();
  const ledger = createLedger({ catalog, store });
  const prefix = `cus_${name.toLowerCase()}_${Date.now().toString(36)}`;
  const one = `${prefix}_one`;
  const shared = `${prefix}_shared`;
  const own = Array.from({ length: CALLERS }, (_, i) => `${prefix}_own${i}`);
  const wide = Array.from({ length: WIDE }, (_, i) => `${prefix}_wide${i}`);
  progress.line(`writes · ${name} · creating customers`);
  for (const customerId of [one, shared, ...own, ...wide]) await fund(ledger, customerId);

  const usage = (customerId: string) => () =>
    ledger.trackUsage({ customerId, feature: 'api-call', quantity: 1 });
  const measurements: Measurement[] = [];
  const base = baseline === null ? null : await baseline();
  if (base !== null) measurements.push({ name: SQL_ONE, baseline: true, fn: base.one });
  if (name === 'memory') {
    const limit = limitBaseline([one], 100_000_000_000n, 2);
    measurements.push({ name: LIMIT, sync: true, fn: () => limit(one, 'api-call', 1, 25n) });
  }
  measurements.push(
    { name: ONE, baseline: base === null, fn: usage(one) },
    { name: MANY_ON_ONE, callers: CALLERS, fn: usage(shared) },
    { name: MANY_ON_MANY, callers: CALLERS, fn: onOwnId(own, (customerId) => usage(customerId)()) },
    { name: MANY_ON_WIDE, callers: WIDE, fn: onOwnId(wide, (customerId) => usage(customerId)()) },
  );
  if (base?.onePrepared !== undefined)
    measurements.push({ name: `${SQL_ONE}, named prepared statement`, fn: base.onePrepared });
  if (base?.manyOnOne !== undefined)
    measurements.push({
      name: `SQL deduct, ${CALLERS} callers on 1 customer`,
      callers: CALLERS,
      fn: base.manyOnOne,
    });
  if (base?.manyOnMany !== undefined)
    measurements.push({
      name: `SQL deduct, ${CALLERS} callers on ${CALLERS} customers`,
      callers: CALLERS,
      fn: base.manyOnMany,
    });
  if (base?.wideCommit !== undefined)
    measurements.push({
      name: WIDE_COMMIT,
      sync: base.wideCommit.sync,
      opsPerCall: WIDE,
      fn: base.wideCommit.fn,
      note: `ops/s in events; p50/p99 per transaction of ${WIDE}`,
    });

  const rows = await measureAll(`writes · ${name}`, measurements);
  await base?.close();
  await ledger.close();

  const goals: Goal[] = [];
  if (name === 'memory')
    goals.push(goal('trackUsage 1 caller ÷ the limit baseline', ratioOf(rows, ONE, LIMIT), 0.5));
  if (name === 'SQLite') goals.push(goal('trackUsage 1 caller ÷ SQL deduct', ratioOf(rows, ONE, SQL_ONE), 1));
  if (name === 'Postgres')
    goals.push(goal('trackUsage 1 caller ÷ SQL deduct 1 caller', ratioOf(rows, ONE, SQL_ONE), 0.8));
  if (name !== 'memory') {
    goals.push(
      goal(`${CALLERS} callers on 1 customer ÷ 1 caller (group commit)`, ratioOf(rows, MANY_ON_ONE, ONE), 5),
      goal(
        `${WIDE} callers on ${WIDE} customers ÷ 1 caller (group commit across customers)`,
        ratioOf(rows, MANY_ON_WIDE, ONE),
        name === 'SQLite' ? 8 : 5,
      ),
      goal(
        `${WIDE} callers on ${WIDE} customers ÷ SQL deduct 1 caller`,
        ratioOf(rows, MANY_ON_WIDE, SQL_ONE),
        5,
      ),
    );
  }
  const wideRow = rows.find((row) => row.name === MANY_ON_WIDE);
  const tail =
    wideRow?.p50Ms == null || wideRow.p99Ms == null || wideRow.p99Ms === 0
      ? null
      : wideRow.p50Ms / wideRow.p99Ms;
  goals.push(goal(`p99 ≤ 4× p50 at ${WIDE} on ${WIDE} (p50 ÷ p99)`, tail, 0.25));
  return {
    id: `writes-${name.toLowerCase()}`,
    title: `3. Writes through the ledger API: ${name} store`,
    unit: 'one command answered (trackUsage, or one SQL deduct); p50/p99 per command',
    rows,
    goals,
    extra: {
      'scaling, 8 callers on 1 customer ÷ 1 caller': fixed(ratioOf(rows, MANY_ON_ONE, ONE)),
      'scaling, 8 callers on 8 customers ÷ 1 caller': fixed(ratioOf(rows, MANY_ON_MANY, ONE)),
      [`scaling, ${WIDE} callers on ${WIDE} customers ÷ 1 caller`]: fixed(ratioOf(rows, MANY_ON_WIDE, ONE)),
      ...(base?.wideCommit === undefined
        ? {}
        : {
            // What the table allows: 64 on 64 over one caller if a command cost no CPU at all, when both
            // would pay only their commits (one caller's taken as the SQL deduct's: one fsync, small rows).
            [`ceiling of ${WIDE} on ${WIDE} ÷ 1 caller at no CPU (the ${WIDE}-customer commit ÷ SQL deduct 1 caller)`]:
              fixed(ratioOf(rows, WIDE_COMMIT, SQL_ONE)),
            [`trackUsage ${WIDE} on ${WIDE} ÷ the ${WIDE}-customer commit`]: fixed(
              ratioOf(rows, MANY_ON_WIDE, WIDE_COMMIT),
            ),
          }),
      [`latency at ${WIDE} on ${WIDE}, p50 / p99`]:
        wideRow?.p50Ms == null || wideRow.p99Ms == null
          ? 'n/a'
          : `${formatMs(wideRow.p50Ms)} / ${formatMs(wideRow.p99Ms)}`,
    },
    notes: setting === undefined ? ['no database: the baseline is the one-caller rate'] : [setting],
  };
}

/** A customer with more credit than any run spends. */
export async function fund(ledger: Ledger, customerId: string): Promise<void> {
  await ledger.createCustomer({ customerId });
  await ledger.grant({ customerId, currency: 'credits', amount: GRANT, source: 'top_up' });
}

/** A better-sqlite3 connection with the pragmas the store's rows run under: WAL, an fsync per commit. */
function openLikeTheStore(filename: string): Database.Database {
  const db = new Database(filename, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  return db;
}

/** UPDATE + INSERT in one BEGIN IMMEDIATE transaction, on a second connection to the store's file. */
async function sqliteBaseline(filename: string): Promise<Baseline> {
  const db = openLikeTheStore(filename);
  db.exec(`
    CREATE TABLE IF NOT EXISTS bench_balances (customer_id TEXT PRIMARY KEY, balance INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS bench_ledger (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      customer_id TEXT NOT NULL,
      amount INTEGER NOT NULL,
      balance_after INTEGER NOT NULL,
      at TEXT NOT NULL
    );
  `);
  db.prepare('INSERT OR REPLACE INTO bench_balances VALUES (?, ?)').run('c1', 100_000_000_000);
  const debit = db.prepare(
    'UPDATE bench_balances SET balance = balance - ? WHERE customer_id = ? AND balance >= ? RETURNING balance',
  );
  const insert = db.prepare(
    'INSERT INTO bench_ledger (customer_id, amount, balance_after, at) VALUES (?, ?, ?, ?)',
  );
  const deduct = db.transaction((customerId: string, amount: number) => {
    const row = debit.get(amount, customerId, amount) as { balance: number } | undefined;
    if (row === undefined) throw new Error('insufficient balance');
    insert.run(customerId, -amount, row.balance, new Date().toISOString());
  });
  const wide = sqliteWideCommit(sqlitePath('writes-wide'));
  return {
    one: () => deduct.immediate('c1', COST_MINOR),
    wideCommit: { sync: true, fn: wide.fn },
    close: async () => {
      db.close();
      wide.close();
    },
  };
}

/** The rows of the 64-customer commit: one stream per customer, fixed text of a usage event's size. */
const wideRows = {
  streams: Array.from({ length: WIDE }, (_, i) => `customer-bench_wide${i}`),
  data: JSON.stringify({
    allocations: [{ amount: '0.25', grantId: `grant_${'0'.repeat(26)}` }],
    cost: '0.25',
    usageId: `usage_${'0'.repeat(26)}`,
    padding: 'x'.repeat(180),
  }),
  metadata: JSON.stringify({ command: 'trackUsage', hash: '0'.repeat(64) }),
};
/** Events each stream of the 64-customer commit holds before the rows are timed. */
const WIDE_HISTORY = 200;

/**
 * What a batch of 64 callers on 64 customers must write at the least: one event row for each customer,
 * in one commit, into the store's own table (its DDL as the store applies it, so with its index on
 * stream and version), each stream with a history already (its newest index entries on a leaf page of
 * its own, as a customer's are). No reads, no version check, no JSON made. Its rate, in events, is the
 * most 64 on 64 could reach at no CPU a command. On SQLite: a BEGIN IMMEDIATE transaction of 64
 * inserts, in a file of its own with the store's pragmas (so its WAL and checkpoints are not the
 * store's, whose rows are measured beside it).
 */
function sqliteWideCommit(filename: string): { fn: () => void; close: () => void } {
  const db = openLikeTheStore(filename);
  try {
    db.exec(sqliteSchemaSql);
    const insert = db.prepare(
      'INSERT INTO events (stream_id, version, id, type, schema_version, at, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const { streams, data, metadata } = wideRows;
    let version = 0;
    const commit = db.transaction(() => {
      version += 1;
      const at = new Date().toISOString();
      for (let i = 0; i < streams.length; i++) {
        insert.run(streams[i]!, version, `evt_${i}_${version}`, 'credits_deducted', 3, at, data, metadata);
      }
    });
    for (let i = 0; i < WIDE_HISTORY; i++) commit.immediate();
    return { fn: () => commit.immediate(), close: () => db.close() };
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * The 64-customer commit on Postgres (see `sqliteWideCommit`): one INSERT of 64 rows from an array (one
 * statement, so one commit), each row's position taken from the transaction id as the table requires.
 */
async function postgresWideCommit(): Promise<{ fn: () => Promise<void>; close: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const sql = `
    INSERT INTO ${SQL_EVENTS_SCHEMA}.events (position, stream_id, version, id, type, schema_version, at, data, metadata)
    SELECT pg_current_xact_id()::text::bigint * ${POSITIONS_PER_TRANSACTION} + r.ord - 1, r.stream_id, $2::bigint,
           r.stream_id || '_' || $2::bigint,
           'credits_deducted', 3, $3, $4, $5
      FROM unnest($1::text[]) WITH ORDINALITY AS r(stream_id, ord)`;
  const { streams, data, metadata } = wideRows;
  let version = 0;
  const fn = async () => {
    version += 1;
    const at = new Date().toISOString();
    const { rowCount } = await client.query(sql, [streams, version, at, data, metadata]);
    if (rowCount !== WIDE) throw new Error(`the ${WIDE}-customer commit wrote ${rowCount} rows`);
  };
  try {
    await client.query(postgresSchemaSql(SQL_EVENTS_SCHEMA));
    for (let i = 0; i < WIDE_HISTORY; i++) await fn();
  } catch (error) {
    await client.end();
    throw error;
  }
  return { fn, close: () => client.end() };
}

/** The same deduct as one statement: a CTE that updates the balance and inserts the ledger row. */
async function postgresBaseline(): Promise<Baseline> {
  // First: if it fails, nothing else of the baseline is open yet.
  const wide = await postgresWideCommit();
  const setup = new pg.Client({ connectionString: PG_URL });
  await setup.connect();
  await setup.query(`
    CREATE SCHEMA IF NOT EXISTS ${SQL_SCHEMA};
    CREATE TABLE IF NOT EXISTS ${SQL_SCHEMA}.balances (customer_id text PRIMARY KEY, balance bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS ${SQL_SCHEMA}.ledger (
      id bigserial PRIMARY KEY,
      customer_id text NOT NULL,
      amount bigint NOT NULL,
      balance_after bigint NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    );
  `);
  const customers = ['one', 'shared', ...Array.from({ length: CALLERS }, (_, i) => `own${i}`)];
  for (const customerId of customers) {
    await setup.query(
      `INSERT INTO ${SQL_SCHEMA}.balances VALUES ($1, 100000000000)
       ON CONFLICT (customer_id) DO UPDATE SET balance = excluded.balance`,
      [customerId],
    );
  }
  await setup.end();
  const sql = `
    WITH debit AS (
      UPDATE ${SQL_SCHEMA}.balances SET balance = balance - $2
       WHERE customer_id = $1 AND balance >= $2
       RETURNING balance
    )
    INSERT INTO ${SQL_SCHEMA}.ledger (customer_id, amount, balance_after)
    SELECT $1, -$2::bigint, balance FROM debit
    RETURNING id, balance_after`;
  const single = new pg.Client({ connectionString: PG_URL });
  await single.connect();
  const pool = new pg.Pool({ connectionString: PG_URL, max: CALLERS });
  // A plain parameterized query, as hand-written code (and the Postgres store) sends it; the named
  // (prepared once) variant is measured beside it for reference.
  const run = async (db: pg.Client | pg.Pool, customerId: string, name?: string) => {
    const query = name === undefined ? { text: sql } : { name, text: sql };
    const { rowCount } = await db.query({ ...query, values: [customerId, COST_MINOR] });
    if (rowCount !== 1) throw new Error('insufficient balance');
  };
  const own = Array.from({ length: CALLERS }, (_, i) => `own${i}`);
  return {
    one: () => run(single, 'one'),
    wideCommit: { sync: false, fn: wide.fn },
    onePrepared: () => run(single, 'one', 'deduct'),
    manyOnOne: () => run(pool, 'shared'),
    manyOnMany: onOwnId(own, (customerId) => run(pool, customerId)),
    close: async () => {
      await single.end();
      await pool.end();
      await wide.close();
    },
  };
}

export function skipped(id: string, title: string, why: string): GroupResult {
  return { id, title, unit: '–', rows: [], goals: [], extra: {}, notes: [`not measured: ${why}`] };
}

const fixed = (ratio: number | null) => (ratio === null ? 'n/a' : `${ratio.toFixed(2)}×`);
