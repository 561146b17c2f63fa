import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { EventStore } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * Where the reliability tests find their stores.
 *
 * Postgres: `DATABASE_URL` when set (a server that cannot be reached fails the tests). Without it, the
 * local server the project's machines run (postgres://postgres@127.0.0.1:5432/test) is used if it
 * answers within a second. Without either, `TALLY_REQUIRE_POSTGRES=1` (set by CI) is a failure;
 * otherwise the single-process tests run on embedded PGlite, and the tests that need several processes
 * on one database (PGlite lives inside one process) are reported as skipped, with the reason printed.
 */

export interface OpenedStore {
  readonly store: EventStore;
  /**
   * Runs SQL directly on the store's database, past the store (tests that tamper with rows); absent for
   * memory. Parameters are `?` on SQLite and `$1..` on Postgres: see `dialect`.
   */
  readonly sql?: (text: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;
  readonly dialect?: 'sqlite' | 'postgres';
  /** The events table, qualified as SQL needs it. */
  readonly eventsTable?: string;
  /** The store's own location, for worker processes: see `openStoreSpec`. */
  readonly spec?: StoreSpec;
  /** Closes the store and removes what the test created (files, schemas). */
  readonly close: () => Promise<void>;
}

export interface StoreTarget {
  readonly name: string;
  readonly open: () => Promise<OpenedStore>;
}

/** How a worker process opens the same store as the test. */
export type StoreSpec =
  | { readonly kind: 'sqlite'; readonly filename: string; readonly synchronous: 'FULL' | 'NORMAL' }
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly schema: string };

export function openStoreSpec(spec: StoreSpec): EventStore {
  return spec.kind === 'sqlite'
    ? sqliteStore({ filename: spec.filename, synchronous: spec.synchronous })
    : postgresStore({ connectionString: spec.connectionString }, { schema: spec.schema });
}

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/test';
const run = randomBytes(4).toString('hex');
let schemas = 0;
export const freshSchema = (): string => `tally_rel_${run}_${schemas++}`;

export interface PostgresServer {
  readonly url: string;
  readonly source: 'DATABASE_URL' | 'local server';
}

let found: Promise<PostgresServer | null> | undefined;

/** The Postgres server to use, or null (with the reason printed) when there is none and none is required. */
export function postgresServer(): Promise<PostgresServer | null> {
  found ??= (async () => {
    const url = process.env.DATABASE_URL;
    if (url !== undefined && url !== '') return { url, source: 'DATABASE_URL' as const };
    if (await answers(LOCAL_URL)) {
      console.info(`DATABASE_URL is not set: using the local Postgres server at ${LOCAL_URL}`);
      return { url: LOCAL_URL, source: 'local server' as const };
    }
    if (process.env.TALLY_REQUIRE_POSTGRES === '1') {
      throw new Error(
        'TALLY_REQUIRE_POSTGRES=1 but DATABASE_URL is not set and no server answers at ' +
          `${LOCAL_URL}: start PostgreSQL or set DATABASE_URL`,
      );
    }
    console.warn(
      'No Postgres server (DATABASE_URL unset, nothing at 127.0.0.1:5432): single-process Postgres ' +
        'reliability tests run on embedded PGlite; the multi-process and crash tests for Postgres are ' +
        'skipped, because PGlite cannot be shared between processes. Set DATABASE_URL to run them.',
    );
    return null;
  })();
  return found;
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

export function memoryTarget(): StoreTarget {
  return {
    name: 'memory',
    open: async () => {
      const store = memoryStore();
      return { store, close: () => store.close() };
    },
  };
}

export function sqliteTarget(synchronous: 'FULL' | 'NORMAL' = 'FULL'): StoreTarget {
  return {
    name: synchronous === 'FULL' ? 'sqlite' : 'sqlite (NORMAL)',
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tally-reliability-'));
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

/** Postgres on the server when there is one, else on PGlite (single-process tests only). */
export function postgresTarget(): StoreTarget {
  return {
    name: 'postgres',
    open: async () => {
      const server = await postgresServer();
      const schema = freshSchema();
      if (server === null) {
        const db = new PGlite();
        const store = postgresStore({ pglite: db }, { schema });
        await store.readAll();
        return {
          store,
          dialect: 'postgres',
          eventsTable: `"${schema}".events`,
          sql: async (text, params = []) => (await db.query<Record<string, unknown>>(text, [...params])).rows,
          close: async () => {
            await store.close();
            await db.close();
          },
        };
      }
      const pool = new pg.Pool({ connectionString: server.url, max: 4, connectionTimeoutMillis: 5_000 });
      pool.on('error', () => {});
      const store = postgresStore({ pool }, { schema });
      await store.readAll(); // creates the schema now, so a failure to connect fails here
      return {
        store,
        spec: { kind: 'postgres', connectionString: server.url, schema },
        dialect: 'postgres',
        eventsTable: `"${schema}".events`,
        sql: async (text, params = []) =>
          (await pool.query(text, [...params])).rows as Record<string, unknown>[],
        close: async () => {
          await store.close();
          await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await pool.end();
        },
      };
    },
  };
}

/** Every store the single-process reliability tests run against. */
export function storeTargets(): StoreTarget[] {
  return [memoryTarget(), sqliteTarget(), postgresTarget()];
}
