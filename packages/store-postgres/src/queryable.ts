import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * What the store needs from a database: the same SQL runs on node-postgres and on PGlite. Every
 * operation of the store is a single statement (or, for schema creation, a single script, which
 * Postgres runs as one implicit transaction), so no connection is ever held across awaits and
 * PGlite's one in-process connection needs no lock of ours.
 */
export interface Queryable {
  /**
   * One statement with `$n` parameters. A `Statement` (see `prepared`) is prepared once per
   * connection on node-postgres and runs without being parsed or planned again; PGlite gets its text.
   */
  query<Row>(sql: string | Statement, params?: readonly unknown[]): Promise<Row[]>;
  /** Several statements without parameters, committed together or not at all. */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/** SQL text with the name it is prepared under on node-postgres. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/**
 * A statement to prepare, named after its text: `tally_<label>_` and 16 hex digits of the text's
 * SHA-256. The text holds the schema, so stores for several schemas on one pool never share a name,
 * and stores for the same schema share the same statement. node-postgres keeps a name per
 * connection and refuses the same name for another text, which a name made from the text cannot
 * meet; Postgres truncates names to 63 bytes, which these never reach.
 */
export function prepared(label: string, text: string): Statement {
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
  return { name: `tally_${label}_${digest}`, text };
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
    async query<Row>(sql: string | Statement, params: readonly unknown[] = []) {
      // A named query is parsed and planned on a connection's first use of the name, then only bound
      // and executed (Postgres may still plan it again if its own plan cache prefers).
      const config = typeof sql === 'string' ? { text: sql } : { name: sql.name, text: sql.text };
      return (await pool.query({ ...config, values: params as unknown[] })).rows as Row[];
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
    async query<Row>(sql: string | Statement, params: readonly unknown[] = []) {
      // PGlite runs in this process: a statement is sent as text, PGlite has no cache of names.
      return (await pglite.query(typeof sql === 'string' ? sql : sql.text, [...params])).rows as Row[];
    },
    async exec(script) {
      await pglite.exec(script);
    },
    async close() {},
  };
}
