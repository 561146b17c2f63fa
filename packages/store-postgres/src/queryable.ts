import pg from 'pg';

/**
 * What the store needs from a database: the same SQL runs on node-postgres and on PGlite. Every
 * operation of the store is a single statement (or, for schema creation, a single script, which
 * Postgres runs as one implicit transaction), so no connection is ever held across awaits and
 * PGlite's one in-process connection needs no lock of ours.
 */
export interface Queryable {
  /** One statement with `$n` parameters. */
  query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Several statements without parameters, committed together or not at all. */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The part of PGlite (`@electric-sql/pglite`) the store uses; typed here so PGlite stays optional.
 *
 * @example
 * import { PGlite } from '@electric-sql/pglite';
 * const store = postgresStore({ pglite: new PGlite('./ledger-data') }); // Postgres in process, no server
 */
export interface PGliteLike {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  exec(sql: string): Promise<unknown>;
}

/** `owned`: the store made the pool, so closing the store ends it; a pool passed in is its owner's. */
export function fromPool(pool: pg.Pool, owned: boolean): Queryable {
  let ended = false;
  return {
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      return (await pool.query(sql, [...params])).rows as Row[];
    },
    async exec(script) {
      // Without parameters node-postgres sends the simple protocol, which accepts several statements.
      await pool.query(script);
    },
    async close() {
      // pg.Pool#end throws when called twice; closing a store twice is harmless.
      if (!owned || ended) return;
      ended = true;
      await pool.end();
    },
  };
}

export function fromConnectionString(connectionString: string): Queryable {
  const pool = new pg.Pool({ connectionString });
  // An idle client that loses its server emits 'error' on the pool, which would crash the process
  // unheard. The pool drops that client; the next query opens a new one or reports the failure.
  pool.on('error', () => {});
  return fromPool(pool, true);
}

/** A PGlite passed in belongs to its owner: closing the store leaves it open. */
export function fromPGlite(pglite: PGliteLike): Queryable {
  return {
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      return (await pglite.query(sql, [...params])).rows as Row[];
    },
    async exec(script) {
      await pglite.exec(script);
    },
    async close() {},
  };
}
