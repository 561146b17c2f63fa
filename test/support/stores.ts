/**
 * The stores the cross-package suites (`test/conformance`, `test/reliability`) run against, all in one
 * shape: a {@link StoreTarget} has a `name` and opens an empty {@link OpenedStore}, which the test
 * closes (removing the file or schema it made).
 *
 * Which Postgres: one rule for every suite, decided once per test file and printed.
 *
 * 1. `DATABASE_URL` when it is set. A server there that cannot be reached fails the tests, never
 *    skips them.
 * 2. Otherwise the local server at postgres://postgres@127.0.0.1:5432/test, if it answers within a
 *    second.
 * 3. Otherwise embedded PGlite; with `TALLY_REQUIRE_POSTGRES=1` (CI sets it) every Postgres test fails
 *    instead.
 *
 * A test that needs a server (several processes on one database, a second connection that holds a
 * transaction open) is registered with {@link itOnPostgresServer}: it runs whenever a server is used;
 * on PGlite it is listed as skipped with "NOT RUN" and the reason in its name, and the reason is
 * printed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { EventStore } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { type PostgresStoreOptions, postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, it } from 'vitest';
import type { StoreSpec } from './store-spec.js';

export { openStoreSpec, type StoreSpec } from './store-spec.js';

/** A store opened for a test, empty, with what the test may need besides the `EventStore` itself. */
export interface OpenedStore {
  readonly store: EventStore;
  /**
   * Runs one SQL statement directly on the store's database, past the store (tests that tamper with
   * rows); absent for memory and SQLite `:memory:`. Parameters are `?` on SQLite and `$1..` on
   * Postgres: see `dialect`.
   */
  readonly sql?: (text: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;
  readonly dialect?: 'sqlite' | 'postgres';
  /** The events table, qualified as SQL needs it. */
  readonly eventsTable?: string;
  /**
   * How another process opens this same store (see `openStoreSpec`); absent where no other process
   * can: memory, SQLite `:memory:`, PGlite.
   */
  readonly spec?: StoreSpec;
  /** Closes the store and removes what was created for it (file, schema). */
  readonly close: () => Promise<void>;
}

/** Where a suite's stores come from: `open()` gives each caller an empty store of its own. */
export interface StoreTarget {
  readonly name: string;
  readonly open: () => Promise<OpenedStore>;
}

export function memoryTarget(): StoreTarget {
  return {
    name: 'memory',
    open: async () => {
      const store = memoryStore();
      return { store, close: () => store.close() };
    },
  };
}

/** SQLite in a file of a fresh temporary directory (`synchronous` FULL by default), or in `:memory:`. */
export function sqliteTarget(
  options: { synchronous?: 'FULL' | 'NORMAL'; inMemory?: boolean } = {},
): StoreTarget {
  const synchronous = options.synchronous ?? 'FULL';
  if (options.inMemory === true) {
    return {
      name: 'sqlite (:memory:)',
      open: async () => {
        const store = sqliteStore({ filename: ':memory:', synchronous });
        return { store, dialect: 'sqlite', close: () => store.close() };
      },
    };
  }
  return {
    name: synchronous === 'FULL' ? 'sqlite (file)' : `sqlite (file, ${synchronous})`,
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tally-test-'));
      const filename = join(dir, 'events.db');
      const store = sqliteStore({ filename, synchronous });
      return {
        store,
        spec: { kind: 'sqlite', filename, synchronous },
        dialect: 'sqlite',
        eventsTable: 'events',
        sql: async (text, params = []) => {
          // A second connection, as an intruder with file access would have.
          const db = new Database(filename, { timeout: 5_000 });
          try {
            const statement = db.prepare(text);
            if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
            statement.run(...params);
            return [];
          } finally {
            db.close();
          }
        },
        close: async () => {
          await store.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Postgres

/** The local server the project's machines run, used when DATABASE_URL is not set and it answers. */
export const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** What the Postgres tests of this test file run on. */
export type PostgresChoice =
  | { readonly kind: 'server'; readonly url: string; readonly source: 'DATABASE_URL' | 'local server' }
  | { readonly kind: 'pglite'; readonly reason: string }
  /** TALLY_REQUIRE_POSTGRES=1 and no server: every Postgres test fails with `error`. */
  | { readonly kind: 'missing'; readonly error: Error };

let chosen: Promise<PostgresChoice> | undefined;

/** Applies the rule above, once per test file, and prints the outcome. */
export function choosePostgres(): Promise<PostgresChoice> {
  chosen ??= (async (): Promise<PostgresChoice> => {
    const url = process.env.DATABASE_URL;
    if (url !== undefined && url !== '') {
      console.info(`Postgres tests: on the server in DATABASE_URL (${redacted(url)})`);
      return { kind: 'server', url, source: 'DATABASE_URL' };
    }
    if (await answers(LOCAL_POSTGRES_URL)) {
      console.info(`Postgres tests: DATABASE_URL is not set; on the local server at ${LOCAL_POSTGRES_URL}`);
      return { kind: 'server', url: LOCAL_POSTGRES_URL, source: 'local server' };
    }
    const reason = `DATABASE_URL is not set and no server answers at ${LOCAL_POSTGRES_URL}`;
    if (process.env.TALLY_REQUIRE_POSTGRES === '1') {
      const error = new Error(`TALLY_REQUIRE_POSTGRES=1 but ${reason}: start PostgreSQL or set DATABASE_URL`);
      console.error(`Postgres tests: FAILING, ${error.message}`);
      return { kind: 'missing', error };
    }
    console.warn(
      `Postgres tests: on embedded PGlite, because ${reason}. The tests that need a server ` +
        '(several processes on one database, a second connection) do NOT run; they are listed as ' +
        'skipped with the reason. Start PostgreSQL or set DATABASE_URL to run them.',
    );
    return { kind: 'pglite', reason };
  })();
  return chosen;
}

function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The chosen Postgres as one database, shared by the test file's stores (a schema each). */
export interface PostgresDatabase {
  readonly name: string;
  /** The server's URL, for other processes; null on PGlite. */
  readonly url: string | null;
  /** A schema name no other test (of this run or another) uses. */
  freshSchema(): string;
  /** A store on `schema`, sharing the database's pool (or PGlite); closing it leaves those open. */
  store(schema: string, options?: Omit<PostgresStoreOptions, 'schema'>): ReturnType<typeof postgresStore>;
  /** One statement, with `$1..` parameters. */
  sql(text: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** A script of several statements, without parameters. */
  exec(script: string): Promise<void>;
}

const run = randomBytes(4).toString('hex');
let schemas = 0;
const freshSchema = (): string => `tally_test_${run}_${schemas++}`;

let shared: { database: Promise<PostgresDatabase>; close: () => Promise<void> } | undefined;

// Registered on the importing test file (vitest evaluates this module afresh for each file).
afterAll(async () => {
  const open = shared;
  shared = undefined;
  await open?.close();
});

/** The test file's Postgres; rejects (failing the test) under TALLY_REQUIRE_POSTGRES=1 without a server. */
export function postgresDatabase(): Promise<PostgresDatabase> {
  if (shared === undefined) {
    let close = async () => {};
    const database = (async (): Promise<PostgresDatabase> => {
      const choice = await choosePostgres();
      if (choice.kind === 'missing') throw choice.error;
      if (choice.kind === 'server') {
        const pool = new pg.Pool({ connectionString: choice.url, max: 12, connectionTimeoutMillis: 5_000 });
        pool.on('error', () => {});
        close = () => pool.end();
        return {
          name: `postgres (${choice.source})`,
          url: choice.url,
          freshSchema,
          store: (schema, options = {}) => postgresStore({ pool }, { ...options, schema }),
          sql: async (text, params = []) => (await pool.query(text, [...params])).rows,
          exec: async (script) => void (await pool.query(script)),
        };
      }
      const db = new PGlite();
      close = () => db.close();
      return {
        name: 'postgres (PGlite)',
        url: null,
        freshSchema,
        store: (schema, options = {}) => postgresStore({ pglite: db }, { ...options, schema }),
        sql: async (text, params = []) => (await db.query<Record<string, unknown>>(text, [...params])).rows,
        exec: async (script) => void (await db.exec(script)),
      };
    })();
    shared = { database, close: () => close() };
  }
  return shared.database;
}

/** The name a Postgres target or test should carry, known before anything is opened. */
function postgresName(choice: PostgresChoice): string {
  if (choice.kind === 'server') return `postgres (${choice.source})`;
  return choice.kind === 'pglite' ? 'postgres (PGlite)' : 'postgres (no server: failing)';
}

/** Postgres by the rule above: each store in a fresh schema of the file's shared database. */
export async function postgresTarget(): Promise<StoreTarget> {
  const name = postgresName(await choosePostgres());
  return {
    name,
    open: async () => {
      const db = await postgresDatabase();
      const schema = db.freshSchema();
      const store = db.store(schema);
      await store.readAll({ limit: 0 }); // creates the schema now, so a failure to connect fails here
      return {
        store,
        dialect: 'postgres',
        eventsTable: `"${schema}".events`,
        sql: db.sql,
        ...(db.url === null ? {} : { spec: { kind: 'postgres', connectionString: db.url, schema } as const }),
        close: async () => {
          await store.close();
          await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        },
      };
    },
  };
}

/** Every store the single-process suites run against: memory, a SQLite file, Postgres. */
export async function storeTargets(): Promise<StoreTarget[]> {
  return [memoryTarget(), sqliteTarget(), await postgresTarget()];
}

/**
 * Registers a test that needs a real PostgreSQL server, which PGlite (one connection, inside one
 * process) cannot stand in for. On a server it runs with the server's URL; without one it fails
 * under TALLY_REQUIRE_POSTGRES=1, and otherwise is listed as skipped with "NOT RUN" and the reason.
 * `choice` is `await choosePostgres()`, at the top of the test file.
 */
export function itOnPostgresServer(
  choice: PostgresChoice,
  name: string,
  fn: (url: string) => Promise<void>,
  timeout?: number,
): void {
  if (choice.kind === 'server') {
    it(`${name} (${choice.source})`, () => fn(choice.url), timeout);
  } else if (choice.kind === 'missing') {
    it(
      name,
      () => {
        throw choice.error;
      },
      timeout,
    );
  } else {
    const why = `it needs a PostgreSQL server, and ${choice.reason}`;
    console.warn(`NOT RUN: "${name}": ${why}`);
    it.skip(`${name} (NOT RUN: ${why})`, () => {});
  }
}
