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
  | {
      readonly kind: 'postgres';
      readonly connectionString: string;
      readonly schema: string;
      /** A schema distributed on a Citus coordinator (test/support/citus.ts). */
      readonly distributed?: 'citus';
      readonly shards?: number;
    };

export function openStoreSpec(spec: StoreSpec): EventStore {
  return spec.kind === 'sqlite'
    ? sqliteStore({ filename: spec.filename, synchronous: spec.synchronous })
    : postgresStore(
        { connectionString: spec.connectionString },
        spec.distributed === undefined
          ? { schema: spec.schema }
          : {
              schema: spec.schema,
              distributed: spec.distributed,
              ...(spec.shards === undefined ? {} : { shards: spec.shards }),
            },
      );
}
