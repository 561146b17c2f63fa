import {
  type AppendOptions,
  type AppendResult,
  assertAppendable,
  ConcurrencyConflictError,
  type EventStore,
  type NewEvent,
} from '@tally/core';
import { checkOptions, type OptionRules, oneOf, option, optionRefusal, withMethods } from '@tally/core/pure';
import type pg from 'pg';
import { appendManyOnce, appendManyStatement } from './append-many.js';
import { SHARDS_RULE } from './citus-schema.js';
import { postgresConsumers } from './consumers.js';
import { citusStore } from './distributed.js';
import {
  fromConnectionString,
  fromPGlite,
  fromPool,
  type PGliteLike,
  prepared,
  type Queryable,
} from './queryable.js';
import { EVENT_COLUMNS, EVENT_RECORDS, type EventRow, eventRecords, toStoredEvent } from './rows.js';
import { createSchemaScript, POSITIONS_PER_TRANSACTION, quoteSchema, SCHEMA_RULE } from './schema.js';
import { streamRowMethods, streamRowStatements } from './stream-rows.js';
import { explainUniqueViolation } from './unique-violation.js';

export { citusSchemaSql } from './citus-schema.js';
export type { PGliteLike } from './queryable.js';
export { POSITIONS_PER_TRANSACTION, postgresSchemaSql } from './schema.js';

/**
 * Where the events live: a server (by URL or through your pool) or an in-process PGlite.
 *
 * @example
 * postgresStore({ connectionString: 'postgres://app@localhost/app' }); // the store makes and ends a pool
 * postgresStore({ pool: new pg.Pool({ max: 20 }) }); // your pool: the store never ends it
 * postgresStore({ pglite: new PGlite() }); // in process, e.g. for tests
 */
export type PostgresConnection =
  | { readonly connectionString: string }
  | { readonly pool: pg.Pool }
  | { readonly pglite: PGliteLike };

/**
 * Where `postgresStore` keeps its tables, and whether it creates them itself or leaves that to your
 * migrations.
 *
 * @example
 * const store = postgresStore({ pool }, { schema: 'billing', createSchema: false });
 */
export interface PostgresStoreOptions {
  /** Schema holding the tables. Default `'tally'`. */
  readonly schema?: string;
  /**
   * Create the schema and tables on first use (idempotent, safe from several processes at once).
   * Default true; pass false if you apply `postgresSchemaSql(schema)` with your own migrations
   * (`citusSchemaSql(schema)` when distributed).
   */
  readonly createSchema?: boolean;
  /**
   * `'citus'`: the connection is a Citus coordinator, and the tables are distributed by stream id
   * (see the README's "Citus" section). Every append and stream read then runs on one worker, and the
   * global order has one partition per shard (`store.partitions()`, `readAll({ partition })`).
   */
  readonly distributed?: 'citus';
  /** With `distributed`: the shard count the tables are created with (Citus' default, 32, if absent). */
  readonly shards?: number;
}

/**
 * A durable `EventStore` on PostgreSQL 13+, for any number of processes. Each operation is one
 * statement; appends to different streams never wait for each other. An unknown key of the
 * connection or the options, or a bad value, is refused with `invalid_input` naming it, before a pool
 * is made or a query sent.
 *
 * `close()` ends the pool only if the store made it (from `connectionString`); a pool or PGlite you
 * pass in stays yours to close.
 *
 * @example
 * const store = postgresStore({ connectionString: process.env.DATABASE_URL! });
 * const ledger = createLedger({ catalog, store });
 */
export function postgresStore(
  connection: PostgresConnection,
  options: PostgresStoreOptions = {},
): EventStore {
  checkConnection(connection);
  checkOptions(options, POSTGRES_OPTION_RULES, { factory: 'postgresStore' });
  if (options.shards !== undefined && options.distributed === undefined) {
    throw optionRefusal('postgresStore', 'shards', "is read only with distributed: 'citus'");
  }
  const schema = options.schema ?? 'tally';
  const s = quoteSchema(schema, 'postgresStore');
  const db = toQueryable(connection);
  if (options.distributed === 'citus') return citusStore(db, schema, options);
  const sql = statements(s);
  const appendMany = appendManyStatement(s);

  let ready: Promise<void> | undefined;
  const ensureSchema = (): Promise<void> => {
    if (options.createSchema === false) return Promise.resolve();
    ready ??= db.exec(createSchemaScript(schema)).catch((error: unknown) => {
      ready = undefined; // let the next call try again (the server may come back)
      throw error;
    });
    return ready;
  };

  const streamVersion = async (streamId: string): Promise<number> => {
    const [row] = await db.query<{ version: string }>(sql.streamVersion, [streamId]);
    return Number(row!.version);
  };

  return {
    consumers: postgresConsumers(db, s, ensureSchema),

    async append(streamId: string, events: readonly NewEvent[], appendOptions: AppendOptions) {
      assertAppendable(streamId, events, appendOptions);
      if (events.length > POSITIONS_PER_TRANSACTION) {
        throw new RangeError(
          `one append holds at most ${POSITIONS_PER_TRANSACTION} events, got ${events.length}`,
        );
      }
      await ensureSchema();
      const { expectedVersion, guard } = appendOptions;
      let rows: { position: string }[];
      try {
        const columns = [streamId, expectedVersion, JSON.stringify(eventRecords(events))];
        rows =
          guard !== undefined
            ? await db.query(sql.appendGuarded, [...columns, guard.streamId, guard.version])
            : appendOptions.guarding === true
              ? await db.query(sql.appendGuarding, columns)
              : await db.query(sql.append, columns);
      } catch (error) {
        throw await explainUniqueViolation(error, streamId, events, expectedVersion, async (keys) => {
          const [row] = await db.query<{ key: string }>(sql.takenKey, [streamId, keys]);
          return row?.key;
        });
      }
      // No row: the version guard in the statement saw another version. Nothing was written.
      if (rows.length === 0) {
        throw new ConcurrencyConflictError(streamId, expectedVersion, await streamVersion(streamId));
      }
      const lastPosition = rows.reduce(
        (max, row) => (BigInt(row.position) > max ? BigInt(row.position) : max),
        0n,
      );
      return { nextVersion: expectedVersion + events.length, lastPosition } satisfies AppendResult;
    },

    async appendMany(batch) {
      await ensureSchema();
      return appendManyOnce(db, appendMany, batch);
    },

    async readStream(streamId, readOptions = {}) {
      await ensureSchema();
      const to = readOptions.toVersion ?? Number.MAX_SAFE_INTEGER;
      const rows = await db.query<EventRow>(sql.readStream, [streamId, readOptions.fromVersion ?? 1, to]);
      return rows.map(toStoredEvent);
    },

    async readAll(readOptions = {}) {
      await ensureSchema();
      // LIMIT NULL is Postgres for "no limit".
      const params = [(readOptions.after ?? 0n).toString(), readOptions.limit ?? null];
      return (await db.query<EventRow>(sql.readAll, params)).map(toStoredEvent);
    },

    ...streamRowMethods(db, sql, ensureSchema),
  };
}

/**
 * What `postgresStore` accepts, checked before a pool is made or a query sent: a typo such as
 * `createSchemas: false` would otherwise create the tables a migration was meant to own.
 */
const POSTGRES_OPTION_RULES: OptionRules = {
  schema: SCHEMA_RULE,
  createSchema: option.boolean,
  distributed: oneOf('citus'),
  shards: SHARDS_RULE,
};

const CONNECTION_RULES: OptionRules = {
  connectionString: { ...option.nonEmptyString, secret: true },
  pool: withMethods('a pg.Pool (with query and end)', ['query', 'end']),
  pglite: withMethods('a PGlite (with query and exec)', ['query', 'exec']),
};

/** Exactly one of `connectionString`, `pool`, `pglite`, each what it says. */
function checkConnection(connection: unknown): void {
  checkOptions(connection, CONNECTION_RULES, { factory: 'postgresStore', root: 'connection' });
  const given = Object.keys(CONNECTION_RULES).filter(
    (key) => (connection as Record<string, unknown>)[key] !== undefined,
  );
  if (given.length !== 1) {
    throw optionRefusal(
      'postgresStore',
      'connection',
      `must hold one of connectionString, pool or pglite, got ${given.length === 0 ? 'none' : given.join(' and ')}`,
    );
  }
}

function toQueryable(connection: PostgresConnection): Queryable {
  if ('pglite' in connection) return fromPGlite(connection.pglite);
  if ('pool' in connection) return fromPool(connection.pool, false);
  return fromConnectionString(connection.connectionString);
}

/**
 * The store's SQL for schema `s`. The statements every write or cold read runs are `prepared` (named,
 * so node-postgres parses them once per connection and Postgres can reuse their plan); the rare ones
 * (a conflict's follow-up, readAll, whose plan depends on its bounds) are sent as plain text.
 */
function statements(s: string) {
  return {
    /**
     * The whole append in one statement: it writes every event or, when the stream is not at the
     * expected version, none (zero rows). Two writers that both read the same version race on
     * UNIQUE (stream_id, version); the loser waits for the winner's commit and fails with 23505.
     *
     * The position is `transaction id * POSITIONS_PER_TRANSACTION + index in the batch`: positions
     * sort like (transaction id, index), the one order readers can follow safely (see readAll).
     */
    append: prepared(
      'append',
      `
      INSERT INTO ${s}.events
        (position, stream_id, version, id, type, schema_version, at, data, metadata, idempotency_key)
      SELECT pg_current_xact_id()::text::bigint * ${POSITIONS_PER_TRANSACTION} + e.ord - 1,
             $1::text, $2::bigint + e.ord, e.id, e.type, e.schema_version, e.at, e.data, e.metadata,
             e.idempotency_key
        FROM ${EVENT_RECORDS(3)} AS e (id, type, schema_version, at, data, metadata, idempotency_key, ord)
       WHERE (SELECT coalesce(max(version), 0) FROM ${s}.events WHERE stream_id = $1::text) = $2::bigint
      RETURNING position::text AS position`,
    ),
    /**
     * An append that holds only while another stream (the catalog it was priced by) is at a version.
     * `guard_version` takes a lock shared with every such append and reads the version with a fresh
     * snapshot of its own, so an append to the guard stream that committed first is seen, and one that
     * comes later waits for this one to commit (`appendGuarding`): read committed alone would let
     * both pass when they overlap.
     */
    appendGuarded: prepared(
      'append_guarded',
      `
      INSERT INTO ${s}.events
        (position, stream_id, version, id, type, schema_version, at, data, metadata, idempotency_key)
      SELECT pg_current_xact_id()::text::bigint * ${POSITIONS_PER_TRANSACTION} + e.ord - 1,
             $1::text, $2::bigint + e.ord, e.id, e.type, e.schema_version, e.at, e.data, e.metadata,
             e.idempotency_key
        FROM ${EVENT_RECORDS(3)} AS e (id, type, schema_version, at, data, metadata, idempotency_key, ord)
       WHERE ${s}.guard_version($4::text) = $5::bigint
         AND (SELECT coalesce(max(version), 0) FROM ${s}.events WHERE stream_id = $1::text) = $2::bigint
      RETURNING position::text AS position`,
    ),
    /** An append to a stream others are guarded on: it waits for those in flight (see appendGuarded). */
    appendGuarding: prepared(
      'append_guarding',
      `
      INSERT INTO ${s}.events
        (position, stream_id, version, id, type, schema_version, at, data, metadata, idempotency_key)
      SELECT pg_current_xact_id()::text::bigint * ${POSITIONS_PER_TRANSACTION} + e.ord - 1,
             $1::text, $2::bigint + e.ord, e.id, e.type, e.schema_version, e.at, e.data, e.metadata,
             e.idempotency_key
        FROM ${EVENT_RECORDS(3)} AS e (id, type, schema_version, at, data, metadata, idempotency_key, ord)
       WHERE ${s}.lock_guard($1::text)
         AND (SELECT coalesce(max(version), 0) FROM ${s}.events WHERE stream_id = $1::text) = $2::bigint
      RETURNING position::text AS position`,
    ),
    streamVersion: `SELECT coalesce(max(version), 0)::text AS version FROM ${s}.events WHERE stream_id = $1`,
    takenKey: `SELECT idempotency_key AS key FROM ${s}.events
                WHERE stream_id = $1 AND idempotency_key = ANY ($2::text[]) LIMIT 1`,
    // ORDER BY names the table's column: a bare name would sort by the text-cast output column.
    readStream: prepared(
      'read_stream',
      `SELECT ${EVENT_COLUMNS} FROM ${s}.events e WHERE stream_id = $1 AND version >= $2 AND version <= $3 ORDER BY e.version`,
    ),
    /**
     * Only rows whose transaction is older than the oldest transaction still running: every one of
     * those has ended, so no row can ever appear below them. A transaction that took its id early
     * and commits late holds readers back until it ends instead of being skipped, and because
     * positions sort by transaction id, a reader at position P can only find new rows above P.
     * pg_current_snapshot() is the statement's own snapshot, so the bound and the rows agree.
     */
    readAll: `SELECT ${EVENT_COLUMNS} FROM ${s}.events e
               WHERE position > $1::bigint AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
               ORDER BY e.position LIMIT $2`,
    ...streamRowStatements(s, ''),
  };
}
