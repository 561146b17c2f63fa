import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { postgresStore } from '@tally/store-postgres';
import pg from 'pg';
import { afterAll } from 'vitest';

/**
 * Where the Postgres tests run: with DATABASE_URL, that server (a schema of its own per test, dropped
 * after); without it, PGlite in process, and the output says so. A DATABASE_URL that cannot be reached
 * fails every test, never skips one.
 */
export interface PostgresTarget {
  readonly label: string;
  store(schema: string): ReturnType<typeof postgresStore>;
  exec(sql: string): Promise<void>;
  freshSchema(): string;
  /** A store in a new schema, created now (so a failure to connect fails here), dropped by cleanup. */
  fresh(): Promise<{ store: ReturnType<typeof postgresStore>; cleanup(): Promise<void> }>;
}

export function postgresTarget(): PostgresTarget {
  const url = process.env.DATABASE_URL;
  const run = randomBytes(4).toString('hex');
  let schemas = 0;
  let close: () => Promise<void>;
  let label: string;
  let store: (schema: string) => ReturnType<typeof postgresStore>;
  let exec: (sql: string) => Promise<void>;
  if (url !== undefined) {
    const pool = new pg.Pool({ connectionString: url, max: 12, connectionTimeoutMillis: 5_000 });
    label = 'postgres (server)';
    store = (schema) => postgresStore({ pool }, { schema });
    exec = async (sql) => void (await pool.query(sql));
    close = () => pool.end();
  } else {
    console.info('DATABASE_URL is not set: running the Postgres store against embedded PGlite');
    let db: PGlite | undefined;
    const pglite = () => (db ??= new PGlite());
    label = 'postgres (PGlite)';
    store = (schema) => postgresStore({ pglite: pglite() }, { schema });
    exec = async (sql) => void (await pglite().exec(sql));
    close = async () => db?.close();
  }
  afterAll(() => close());
  const freshSchema = () => `tally_test_${run}_${schemas++}`;
  return {
    label,
    store,
    exec,
    freshSchema,
    async fresh() {
      const schema = freshSchema();
      const made = store(schema);
      await made.readAll();
      return {
        store: made,
        cleanup: async () => {
          await made.close();
          await exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        },
      };
    },
  };
}
