/**
 * The Citus cluster the distributed-store tests run on: opt-in, by `TALLY_CITUS_URL` naming its
 * coordinator (e.g. postgres://postgres@127.0.0.1:9700/test, with `CREATE EXTENSION citus` done and
 * workers added). Unset, every Citus test is listed as skipped with "NOT RUN" and the reason, and the
 * reason is printed: never silently.
 */
import { randomBytes } from 'node:crypto';
import type { EventStore } from '@tally/core';
import { postgresStore } from '@tally/store-postgres';
import pg from 'pg';
import { afterAll, it } from 'vitest';
import type { StoreTarget } from './stores.js';

/** The shard count of the tests' schemas: few, so that streams share shards and partitions. */
export const TEST_SHARDS = 4;

export type CitusChoice =
  | { readonly kind: 'cluster'; readonly url: string }
  | { readonly kind: 'absent'; readonly reason: string };

let announced = false;

/** Whether this run has a Citus cluster; prints the outcome once per test file. */
export function chooseCitus(): CitusChoice {
  const url = process.env.TALLY_CITUS_URL;
  const choice: CitusChoice =
    url !== undefined && url !== ''
      ? { kind: 'cluster', url }
      : {
          kind: 'absent',
          reason:
            'TALLY_CITUS_URL is not set (point it at a Citus coordinator, e.g. postgres://postgres@127.0.0.1:9700/test)',
        };
  if (!announced) {
    announced = true;
    if (choice.kind === 'cluster') console.info(`Citus tests: on the coordinator at ${choice.url}`);
    else console.warn(`Citus tests: NOT RUN, because ${choice.reason}.`);
  }
  return choice;
}

/** Registers a test that needs the Citus cluster: run on it, or listed as skipped with "NOT RUN". */
export function itOnCitus(name: string, fn: (url: string) => Promise<void>, timeout?: number): void {
  const choice = chooseCitus();
  if (choice.kind === 'cluster') {
    it(`${name} (Citus)`, () => fn(choice.url), timeout);
  } else {
    it.skip(`${name} (NOT RUN: ${choice.reason})`, () => {});
  }
}

const run = randomBytes(4).toString('hex');
let schemas = 0;
/** A schema name no other test of this run or another uses. */
export const freshCitusSchema = (): string => `tally_citus_${run}_${schemas++}`;

let pool: pg.Pool | undefined;
afterAll(async () => {
  const open = pool;
  pool = undefined;
  await open?.end();
});

/** The test file's pool on the coordinator. */
export function citusPool(url: string): pg.Pool {
  if (pool === undefined) {
    pool = new pg.Pool({ connectionString: url, max: 12, connectionTimeoutMillis: 5_000 });
    pool.on('error', () => {});
  }
  return pool;
}

/** A distributed store on `schema`, sharing the file's pool. */
export function citusStore(url: string, schema: string): EventStore {
  return postgresStore({ pool: citusPool(url) }, { schema, distributed: 'citus', shards: TEST_SHARDS });
}

/** Each store in a fresh distributed schema on the cluster, dropped on close. */
export function citusTarget(url: string): StoreTarget {
  return {
    name: 'postgres on Citus',
    open: async () => {
      const schema = freshCitusSchema();
      const store = citusStore(url, schema);
      await store.partitions!(); // creates the schema now, so a failure to connect fails here
      const sql = async (text: string, params: readonly unknown[] = []) =>
        (await citusPool(url).query(text, [...params])).rows;
      return {
        store,
        dialect: 'postgres',
        eventsTable: `"${schema}".events`,
        sql,
        spec: { kind: 'postgres', connectionString: url, schema, distributed: 'citus', shards: TEST_SHARDS },
        close: async () => {
          await store.close();
          await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        },
      };
    },
  };
}
