/**
 * How a worker process opens the same store as the test that started it. No test runner in here:
 * the workers under `test/*\/workers` import it outside vitest.
 */
import type { EventStore } from '@tally/core';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';

/** A store another process can open: a SQLite file, or a schema on a Postgres server. */
export type StoreSpec =
  | { readonly kind: 'sqlite'; readonly filename: string; readonly synchronous: 'FULL' | 'NORMAL' }
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly schema: string };

export function openStoreSpec(spec: StoreSpec): EventStore {
  return spec.kind === 'sqlite'
    ? sqliteStore({ filename: spec.filename, synchronous: spec.synchronous })
    : postgresStore({ connectionString: spec.connectionString }, { schema: spec.schema });
}
